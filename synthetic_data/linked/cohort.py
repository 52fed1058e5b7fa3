"""Who the linked sources cover, and the groups the published associations are about.

A project extract covers the people in family justice records and a comparison sample of the
population (``params/linkage.yaml``). Group labels are the truth the generator uses to set each
group's health; analysts rebuild the same groups from the records.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from synthetic_data.core.dates import DAYS_PER_YEAR, NO_DATE
from synthetic_data.proceedings.casebook import CaseBook
from synthetic_data.world.people import ETHNIC_GROUPS, ROLE_CHILD, ROLE_MOTHER, World

ADULT_GROUPS = ("pl_infant_mother", "pl_parent", "prl_adult", "comparison_mother",
                "comparison_adult")
CHILD_GROUPS = ("child_in_proceedings", "child_comparison")


@dataclass
class Cohort:
    """People of the project extract (world positions, sorted) with their group labels."""

    persons: np.ndarray
    group: np.ndarray  # one of ADULT_GROUPS or CHILD_GROUPS
    in_cases: np.ndarray  # bool: party to any case
    comparison: np.ndarray  # bool: drawn into the comparison sample (some are in cases too)
    pl_infant: np.ndarray  # bool: a child under 1 at the issue of a public law case
    in_index: np.ndarray  # bool: held by the population index (registered with a GP in its area)
    first_case_day: np.ndarray  # issue day of the person's first case; NO_DATE if none

    def restricted(self, keep: np.ndarray) -> Cohort:
        """The same cohort without some people (those the index does not hold, say)."""
        return Cohort(persons=self.persons[keep], group=self.group[keep],
                      in_cases=self.in_cases[keep], comparison=self.comparison[keep],
                      pl_infant=self.pl_infant[keep], in_index=self.in_index[keep],
                      first_case_day=self.first_case_day[keep])

    def members(self, *groups: str) -> np.ndarray:
        return np.isin(self.group, groups)


def draw_comparison_sample(world: World, params: dict, rng: np.random.Generator) -> np.ndarray:
    """The extract's random sample of the population (world positions, sorted).

    Drawn before any record is written, so that the sample's people, whose identifiers learners
    see in the linked sources, are given NHS numbers from the official test range.
    """
    return np.flatnonzero(rng.random(world.size) < params["cohort"]["comparison_share"])


def build_cohort(world: World, book: CaseBook, params: dict, sample: np.ndarray,
                 rng: np.random.Generator) -> Cohort:
    """The extract: everyone in the case records plus the comparison ``sample`` of the world."""
    cases = book.frame("cases")
    children = book.frame("children")
    adults = book.frame("adults")
    law = pd.Series(cases["law_type"].to_numpy(), index=cases["case_no"].to_numpy())
    issue = pd.Series(cases["issue_day"].to_numpy(dtype=np.int64), index=cases["case_no"].to_numpy())

    child_person = children["person"].to_numpy(dtype=np.int64)
    child_public = law.reindex(children["case_no"]).to_numpy() == "public"
    child_age = issue.reindex(children["case_no"]).to_numpy() - world.dob[child_person]
    infant_cases = np.unique(children["case_no"].to_numpy()[child_public & (child_age < 365)])
    pl_infant_children = np.unique(child_person[child_public & (child_age < 365)])

    adult_person = adults["person"].to_numpy(dtype=np.int64)
    adult_public = law.reindex(adults["case_no"]).to_numpy() == "public"
    relationship = adults["relationship"].to_numpy()
    parent = np.isin(relationship, ("mother", "father"))
    pl_parents = np.unique(adult_person[adult_public & parent])
    pl_infant_mothers = np.unique(adult_person[
        adult_public & (relationship == "mother") & np.isin(adults["case_no"], infant_cases)])

    in_cases = np.unique(np.concatenate([child_person, adult_person]))
    persons = np.union1d(in_cases, sample)

    is_child = world.role[persons] == ROLE_CHILD
    party = np.isin(persons, in_cases)
    gave_birth = mothers_with_births(world)
    group = np.where(
        is_child,
        np.where(party, "child_in_proceedings", "child_comparison"),
        np.where(np.isin(persons, pl_infant_mothers), "pl_infant_mother",
        np.where(np.isin(persons, pl_parents), "pl_parent",
        np.where(party, "prl_adult",
        np.where(np.isin(persons, gave_birth), "comparison_mother", "comparison_adult")))))
    absent = party & ~is_child & (rng.random(persons.size) < _absence_chance(
        world, persons, party & ~is_child, params["index"]))
    party_person = np.concatenate([child_person, adult_person])
    party_issue = issue.reindex(np.concatenate([children["case_no"], adults["case_no"]])
                                ).to_numpy(dtype=np.int64)
    first_issue = pd.Series(party_issue).groupby(party_person).min()
    first_case_day = first_issue.reindex(persons).fillna(NO_DATE).to_numpy(dtype=np.int64)
    return Cohort(persons=persons, group=group.astype(object), in_cases=party,
                  comparison=np.isin(persons, sample), pl_infant=np.isin(persons, pl_infant_children),
                  in_index=~absent, first_case_day=first_case_day)


def _absence_chance(world: World, persons: np.ndarray, eligible: np.ndarray,
                    index: dict) -> np.ndarray:
    """Each person's chance of being absent from the population index: the configured share
    overall, higher for ethnic-minority people and those living in the most deprived quintile."""
    multipliers = index["absent_multipliers"]
    factor = np.ones(persons.size)
    factor[world.ethnicity[persons] != ETHNIC_GROUPS.index("White")] *= multipliers["minority"]
    quintile = world.quintile_at(persons, np.full(persons.size, world.end_day, dtype=np.int64))
    factor[quintile == 1] *= multipliers["deprived"]
    mean = factor[eligible].mean() if eligible.any() else 1.0
    return np.clip(index["absent_share_adults_in_proceedings"] * factor / mean, 0.0, 1.0)


def mothers_with_births(world: World) -> np.ndarray:
    """Mothers who gave birth within the data period."""
    kids = np.flatnonzero((world.role == ROLE_CHILD) & (world.dob >= world.start_day)
                          & (world.dob <= world.end_day))
    mothers = np.unique(world.mother[kids])
    return mothers[world.role[mothers] == ROLE_MOTHER]


def adult_window(world: World, persons: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Days within the data period when each person was alive and aged 16 or over."""
    start = np.maximum(world.start_day, world.dob[persons] + int(16 * DAYS_PER_YEAR))
    return start, _end_of_life(world, persons)


def child_window(world: World, persons: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Days within the data period when each person was alive and under 18."""
    start = np.maximum(world.start_day, world.dob[persons])
    end = np.minimum(_end_of_life(world, persons), world.dob[persons] + int(18 * DAYS_PER_YEAR))
    return start, end


def _end_of_life(world: World, persons: np.ndarray) -> np.ndarray:
    dod = world.dod[persons]
    return np.where(dod == NO_DATE, world.end_day, np.minimum(dod, world.end_day))
