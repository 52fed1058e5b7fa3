"""The data dictionary, generated from ``schema.py`` so it can never disagree with the data."""

from __future__ import annotations

from synthetic_data.core.params import load_params
from synthetic_data.output.schema import TABLES, VIEWS

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

# Columns that hold the codes of a published code list: column name -> (parameter file, key of
# its ``codes``, the publication the meanings are quoted from). The generator draws the codes
# from the same lists, so the dictionary gives the meaning of every code the data can hold, in
# the identifiable table and in its TRE view alike.
_SSDA903 = ("Department for Education's *Children looked after return (SSDA903): guide*, "
            "which lists every code of the collection")
CODE_LISTS = {
    "legal_status": ("cla", "legal_status", _SSDA903),
    "placement_type": ("cla", "placement_type", _SSDA903),
    "reason_ceased": ("cla", "reason_ceased", _SSDA903),
}
# Tables whose columns of those names hold those codes (other tables may reuse a name).
CODED_TABLES = ("cla_episodes", "tre_cla_episodes")


def code_list(column: str) -> tuple[dict[str, str], str]:
    """The codes of a coded column with their meanings, and where the meanings come from."""
    params, key, source = CODE_LISTS[column]
    codes = load_params(params)["codes"][key]
    return {str(code): str(meaning) for code, meaning in codes.items()}, source


def _code_tables(table: object) -> list[str]:
    """Markdown: the code list of each coded column of ``table`` (none for other tables)."""
    if table.name not in CODED_TABLES:
        return []
    lines: list[str] = []
    for column in (c for c in table.columns if c.name in CODE_LISTS):
        codes, source = code_list(column.name)
        lines += [f"Codes of `{column.name}` that the data can hold, with their meanings after the "
                  f"{source}:", "",
                  "| code | meaning |", "|---|---|"]
        lines += [f"| {code} | {meaning.replace('|', '/')} |" for code, meaning in codes.items()]
        lines.append("")
    return lines


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
            lines += _code_tables(t)
    return "\n".join(lines)
