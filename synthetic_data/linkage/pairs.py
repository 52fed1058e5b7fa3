"""A labelled sample of candidate pairs: what a clerical reviewer or a trained model sees.

Pairs come from blocking, as in practice: a health record is a candidate for a Cafcass record
when they share a recorded date of birth, or a surname and year of birth. Most candidates are
not matches; some true matches are not candidates at all (their blocking fields disagree), which
is what blocking costs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SAMPLE_RECORDS = 1500  # Cafcass records sampled per chunk


def labelled_pairs(cafcass: pd.DataFrame, c_persons: np.ndarray, health: pd.DataFrame,
                   h_persons: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    pick = np.sort(rng.choice(len(cafcass), size=min(SAMPLE_RECORDS, len(cafcass)), replace=False))
    left = pd.DataFrame({"cafcass_person_id": cafcass["cafcass_person_id"].to_numpy()[pick],
                         "dob": cafcass["date_of_birth"].to_numpy()[pick],
                         "surname": cafcass["surname"].to_numpy()[pick],
                         "c_person": c_persons[pick]})
    right = pd.DataFrame({"health_patient_id": health["health_patient_id"].to_numpy(),
                          "dob": health["date_of_birth"].to_numpy(),
                          "surname": health["surname"].to_numpy(), "h_person": h_persons})
    for frame in (left, right):
        frame["yob"] = pd.to_datetime(frame["dob"]).dt.year
    on_dob = left.dropna(subset=["dob"]).merge(right.dropna(subset=["dob"]), on="dob",
                                               suffixes=("", "_h"))
    on_name = left.dropna(subset=["surname", "yob"]).merge(
        right.dropna(subset=["surname", "yob"]), on=["surname", "yob"], suffixes=("", "_h"))
    pairs = pd.concat([on_dob[["cafcass_person_id", "health_patient_id", "c_person", "h_person"]],
                       on_name[["cafcass_person_id", "health_patient_id", "c_person", "h_person"]]])
    pairs = pairs.drop_duplicates(["cafcass_person_id", "health_patient_id"])
    pairs = pairs.sort_values(["cafcass_person_id", "health_patient_id"], ignore_index=True)
    return pd.DataFrame({"cafcass_person_id": pairs["cafcass_person_id"].to_numpy(),
                         "health_patient_id": pairs["health_patient_id"].to_numpy(),
                         "is_match": pairs["c_person"].to_numpy() == pairs["h_person"].to_numpy()})
