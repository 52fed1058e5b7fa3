"""A record being captured: the truth read once, fields a source never records left blank."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthetic_data.capture.record import FIELDS, Record, Settings, truth_arrays
from synthetic_data.core.dates import NO_DATE
from synthetic_data.core.errors import InputError

SETTINGS = Settings(baby_forename="Baby", spelling_fields={"forename": 1.0},
                    household_fields={"forename": 1.0}, phonetic_rules=(("ph", "f"),))


def truth_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "forename": ["Ann", None], "surname": ["Lee", "Khan"], "sex": ["F", "M"],
        "dob": [10_000, 12_000], "nhs_number": ["9990000018", None],
        "postcode": ["QA1 1AA", "QB2 2BB"], "minority": [False, True], "deprived": [True, False],
        "age_days_at_record": [400, 30], "previous_postcode": ["QC3 3CC", None],
    })


def test_start_copies_the_truth_and_blanks_what_is_not_recorded() -> None:
    frame = truth_frame()
    record = Record.start(frame, ["nhs_number", "date_of_birth"], SETTINGS)
    assert set(record.values) == set(FIELDS)
    assert record.values["forename"].tolist() == ["Ann", None]
    assert record.values["nhs_number"].tolist() == [None, None]
    assert (record.values["date_of_birth"] == NO_DATE).all()
    assert record.truth["dob"].tolist() == [10_000, 12_000]
    assert (record.truth["household_dob"] == NO_DATE).all()  # context not supplied
    record.values["surname"][0] = "Changed"
    assert frame["surname"].iloc[0] == "Lee"


def test_context_is_none_where_missing_or_not_supplied() -> None:
    record = Record.start(truth_frame(), [], SETTINGS)
    rows = np.array([0, 1])
    assert record.context("previous_postcode", rows).tolist() == ["QC3 3CC", None]
    assert record.context("twin_forename", rows).tolist() == [None, None]


def test_copy_context_reports_only_rows_it_changed() -> None:
    record = Record.start(truth_frame(), [], SETTINGS)
    changed = record.copy_context("postcode", "previous_postcode", np.array([0, 1]))
    assert changed.tolist() == [0]
    assert record.values["postcode"].tolist() == ["QC3 3CC", "QB2 2BB"]


def test_records_have_the_output_fields_and_types() -> None:
    records = Record.start(truth_frame(), [], SETTINGS).records()
    assert list(records.columns) == list(FIELDS)
    assert records["date_of_birth"].dtype == np.int64 and records["forename"].dtype == object


def test_a_missing_truth_column_is_named() -> None:
    with pytest.raises(InputError, match="age_days_at_record"):
        truth_arrays(truth_frame().drop(columns="age_days_at_record"))
