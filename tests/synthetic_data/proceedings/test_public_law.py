"""The public law simulation's routes into proceedings, on a small Welsh world and its book.

Newborns come to proceedings at a mother's first proceedings (issued at birth after concerns in
pregnancy) or as later babies of a mother who has lost a child through proceedings; the two
routes must not mix, or the share of newborns who are "subsequent infants" (A4) means nothing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def index_cases(small_extract) -> pd.DataFrame:
    """Public law cases with their index child (the first child listed), its age at issue and
    its mother, in issue order."""
    world, book, _ = small_extract
    cases = book.frame("cases")
    cases = cases[cases["law_type"] == "public"]
    index = book.frame("children").drop_duplicates("case_no")
    frame = cases.merge(index[["case_no", "person"]], on="case_no")
    person = frame["person"].to_numpy(dtype=np.int64)
    frame["age_days"] = frame["issue_day"].to_numpy(dtype=np.int64) - world.dob[person]
    frame["mother"] = world.mother[person]
    frame = frame.sort_values(["issue_day", "case_no"], ignore_index=True)
    frame["earlier_case"] = frame.groupby("mother").cumcount() > 0
    return frame


def test_newborns_at_first_proceedings_have_mothers_new_to_proceedings(small_extract):
    frame = index_cases(small_extract)
    fresh_newborns = frame[~frame["returning"].astype(bool) & (frame["age_days"] < 7)]
    assert len(fresh_newborns) > 20
    assert not fresh_newborns["earlier_case"].any(), \
        fresh_newborns[fresh_newborns["earlier_case"]].head()


def test_babies_of_returning_mothers_come_after_a_loss(small_extract):
    _, book, _ = small_extract
    frame = index_cases(small_extract)
    recurrent = frame[frame["return_reason"] == "recurrent_birth"]
    assert len(recurrent) > 10
    assert recurrent["earlier_case"].all()
    children = book.frame("children").merge(book.frame("cases")[["case_no", "issue_day"]],
                                            on="case_no")
    world = small_extract[0]
    children["mother"] = world.mother[children["person"].to_numpy(dtype=np.int64)]
    lost = children[children["outcome"].isin(["care_order", "placement_order",
                                              "special_guardianship_order",
                                              "sgo_with_supervision_order"])]
    first_loss = lost.groupby("mother")["issue_day"].min()
    born = world.dob[recurrent["person"].to_numpy(dtype=np.int64)]
    assert (first_loss.reindex(recurrent["mother"]).to_numpy() < born).all()
