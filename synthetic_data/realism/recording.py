"""How well ethnicity is recorded, against the recording rates (A5).

Ethnicity is mostly missing on records first seen before routine collection began: the gap a
learner must handle before any analysis by ethnic group, so the data must show it as recorded.
"""

from __future__ import annotations

from synthetic_data.core.params import load_params
from synthetic_data.realism.frames import Dataset, require, row, share

RECORDING = "ethnicity recording"


def ethnicity_recording(ds: Dataset) -> list[dict]:
    """Missing ethnicity on child records, before and after routine collection began (A5)."""
    rec = load_params("recording")["ethnicity"]
    people = require(ds.table("cafcass_people"), "cafcass_people")
    kids = people[people["person_type"] == "child"]
    before = kids["first_case_received_date"].dt.year < rec["change_year"]
    missing = kids["ethnicity"].isna()
    figure = "Child records with ethnicity missing, first seen"
    return [
        row("ethnicity_missing", f"{figure} before {rec['change_year']}", "A5",
            RECORDING, rec["missing_before_2017"], share(missing[before]),
            x=f"before {rec['change_year']}", note="params/recording.yaml ethnicity"),
        row("ethnicity_missing", f"{figure} from {rec['change_year']}", "A5",
            RECORDING, rec["missing_from_2017"], share(missing[~before]),
            x=f"from {rec['change_year']}", note="params/recording.yaml ethnicity"),
    ]
