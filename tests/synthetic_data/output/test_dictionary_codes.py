"""The data dictionary gives the meaning of every SSDA903 code the looked-after episodes can hold,
and says that the answer key's comparison sample is the graders', not the learners'."""

from __future__ import annotations

import re

import pytest

from synthetic_data.core.params import load_params
from synthetic_data.output.dictionary import CODE_LISTS, CODED_TABLES, code_list, render_dictionary
from synthetic_data.output.schema import TABLES


def _section(text: str, table: str) -> str:
    parts = re.split(r"^### ", text, flags=re.MULTILINE)[1:]
    return next(part for part in parts if part.split("\n", 1)[0].strip() == table)


@pytest.fixture(scope="module")
def dictionary() -> str:
    return render_dictionary()


@pytest.mark.parametrize("table", CODED_TABLES)
@pytest.mark.parametrize("column", sorted(CODE_LISTS))
def test_every_code_has_its_meaning(dictionary: str, table: str, column: str) -> None:
    codes, source = code_list(column)
    assert codes and "SSDA903" in source
    section = _section(dictionary, table)
    assert f"Codes of `{column}`" in section
    for code, meaning in codes.items():
        assert f"| {code} | {meaning} |" in section, (table, column, code)


def test_reason_ceased_meanings_are_the_generators_codes() -> None:
    """The generator draws reason_ceased from the same list, so every code it can write is
    explained (tests/synthetic_data/test_cla.py checks the data against this list)."""
    codes, _ = code_list("reason_ceased")
    assert codes == {str(k): str(v) for k, v in load_params("cla")["codes"]["reason_ceased"].items()}
    assert codes["E11"].startswith("Adopted") and codes["X1"].startswith("Episode ceases")
    assert {"E11", "E12", "E13", "E41", "E43", "E44", "E8", "X1"} <= set(codes)


def test_code_tables_do_not_read_as_columns(dictionary: str) -> None:
    """A section's column rows are the table's columns only (the code rows are not in
    backquotes), so tools that read the dictionary's columns still find exactly them."""
    for spec in (t for t in TABLES if t.name in CODED_TABLES):
        documented = re.findall(r"^\| `([^`]+)` \|", _section(dictionary, spec.name),
                                flags=re.MULTILINE)
        assert documented == spec.column_names


def test_comparison_sample_is_described_as_the_graders(dictionary: str) -> None:
    row = next(line for line in _section(dictionary, "cohort_truth").splitlines()
               if line.startswith("| `comparison_sample` |"))
    assert "graders" in row
    assert "TRE view" in row  # where learners find the comparison group instead
