"""Public law: which families come to care proceedings, when, with which children, and how the
proceedings end.

Each financial year the published number of s31 applications is shared among authorities by
their children and a deprivation-linked rate, then filled with families chosen by risk (a young
mother, a deprived area, earlier proceedings). Newborns come by two routes: at a mother's first
proceedings, issued at birth after concerns in pregnancy (a pre-birth assessment), and through
recurrence. Recurrence is not a rate pasted on: a mother who has lost a child through
proceedings carries a risk, set by her age at that loss, that each later baby comes to
proceedings too, and children leaving proceedings on some orders may come back. Parameters:
``params/public_law.yaml``.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from synthetic_data.core.dates import DAYS_PER_YEAR, NO_DATE, day, financial_year, fy_start
from synthetic_data.core.params import interpolate_by_year, interpolate_vectors_by_year
from synthetic_data.core.sampling import stochastic_round, systematic_round, weighted_pick_per_group
from synthetic_data.proceedings.casebook import (
    CaseBook,
    assign_by_quota,
    draw_durations_days,
    hearing_schedule,
)
from synthetic_data.world.people import ETHNIC_GROUPS, ROLE_CHILD, World

NEVER = 10**9  # "no such day yet" for running minima
AGE_GROUPS = ("newborn", "infant", "1-4", "5-9", "10-14", "15-17")
_AGE_UPPER = np.array([0, 0, 4, 9, 14, 17])  # upper age (years) of each group


def annual_volumes(params: dict, fys: range, countries: list[str]) -> dict[tuple[str, int], float]:
    """Applications per (country, FY) at national scale: England's series and Wales's index."""
    vol = params["volumes"]
    england = interpolate_by_year({int(k): v for k, v in vol["england_by_fy"].items()}, fys)
    anchor = interpolate_by_year({int(k): v for k, v in vol["england_by_fy"].items()},
                                 [int(vol["wales_anchor_fy"])])[int(vol["wales_anchor_fy"])]
    out = {}
    for fy in fys:
        if "England" in countries:
            out[("England", fy)] = england[fy]
        if "Wales" in countries:
            out[("Wales", fy)] = vol["wales_anchor_applications"] * england[fy] / anchor
    return out


def la_rate_multiplier(world: World, params: dict, rng: np.random.Generator) -> np.ndarray:
    """Each authority's fixed propensity to bring care proceedings, relative to the average."""
    v = params["local_authority_variation"]
    dep = world.las["pct_most_deprived_quintile"].to_numpy(dtype=float)
    z = (dep - dep.mean()) / (dep.std() or 1.0)
    return np.exp(v["deprivation_slope"] * z + v["sd_random"] * rng.standard_normal(dep.size))


class PublicLawSimulation:
    """State carried from one financial year to the next, and the yearly step."""

    def __init__(self, world: World, params: dict, book: CaseBook, scale: float,
                 rng: np.random.Generator) -> None:
        self.world, self.p, self.book, self.scale, self.rng = world, params, book, scale, rng
        n = world.size
        self.busy_until = np.full(n, NO_DATE, dtype=np.int64)
        self.in_care = np.zeros(n, dtype=bool)
        self.mother_removal_day = np.full(n, NEVER, dtype=np.int64)
        self.mother_cases = np.zeros(n, dtype=np.int64)
        self.scheduled: dict[int, list[tuple[np.ndarray, np.ndarray, str]]] = defaultdict(list)
        self.la_multiplier = la_rate_multiplier(world, params, rng)
        self.children = np.flatnonzero(world.role == ROLE_CHILD)
        order = np.argsort(world.mother[self.children], kind="stable")
        self.children_by_mother = self.children[order]
        self.child_mother_sorted = world.mother[self.children_by_mother]
        self.removal = set(params["recurrence"]["removal_outcomes"])
        self.categories = list(params["outcomes"]["categories"])

    # ---- the yearly step -------------------------------------------------------------------
    def run(self, fys: range) -> None:
        countries = sorted(set(self.world.las["country"]))
        volumes = annual_volumes(self.p, fys, countries)
        for fy in fys:
            self._schedule_recurrent_births(fy)
            self._year(fy, {c: volumes[(c, fy)] * self.scale for c in countries})

    def _year(self, fy: int, expected: dict[str, float]) -> None:
        w, rng = self.world, self.rng
        start, end = fy_start(fy), fy_start(fy + 1) - 1
        if start > w.end_day:
            return
        end = min(end, w.end_day)
        wanted: dict[str, int] = {}
        for country, exp in expected.items():
            # Cases already due this year (recurrent births, children returning).
            n_due = self._open_due(fy, country, start)
            wanted[country] = int(stochastic_round(np.array([max(exp - n_due, 0.0)]), rng)[0])
        if sum(wanted.values()) > 0:
            self._fresh_cases(fy, start, end, wanted)
        # Children whose proceedings this year ended soon enough come back within the year:
        # their returns were scheduled into it after its due cases had been opened.
        while any((fy, country) in self.scheduled for country in expected):
            for country in expected:
                self._open_due(fy, country, start)

    def _open_due(self, fy: int, country: str, start: int) -> int:
        """Open the cases scheduled into the year and country; how many were due."""
        w = self.world
        due = self.scheduled.pop((fy, country), [])
        for persons, days, reason in due:
            alive = w.alive_on(persons, days) & (days <= w.end_day)
            free = ~self.in_care[persons] & (self.busy_until[persons] < days)
            ok = alive & free & (days >= start)
            if ok.any():
                self._open_cases([persons[ok][i:i + 1] for i in range(int(ok.sum()))],
                                 days[ok], fy, reason)
        return sum(int(x[0].size) for x in due)

    def _schedule_recurrent_births(self, fy: int) -> None:
        """Babies born this year to mothers who have lost a child through proceedings."""
        w, rng, rec = self.world, self.rng, self.p["recurrence"]
        start, end = fy_start(fy), fy_start(fy + 1) - 1
        kids = self.children[(w.dob[self.children] >= start) & (w.dob[self.children] <= end)]
        mum = w.mother[kids]
        lost = self.mother_removal_day[mum]
        eligible = lost < w.dob[kids]
        kids, mum = kids[eligible], mum[eligible]
        age = (self.mother_removal_day[mum] - w.dob[mum]) / DAYS_PER_YEAR
        probs = rec["subsequent_birth_probability_by_mother_age"]
        p = np.select([age < 20, age < 25, age < 30],
                      [probs["under_20"], probs["age_20_24"], probs["age_25_29"]], probs["age_30_plus"])
        chosen = rng.random(kids.size) < p
        kids = kids[chosen]
        newborn = rng.random(kids.size) < rec["issued_as_newborn"]
        lo, hi = rec["later_within_days"]
        delay = np.where(newborn, (rng.random(kids.size) * 7).astype(np.int64),
                         lo + (rng.random(kids.size) * (hi - lo)).astype(np.int64))
        days = w.dob[kids] + delay
        self._schedule(kids, days, "recurrent_birth")

    def _schedule(self, persons: np.ndarray, days: np.ndarray, reason: str) -> None:
        if persons.size == 0:
            return
        fy = financial_year(days)
        country = self.world.las["country"].to_numpy()[
            self.world.la_at(persons, days).clip(min=0)]
        for key in sorted(set(zip(fy.tolist(), country.tolist(), strict=True))):
            sel = (fy == key[0]) & (country == key[1])
            self.scheduled[key].append((persons[sel], days[sel], reason))

    def _fresh_cases(self, fy: int, start: int, end: int, wanted: dict[str, int]) -> None:
        w, rng, p = self.world, self.rng, self.p
        n_la = len(w.las)
        kids = self.children
        # Only children who can be 0-17 at some point in the year are worth a look.
        kids = kids[(w.dob[kids] <= end) & (w.dob[kids] > start - int(18 * DAYS_PER_YEAR))]
        # Every child gets a candidate application day in the year; age at that day sets its group.
        cand_day = start + (rng.random(kids.size) * (end - start + 1)).astype(np.int64)
        born_this_year = (w.dob[kids] >= start) & (w.dob[kids] <= end)
        newborn_day = w.dob[kids] + (rng.random(kids.size) * (p["age_at_application"][
            "newborn_max_age_days"] + 1)).astype(np.int64)
        age_days = cand_day - w.dob[kids]
        age = np.floor(age_days / DAYS_PER_YEAR).astype(np.int64)
        group = np.searchsorted(_AGE_UPPER[1:], age, side="left") + 1  # 1..5 by age
        group[(age == 0) & (age_days < 7)] = -1  # a newborn is drawn from the newborn pool
        ok = (age_days >= 0) & (age <= 17) & (group >= 1)
        day_of = np.where(ok, cand_day, newborn_day)
        # Newborn pool: proceedings issued at birth after concerns in pregnancy (a pre-birth
        # assessment), for babies born this year to mothers with no earlier proceedings. A mother
        # who has been in proceedings comes back with a later baby through recurrence instead.
        nb = born_this_year & (newborn_day <= end) & (self.mother_cases[w.mother[kids]] == 0)
        cand = np.concatenate([np.flatnonzero(ok), np.flatnonzero(nb)])
        cand_group = np.concatenate([group[ok], np.zeros(int(nb.sum()), dtype=np.int64)])
        cand_day_all = np.concatenate([cand_day[ok], newborn_day[nb]])
        persons = kids[cand]
        del day_of
        alive = w.alive_on(persons, cand_day_all)
        free = ~self.in_care[persons] & (self.busy_until[persons] < cand_day_all)
        la = w.la_at(persons, cand_day_all)
        keep = alive & free & (la >= 0)
        persons, cand_group, cand_day_all, la = (
            persons[keep], cand_group[keep], cand_day_all[keep], la[keep])
        # How many cases each authority and age group gets this year; the share of fresh infant
        # cases issued at birth differs between England and Wales (A4).
        la_children = np.bincount(la, minlength=n_la).astype(float)
        la_weight = la_children * self.la_multiplier
        la_country = w.las["country"].to_numpy()
        la_wanted = np.zeros(n_la)
        expected = np.zeros((n_la, len(AGE_GROUPS)))
        for country, n_wanted in wanted.items():
            members = la_country == country
            total = la_weight[members].sum()
            if total > 0:
                la_wanted[members] = la_weight[members] / total * n_wanted
            expected[members] = la_wanted[members, None] * self._group_shares(country, fy)[None, :]
        # Each age group's total is kept (systematic rounding down the authorities), so yearly
        # shares such as the newborn share do not wander at classroom scale.
        counts = np.stack([systematic_round(expected[:, g], rng)
                           for g in range(expected.shape[1])], axis=1).ravel()
        weight = self._risk(persons, cand_day_all, cand_group)
        pick = weighted_pick_per_group(la * len(AGE_GROUPS) + cand_group, weight, counts, rng)
        index_children, index_days = persons[pick], cand_day_all[pick]
        # One case per family a year: drop later picks of the same mother.
        order = np.argsort(index_days, kind="stable")
        index_children, index_days = index_children[order], index_days[order]
        _, first = np.unique(w.mother[index_children], return_index=True)
        first = np.sort(first)
        index_children, index_days = index_children[first], index_days[first]
        groups = self._add_siblings(index_children, index_days)
        self._open_cases(groups, index_days, fy, "fresh")

    def _group_shares(self, country: str, fy: int) -> np.ndarray:
        """Shares of a year's fresh cases by age group of the index child, newborns first."""
        age = self.p["age_at_application"]
        share_nb = interpolate_by_year(
            {int(k): v for k, v in age["newborn_share_of_fresh_infants"][country].items()},
            [fy])[fy]
        idx_shares = np.array(age["index_shares"], dtype=float)
        return np.r_[idx_shares[0] * share_nb, idx_shares[0] * (1 - share_nb), idx_shares[1:]]

    def _risk(self, persons: np.ndarray, days: np.ndarray, group: np.ndarray) -> np.ndarray:
        w, r = self.world, self.p["risk"]
        mum = w.mother[persons]
        q = w.quintile_at(persons, days)
        weight = np.array([r["deprivation_quintile"][k] for k in range(1, 6)])[q - 1]
        weight = weight * np.where(w.mother_teen_first_birth[mum], r["mother_teen_at_first_birth"], 1)
        mum_age = (days - w.dob[mum]) / DAYS_PER_YEAR
        a = r["mother_age_at_application"]
        weight = weight * np.select([mum_age < 20, mum_age < 25, mum_age < 30],
                                    [a["under_20"], a["age_20_24"], a["age_25_29"]], a["age_30_plus"])
        weight = weight * np.where(self.mother_cases[mum] > 0, r["mother_with_earlier_case"], 1.0)
        infants = np.array([r["ethnicity_infants"][g] for g in ETHNIC_GROUPS])
        older = np.array([r["ethnicity_older"][g] for g in ETHNIC_GROUPS])
        eth = w.ethnicity[persons]
        return weight * np.where(group <= 1, infants[eth], older[eth])

    def _add_siblings(self, index_children: np.ndarray, days: np.ndarray) -> list[np.ndarray]:
        """The index child plus some of its brothers and sisters living at home."""
        w, rng, cp = self.world, self.rng, self.p["children_per_case"]
        want = np.minimum(rng.poisson(cp["poisson_lambda"], index_children.size),
                          cp["max_children"] - 1)
        mum = w.mother[index_children]
        lo = np.searchsorted(self.child_mother_sorted, mum, side="left")
        hi = np.searchsorted(self.child_mother_sorted, mum, side="right")
        case = np.repeat(np.arange(index_children.size), hi - lo)
        sib = self.children_by_mother[
            np.concatenate([np.arange(a, b) for a, b in zip(lo, hi, strict=True)])
            if case.size else np.empty(0, np.int64)]
        d = days[case]
        ok = (sib != index_children[case]) & w.alive_on(sib, d) & ~self.in_care[sib] \
            & (self.busy_until[sib] < d) & ((d - w.dob[sib]) / DAYS_PER_YEAR < 18)
        case, sib = case[ok], sib[ok]
        key = rng.random(case.size)
        order = np.lexsort((key, case))
        case, sib = case[order], sib[order]
        rank = np.arange(case.size) - np.searchsorted(case, case, side="left")
        take = rank < want[case]
        case, sib = case[take], sib[take]
        groups = [index_children[i:i + 1] for i in range(index_children.size)]
        bounds = np.searchsorted(case, np.arange(index_children.size + 1))
        return [np.concatenate([groups[i], sib[bounds[i]:bounds[i + 1]]])
                for i in range(index_children.size)]

    # ---- what happens in a case ------------------------------------------------------------
    def _open_cases(self, groups: list[np.ndarray], issue_day: np.ndarray, fy: int,
                    reason: str) -> None:
        w, rng, p, book = self.world, self.rng, self.p, self.book
        n = len(groups)
        if n == 0:
            return
        case_no = book.new_case_numbers(n)
        sizes = np.array([g.size for g in groups])
        child = np.concatenate(groups)
        child_case = np.repeat(np.arange(n), sizes)
        index_child = np.array([g[0] for g in groups])
        la = w.la_at(index_child, issue_day)
        country = w.las["country"].to_numpy()[la]
        # Duration: the year's mean, longer for Black and Asian children's cases (A8).
        dur = p["durations"]
        mean_weeks = interpolate_by_year({int(k): v for k, v in dur["mean_weeks_by_fy"].items()},
                                         [fy])[fy]
        eth = np.array(ETHNIC_GROUPS, dtype=object)[w.ethnicity[index_child]]
        extra = np.where(np.isin(eth, ["Black", "Asian"]), dur["extra_weeks_black_asian"], 0)
        final_day = issue_day + draw_durations_days(mean_weeks, extra, dur["sdlog"], rng)
        open_at_end = final_day > w.end_day

        # Outcomes per child, in exactly the year's shares (A7), steered by age and ethnicity.
        shares = np.array(interpolate_vectors_by_year(
            {int(k): v for k, v in p["outcomes"]["shares_by_fy"].items()}, [fy])[fy])
        o = p["outcomes"]
        age_at = (issue_day[child_case] - w.dob[child]) / DAYS_PER_YEAR
        placement_w = np.select(
            [age_at < 7 / 365.25, age_at < 5, age_at >= 10],
            [o["placement_weight_newborn"], o["placement_weight_under_5"],
             o["placement_weight_over_9"]], 1.0)
        no_order_w = np.array([o["no_order_weight_by_ethnicity"][g] for g in ETHNIC_GROUPS])[
            w.ethnicity[child]]
        cats = self.categories
        outcome = assign_by_quota(
            shares, {cats.index("placement_order"): placement_w,
                     cats.index("no_order"): no_order_w}, child.size, rng)
        outcome_name = np.array(cats, dtype=object)[outcome]
        child_final = final_day[child_case]
        outcome_name = np.where(open_at_end[child_case], "open", outcome_name)
        # A case whose every child's application is withdrawn ends as withdrawn; that is a
        # property of each child here, as Cafcass records outcomes per child.

        # Applications: the s31 application, an EPO where one was sought, placement applications.
        epo_share = np.where(
            (issue_day - w.dob[index_child]) < 7,
            p["emergency_protection"]["share_of_newborn_cases"],
            p["emergency_protection"]["share_of_cases"])
        epo = rng.random(n) < epo_share
        book.add("cases",
                 case_no=case_no, law_type=np.full(n, "public", object),
                 country=country.astype(object), la_index=la, issue_day=issue_day,
                 final_day=np.where(open_at_end, NO_DATE, final_day),
                 primary_application=np.full(n, "care_or_supervision_s31", object),
                 returning=np.array([reason != "fresh"] * n),
                 prior_cases=self._prior_cases(index_child),
                 da_alleged=np.full(n, None, object), da_victim=np.full(n, None, object),
                 return_reason=np.full(n, None if reason == "fresh" else reason, object))
        book.add("children", case_no=case_no[child_case], person=child, outcome=outcome_name,
                 outcome_day=np.where(open_at_end[child_case], NO_DATE, child_final))
        self._parties(case_no, child, child_case, issue_day)
        apps_case = [case_no, case_no[epo]]
        apps_type = [np.full(n, "care_or_supervision_s31", object),
                     np.full(int(epo.sum()), "emergency_protection_s44", object)]
        apps_day = [issue_day, issue_day[epo]]
        placed = np.flatnonzero(outcome_name == "placement_order")
        pcase = np.unique(child_case[placed])
        apps_case.append(case_no[pcase])
        apps_type.append(np.full(pcase.size, "placement_s21_acta2002", object))
        lead = self.p["placement_application"]
        apps_day.append(np.maximum(issue_day[pcase], final_day[pcase] - lead["min_days_before_final"]
                                   - (rng.random(pcase.size) * lead["spread_days"]).astype(int)))
        book.add("applications", case_no=np.concatenate(apps_case),
                 application_type=np.concatenate(apps_type), day=np.concatenate(apps_day))
        book.add("hearings", **hearing_schedule(case_no, issue_day, final_day, w.end_day,
                                                p["hearings"], rng))
        self._orders(case_no, child, child_case, outcome_name, issue_day, final_day, epo)

        # State for later years.
        self.busy_until[child] = np.maximum(self.busy_until[child], child_final)
        in_care = np.isin(outcome_name, ["care_order", "placement_order"])
        self.in_care[child[in_care]] = True
        removed = np.isin(outcome_name, list(self.removal))
        np.minimum.at(self.mother_removal_day, w.mother[child[removed]],
                      issue_day[child_case[removed]])
        np.add.at(self.mother_cases, w.mother[index_child], 1)
        self._schedule_child_returns(child, outcome_name, child_final)

    def _prior_cases(self, index_child: np.ndarray) -> np.ndarray:
        """Earlier public law cases of the index child's mother within the period."""
        return self.mother_cases[self.world.mother[index_child]].copy()

    def _parties(self, case_no: np.ndarray, child: np.ndarray, child_case: np.ndarray,
                 issue_day: np.ndarray) -> None:
        """Birth parents alive at the issue are respondents; the authority is the applicant (not
        a person)."""
        w = self.world
        day = issue_day[child_case]
        mum, dad = w.mother[child], w.father[child]
        has_mum = w.alive_on(mum, day)
        has_dad = (dad >= 0) & w.alive_on(dad.clip(min=0), day)
        adult = np.concatenate([mum[has_mum], dad[has_dad]])
        rel = np.concatenate([np.full(int(has_mum.sum()), "mother", object),
                              np.full(int(has_dad.sum()), "father", object)])
        kid = np.concatenate([child[has_mum], child[has_dad]])
        cno = np.concatenate([case_no[child_case][has_mum], case_no[child_case][has_dad]])
        self.book.add("relationships", case_no=cno, adult=adult, child=kid, relationship=rel)
        pairs, first = np.unique(np.stack([cno, adult]), axis=1, return_index=True)
        self.book.add("adults", case_no=pairs[0], person=pairs[1],
                      party_role=np.full(pairs.shape[1], "respondent", object),
                      relationship=rel[first])

    def _orders(self, case_no, child, child_case, outcome, issue_day, final_day, epo) -> None:
        rng = self.rng
        rows_case, rows_person, rows_type, rows_day, rows_final = [], [], [], [], []

        def add(mask_children, kind, days, final):
            # No order is made about a child who died while the case was open.
            idx = np.flatnonzero(mask_children & self.world.alive_on(child, days))
            rows_case.append(case_no[child_case[idx]])
            rows_person.append(child[idx])
            rows_type.append(np.full(idx.size, kind, object))
            rows_day.append(days[idx])
            rows_final.append(np.full(idx.size, final))

        c_issue = issue_day[child_case]
        c_final = final_day[child_case]
        add(epo[child_case], "emergency_protection_order", c_issue, False)
        interim = rng.random(child.size) < self.p["interim_care_order_share"]
        interim &= ~np.isin(outcome, ["withdrawn"])
        interim_day = np.minimum(c_issue + self.p["interim_care_order_days_after_issue"], c_final)
        interim &= interim_day <= self.world.end_day
        add(interim, "interim_care_order", interim_day, False)
        split = {
            "care_order": ["care_order"],
            "placement_order": ["care_order", "placement_order"],
            "special_guardianship_order": ["special_guardianship_order"],
            "sgo_with_supervision_order": ["special_guardianship_order", "supervision_order"],
            "supervision_order": ["supervision_order"],
            "child_arrangements_order": ["child_arrangements_order"],
            "cao_with_supervision_order": ["child_arrangements_order", "supervision_order"],
            "no_order": ["no_order"],
            "withdrawn": ["withdrawn"],
        }
        for category, kinds in split.items():
            for kind in kinds:
                add(outcome == category, kind, c_final, True)
        self.book.add("orders", case_no=np.concatenate(rows_case),
                      person=np.concatenate(rows_person), order_type=np.concatenate(rows_type),
                      day=np.concatenate(rows_day), is_final=np.concatenate(rows_final))

    def _schedule_child_returns(self, child, outcome, final_day) -> None:
        """A10: some children come back to new proceedings within five years, by their order."""
        probs = self.p["recurrence"]["child_return_within_5_years"]
        p = np.array([probs.get(o, 0.0) for o in outcome], dtype=float)
        back = (self.rng.random(child.size) < p) & (final_day <= self.world.end_day)
        days = final_day[back] + 30 + (self.rng.random(int(back.sum())) * 5 * 365).astype(np.int64)
        young = (days - self.world.dob[child[back]]) / DAYS_PER_YEAR < 18
        self._schedule(child[back][young], days[young], "child_returning")


def simulate_public_law(world: World, params: dict, book: CaseBook, fys: range, scale: float,
                        rng: np.random.Generator) -> None:
    """Run the public law simulation over the given financial years, appending to ``book``."""
    PublicLawSimulation(world, params, book, scale, rng).run(fys)


__all__ = ["AGE_GROUPS", "annual_volumes", "simulate_public_law", "day"]
