"""Who is in private law proceedings, against A6 and A9: applicants and respondents by sex and
deprivation, and the domestic abuse alleged between them.

Who applies against whom comes out of the families the simulation picks and the roles it gives
them, so it is counted from the case parties and the recorded sex, as an analyst would.
Deprivation is read from the answer key's address history on the day the case was received.
"""

from __future__ import annotations

import pandas as pd

from synthetic_data.core.params import load_params
from synthetic_data.realism.frames import (
    Dataset,
    cases,
    person_ids,
    quintile_of,
    require,
    row,
    share,
)
from synthetic_data.realism.targets import published

PARTIES = "private law parties"
DOMESTIC_ABUSE = "domestic abuse"


def private_parties(ds: Dataset) -> pd.DataFrame:
    """One row per private law case: applicant and respondent with their recorded sex."""
    def build() -> pd.DataFrame:
        parties = require(ds.table("cafcass_case_parties"), "cafcass_case_parties")
        people = require(ds.table("cafcass_people"), "cafcass_people")
        sex = people.set_index("cafcass_person_id")["sex"]
        frame = cases(ds)
        frame = frame.loc[frame["law_type"] == "private",
                          ["case_id", "received_date", "fy", "country"]]
        for role in ("applicant", "respondent"):
            these = parties.loc[parties["party_role"] == role,
                                ["case_id", "cafcass_person_id", "relationship"]]
            these = these.drop_duplicates("case_id")
            these = these.rename(columns={"cafcass_person_id": role,
                                          "relationship": f"{role}_relationship"})
            frame = frame.merge(these, on="case_id", how="left", validate="1:1")
            frame[f"{role}_sex"] = frame[role].map(sex)
        return frame
    return ds.cached("_private_parties", build)


def party_shares(ds: Dataset) -> list[dict]:
    """Who applies against whom in private law (A6)."""
    frame = private_parties(ds)
    parents = ["mother", "father"]
    between = load_params("private_law")["parties"]["between_parents"]
    male, female = published("applicant_male"), published("respondent_female")
    return [
        row("applicant_male", "Private law cases with a man as applicant", male["bullet"],
            PARTIES, male["value"], share(frame["applicant_sex"] == "M"),
            note=male["source"] + "; recorded sex of the applicant"),
        row("respondent_female", "Private law cases with a woman as respondent",
            female["bullet"], PARTIES, female["value"],
            share(frame["respondent_sex"] == "F"),
            note=female["source"] + "; recorded sex of the respondent"),
        row("between_parents", "Private law cases between the two parents", "A6",
            PARTIES, between,
            share(frame["applicant_relationship"].isin(parents)
                  & frame["respondent_relationship"].isin(parents)),
            note="params/private_law.yaml parties.between_parents"),
    ]


def applicant_deprivation(ds: Dataset) -> list[dict]:
    """Applicants' deprivation quintile at the case's receipt (A6, England only: Welsh quintiles
    are a different index and cannot be pooled with England's).

    The quintile comes from the applicant's address history in the answer key on the day the
    case was received, not from the postcode in cafcass_people: that postcode is the one at the
    person's first case, and a returning applicant may have moved since. (On the classroom data
    the two ways agree to within a percentage point.)"""
    pub = published("applicant_deprivation")
    if "England" not in ds.countries:
        return []
    frame = private_parties(ds)
    frame = frame[frame["country"] == "England"]
    quintile = quintile_of(ds, frame["applicant"].map(person_ids(ds)), frame["received_date"])
    known = quintile.dropna()
    names = {1: "most deprived quintile", 5: "least deprived quintile"}
    return [row(f"applicant_quintile_{q}", f"Private law applicants living in the {names[q]}, "
                "England", pub["bullet"], PARTIES, target,
                share(known == q), x=names[q],
                note=pub["source"] + "; the applicant's address on the day the case was "
                     "received (answer key residences via the person key), all years")
            for q, target in pub["value"].items()]


def domestic_abuse(ds: Dataset) -> list[dict]:
    """Allegations at safeguarding checks and who the alleged victim is (A9), as recorded."""
    da = load_params("private_law")["domestic_abuse"]
    frame = cases(ds)
    frame = frame[frame["law_type"] == "private"]
    alleged = frame["domestic_abuse_alleged"].astype("boolean").fillna(False).astype(bool)
    victims = frame.loc[alleged, "alleged_victim"]
    return [
        row("abuse_alleged", "Private law cases with domestic abuse alleged", "A9",
            DOMESTIC_ABUSE, da["allegation_share"], share(alleged),
            note="params/private_law.yaml domestic_abuse.allegation_share"),
        row("abuse_mother_victim", "Mother the alleged victim, where abuse is alleged", "A9",
            DOMESTIC_ABUSE, da["mother_alleged_victim"], share(victims == "mother"),
            note="params/private_law.yaml domestic_abuse.mother_alleged_victim"),
    ]
