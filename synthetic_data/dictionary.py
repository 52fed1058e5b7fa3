"""The data dictionary, generated from ``schema.py`` so it can never disagree with the data."""

from __future__ import annotations

from synthetic_data.schema import TABLES, VIEWS

_VIEW_TEXT = {
    "identifiable": "What a data provider holds: records with (fake) names and identifiers. The "
                    "record linkage modules work here.",
    "tre": "What an analyst in a trusted research environment receives: the providers' content "
           "with names, NHS numbers and postcodes removed, week of birth for date of birth, "
           "small area for postcode, ids encrypted for the project, and the trusted third "
           "party's ALF, match status and score beside every person record. Also in "
           "tre/tre.duckdb, a schema per source (cafcass, familyman, health, education, cla, "
           "deaths, reference).",
    "reference": "Public statistics and geography: authorities, DFJ areas, small areas and "
                 "population denominators.",
    "answer_key": "The truth behind the records, for graders only: never given to learners.",
}


def render_dictionary() -> str:
    """Markdown: one section per table, a row per column with type, meaning and real field."""
    lines = [
        "# Data dictionary",
        "",
        "Every table the generator writes, by folder. All records are entirely fake. "
        "'Real field' names the Cafcass, Data First or ONS field a column stands in for, where "
        "one is known.",
        "",
    ]
    for view in VIEWS:
        lines += [f"## `{view}/`", "", _VIEW_TEXT[view], ""]
        for t in (t for t in TABLES if t.view == view):
            lines += [f"### {t.name}", "", t.description, "", f"One row is {t.unit}.", "",
                      "| column | type | meaning | real field |", "|---|---|---|---|"]
            for c in t.columns:
                kind = c.dtype + (" (may be empty)" if c.nullable else "")
                meaning = c.description.replace("|", "/")
                lines.append(f"| `{c.name}` | {kind} | {meaning} | {c.real_field} |")
            lines.append("")
    return "\n".join(lines)
