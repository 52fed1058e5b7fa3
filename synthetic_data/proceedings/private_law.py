"""Private law: separated parents (and sometimes grandparents) asking the court to settle where
children live and whom they see.

Demand comes from the world's separations: each financial year the published number of cases
is filled with separated couples chosen by how recently they parted, how deprived their area is
and their region, on days spread evenly over the year. A family whose case ends may come back,
after a time drawn so that most returns come within two years (a few within the same year);
returners are therefore simulated, not stamped on. A case asks for one order type or several (a
prohibited steps order beside child arrangements, say), so applications outnumber cases as in
the court's statistics. Parameters: ``params/private_law.yaml``.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from synthetic_data.core.dates import DAYS_PER_YEAR, NO_DATE, financial_year, fy_start
from synthetic_data.core.params import interpolate_by_year
from synthetic_data.core.sampling import choose, stochastic_round, weighted_pick_per_group
from synthetic_data.proceedings.casebook import CaseBook, draw_durations_days, hearing_schedule
from synthetic_data.world.people import ROLE_CHILD, World

RELATIVE_ROLE = 3  # role code of relatives added to the world as applicants


def annual_volumes(params: dict, fys: range, countries: list[str]) -> dict[tuple[str, int], float]:
    vol = params["volumes"]
    england = interpolate_by_year({int(k): v for k, v in vol["england_anchors"].items()}, fys)
    out = {}
    for fy in fys:
        if "England" in countries:
            out[("England", fy)] = england[fy]
        if "Wales" in countries:
            out[("Wales", fy)] = float(vol["wales_per_fy"])
    return out


class PrivateLawSimulation:
    def __init__(self, world: World, params: dict, book: CaseBook, scale: float,
                 rng: np.random.Generator, pools) -> None:
        self.world, self.p, self.book, self.scale, self.rng = world, params, book, scale, rng
        self.pools = pools
        pt = world.partnerships
        self.p_mother = pt["mother"].to_numpy()
        self.p_father = pt["father"].to_numpy()
        self.p_end = pt["end"].to_numpy()
        n = len(pt)
        self.busy_until = np.full(n, NO_DATE, dtype=np.int64)
        self.cases_so_far = np.zeros(n, dtype=np.int64)
        self.scheduled: dict[tuple[int, str], list[tuple[np.ndarray, np.ndarray]]] = \
            defaultdict(list)
        # Children of each partnership: (mother, father) pairs identify it.
        kids = np.flatnonzero(world.role == ROLE_CHILD)
        kids = kids[world.father[kids] >= 0]
        pair_of_child = world.father[kids]
        order = np.argsort(pair_of_child, kind="stable")
        self.kids_sorted = kids[order]
        self.kids_father = pair_of_child[order]
        self.countries = world.las["country"].to_numpy()
        self.regions = world.las["region_name"].to_numpy()
        # Relatives who apply are added to the world once, at the end; until then they hold
        # reserved positions after everyone else.
        self.pending_relatives: list[dict[str, np.ndarray]] = []
        self.n_pending = 0

    def run(self, fys: range) -> None:
        countries = sorted(set(self.countries))
        volumes = annual_volumes(self.p, fys, countries)
        # Returns that came in the year their family's previous case was opened, after that
        # year's fresh demand had been drawn: they count towards the year's published volume, so
        # the next year's fresh demand is reduced by as many (the best estimate of how many
        # will come again, which cannot be known before the year's cases are opened).
        late_returns = dict.fromkeys(countries, 0)
        for fy in fys:
            if fy_start(fy) > self.world.end_day:
                break
            for country in countries:
                self._year(fy, country, volumes[(country, fy)] * self.scale
                           - late_returns[country])
            # Families whose case this year ended soon enough come back within the year: their
            # returns were scheduled into the year after it was opened (A10 allows a return
            # within months, as when an application is withdrawn and made again).
            late_returns = dict.fromkeys(countries, 0)
            while any((fy, c) in self.scheduled for c in countries):
                for country in countries:
                    late_returns[country] += self._open_returns(fy, country)
        self._materialise_relatives()

    def _open_returns(self, fy: int, country: str) -> int:
        """Open the returns scheduled into the year and country; how many were opened.

        A return is dropped when the family is still in a case on its day, the day falls after
        the end of the period, a parent has died, or none of the children is still under 18.
        """
        w = self.world
        end = min(fy_start(fy + 1) - 1, w.end_day)
        n = 0
        for partnerships, days in self.scheduled.pop((fy, country), []):
            ok = (self.busy_until[partnerships] < days) & (days <= end)
            ok &= w.alive_on(self.p_mother[partnerships], days)
            ok &= w.alive_on(self.p_father[partnerships], days)
            n += self._open(partnerships[ok], days[ok], fy, country, returning=True)
        return n

    def _materialise_relatives(self) -> None:
        """Replace ``self.world`` by the world with the relatives in their reserved positions."""
        from synthetic_data.world.people import add_people

        if not self.pending_relatives:
            return
        spec = {k: np.concatenate([r[k] for r in self.pending_relatives])
                for k in self.pending_relatives[0]}
        before = self.world.size
        years = tuple(self.p["parties"]["relative_years_at_address"])
        self.world = add_people(self.world, years_at_address=years, pools=self.pools, rng=self.rng, **spec)
        if self.world.size - before != self.n_pending:
            raise RuntimeError("relatives were not added where their positions were reserved")

    def _year(self, fy: int, country: str, expected: float) -> None:
        w, rng = self.world, self.rng
        start, end = fy_start(fy), min(fy_start(fy + 1) - 1, w.end_day)
        n_due = self._open_returns(fy, country)
        wanted = int(stochastic_round(np.array([max(expected - n_due, 0.0)]), rng)[0])
        if wanted <= 0:
            return
        # Fresh demand: separated couples with no case yet. Each gets a day drawn evenly over
        # the year and is a candidate only if separated by then, so demand on any day comes from
        # the couples apart on that day and receipts are even through the year (a day drawn
        # between the separation and the year end would crowd this year's separations into
        # the last months).
        ended = (self.p_end != NO_DATE) & (self.p_end <= end) & (self.cases_so_far == 0)
        cand = np.flatnonzero(ended)
        day = start + (rng.random(cand.size) * (end - start + 1)).astype(np.int64)
        separated = self.p_end[cand] <= day
        cand, day = cand[separated], day[separated]
        has_child = self._children_at(cand, day, count_only=True) > 0
        cand, day = cand[has_child], day[has_child]
        la = w.la_at(self.p_mother[cand], day)
        ok = (la >= 0) & w.alive_on(self.p_mother[cand], day) & w.alive_on(self.p_father[cand], day)
        ok[ok] = self.countries[la[ok]] == country
        cand, day, la = cand[ok], day[ok], la[ok]
        d = self.p["demand"]
        q = w.quintile_at(self.p_mother[cand], day)
        weight = np.array([d["deprivation_quintile"][k] for k in range(1, 6)])[q - 1]
        weight = weight * np.array([d["region"][r] for r in self.regions[la]])
        since = (day - self.p_end[cand]) / DAYS_PER_YEAR
        bounds = np.array([b for b, _ in d["years_since_separation_weights"]], dtype=float)
        values = np.array([v for _, v in d["years_since_separation_weights"]], dtype=float)
        weight = weight * values[np.searchsorted(bounds, since, side="left").clip(max=bounds.size - 1)]
        pick = weighted_pick_per_group(np.zeros(cand.size, dtype=np.int64), weight,
                                       np.array([wanted]), rng)
        self._open(cand[pick], day[pick], fy, country, returning=False)

    def _children_at(self, partnerships: np.ndarray, days: np.ndarray, count_only: bool = False):
        """Children of each partnership alive and under 18 on the day (case, child) or counts."""
        w = self.world
        fathers = self.p_father[partnerships]
        lo = np.searchsorted(self.kids_father, fathers, side="left")
        hi = np.searchsorted(self.kids_father, fathers, side="right")
        case = np.repeat(np.arange(partnerships.size), hi - lo)
        if case.size == 0:
            return np.zeros(partnerships.size, np.int64) if count_only else (case, case)
        offsets = np.arange(case.size) - np.searchsorted(case, case, side="left")
        kid = self.kids_sorted[lo[case] + offsets]
        d = days[case]
        ok = w.alive_on(kid, d) & ((d - w.dob[kid]) / DAYS_PER_YEAR < 18)
        if count_only:
            return np.bincount(case[ok], minlength=partnerships.size)
        return case[ok], kid[ok]

    def _open(self, partnerships: np.ndarray, issue_day: np.ndarray, fy: int, country: str,
              returning: bool) -> int:
        """Open a case for each partnership with a child under 18 on its day; how many opened."""
        w, rng, p, book = self.world, self.rng, self.p, self.book
        case_idx, kid = self._children_at(partnerships, issue_day)
        # Keep 1 + Poisson(lambda) of the children (A3), at random.
        cp = p["children_per_case"]
        want = 1 + np.minimum(rng.poisson(cp["poisson_lambda"], partnerships.size),
                              cp["max_children"] - 1)
        order = np.lexsort((rng.random(case_idx.size), case_idx))
        case_idx, kid = case_idx[order], kid[order]
        rank = np.arange(case_idx.size) - np.searchsorted(case_idx, case_idx, side="left")
        take = rank < want[case_idx]
        case_idx, kid = case_idx[take], kid[take]
        has = np.bincount(case_idx, minlength=partnerships.size) > 0
        keep_map = np.cumsum(has) - 1
        partnerships, issue_day = partnerships[has], issue_day[has]
        case_idx = keep_map[case_idx]
        n = partnerships.size
        if n == 0:
            return 0
        case_no = book.new_case_numbers(n)
        mother, father = self.p_mother[partnerships], self.p_father[partnerships]
        la = w.la_at(mother, issue_day)

        # Who applies (A6): mostly one parent against the other, sometimes a relative.
        pa = p["parties"]
        between = rng.random(n) < pa["between_parents"]
        father_applies = rng.random(n) < pa["father_applicant_when_between_parents"]
        rel_names = list(pa["other_applicant_relationships"])
        rel_kind = np.array(rel_names, dtype=object)[
            choose(np.array(list(pa["other_applicant_relationships"].values())), n, rng)]
        against_mother = rng.random(n) < pa["relative_against_mother"]
        relative = np.full(n, -1, dtype=np.int64)
        need = np.flatnonzero(~between)
        if need.size:
            relative[need] = self._add_relatives(mother[need], father[need], rel_kind[need],
                                                 against_mother[need], issue_day[need])
        applicant = np.where(between, np.where(father_applies, father, mother), relative)
        applicant_rel = np.where(between, np.where(father_applies, "father", "mother"), rel_kind)
        respondent = np.where(between, np.where(father_applies, mother, father),
                              np.where(against_mother, mother, father))
        respondent_rel = np.where(between, np.where(father_applies, "mother", "father"),
                                  np.where(against_mother, "mother", "father"))
        other = np.where(between, -1, np.where(against_mother, father, mother))
        other_rel = np.where(against_mother, "father", "mother")

        # Application type: returning cases more often ask for enforcement.
        at = p["application_types"]
        kinds = list(at["shares"])
        base = np.array([at["shares"][k] for k in kinds])
        app = np.array(kinds, dtype=object)[choose(base, n, rng)]
        if returning:
            enforce = rng.random(n) < at["enforcement_share_returning"]
            app = np.where(enforce, "enforcement", app)
        live_with_p = np.select(
            [applicant_rel == "father", applicant_rel == "mother"],
            [at["live_with_share"]["father"], at["live_with_share"]["mother"]],
            at["live_with_share"]["relative"])
        live_with = rng.random(n) < live_with_p
        app = np.where(app == "child_arrangements",
                       np.where(live_with, "child_arrangements_live_with",
                                "child_arrangements_spend_time_with"), app)

        da = p["domestic_abuse"]
        alleged = rng.random(n) < da["allegation_share"]
        victim = np.where(alleged, np.where(rng.random(n) < da["mother_alleged_victim"],
                                            "mother", "father"), None)
        dur = p["durations"]
        mean_weeks = interpolate_by_year({int(k): v for k, v in dur["mean_weeks_by_fy"].items()},
                                         [fy])[fy]
        final_day = issue_day + draw_durations_days(mean_weeks, np.zeros(n), dur["sdlog"], rng)
        open_at_end = final_day > w.end_day
        outcome_names = list(p["outcomes"]["shares"])
        outcome = np.array(outcome_names, dtype=object)[
            choose(np.array(list(p["outcomes"]["shares"].values())), n, rng)]
        outcome = np.where(open_at_end, "open", outcome)
        reasons = p["returners"]["reasons"]
        reason = np.array(list(reasons), dtype=object)[
            choose(np.array(list(reasons.values()), dtype=float), n, rng)]

        book.add("cases", case_no=case_no, law_type=np.full(n, "private", object),
                 country=np.full(n, country, object), la_index=la, issue_day=issue_day,
                 final_day=np.where(open_at_end, NO_DATE, final_day), primary_application=app,
                 returning=np.full(n, returning), prior_cases=self.cases_so_far[partnerships].copy(),
                 da_alleged=alleged.astype(object), da_victim=victim.astype(object),
                 return_reason=np.where(returning, reason, None).astype(object))
        book.add("children", case_no=case_no[case_idx], person=kid, outcome=outcome[case_idx],
                 outcome_day=np.where(open_at_end, NO_DATE, final_day)[case_idx])
        has_other = other >= 0
        book.add("adults",
                 case_no=np.concatenate([case_no, case_no, case_no[has_other]]),
                 person=np.concatenate([applicant, respondent, other[has_other]]),
                 party_role=np.concatenate([np.full(n, "applicant", object),
                                            np.full(n, "respondent", object),
                                            np.full(int(has_other.sum()), "other_party", object)]),
                 relationship=np.concatenate([applicant_rel, respondent_rel,
                                              other_rel[has_other]]).astype(object))
        # Every adult's relationship to every child of the case.
        adults = np.stack([applicant, respondent, other])
        rels = np.stack([applicant_rel, respondent_rel, np.where(has_other, other_rel, None)])
        a = adults[:, case_idx].ravel()
        r = rels[:, case_idx].ravel()
        k = np.tile(kid, 3)
        c = np.tile(case_no[case_idx], 3)
        present = a >= 0
        book.add("relationships", case_no=c[present], adult=a[present], child=k[present],
                 relationship=r[present].astype(object))
        book.add("applications", **self._applications(case_no, app, live_with, issue_day,
                                                      np.where(open_at_end, w.end_day, final_day)))
        book.add("hearings", **hearing_schedule(case_no, issue_day, final_day, w.end_day,
                                                p["hearings"], rng))
        # A child who died while the case was open has no order made about them.
        final_kid = ~open_at_end[case_idx] & w.alive_on(kid, final_day[case_idx])
        book.add("orders", case_no=case_no[case_idx][final_kid], person=kid[final_kid],
                 order_type=outcome[case_idx][final_kid], day=final_day[case_idx][final_kid],
                 is_final=np.ones(int(final_kid.sum()), dtype=bool))

        self.busy_until[partnerships] = final_day
        self.cases_so_far[partnerships] += 1
        # Returns (A10): a chance that grows with earlier returns, after a log-normal time.
        r = p["returners"]
        by_previous = np.array(r["return_probability_by_previous_cases"], dtype=float)
        chance = by_previous[np.minimum(self.cases_so_far[partnerships] - 1, by_previous.size - 1)]
        back = (rng.random(n) < chance) & ~open_at_end
        gap = np.exp(np.log(r["return_years_median"])
                     + r["return_years_sdlog"] * rng.standard_normal(int(back.sum())))
        days = final_day[back] + (gap * DAYS_PER_YEAR).astype(np.int64)
        self._schedule(partnerships[back], days)
        return n

    def _applications(self, case_no: np.ndarray, primary: np.ndarray, live_with: np.ndarray,
                      issue_day: np.ndarray, last_day: np.ndarray) -> dict[str, np.ndarray]:
        """Each case's applications: its primary one and, for some, others (A1: a case may
        cover several application types), such as a prohibited steps order asked for beside a
        child arrangements order. Most are made together on the issue day, some later in the
        case (no later than ``last_day``: the final order, or the end of the period)."""
        rng, spec = self.rng, self.p["additional_applications"]
        kinds = list(spec["types"])  # the section 8 orders a case can combine
        n = case_no.size
        base = np.where(np.char.startswith(primary.astype(str), "child_arrangements"),
                        "child_arrangements", primary)
        # How many more types each case asks for: none for enforcement (a separate application
        # about an order already made), else a second with a chance and a third with another.
        combinable = np.isin(base, kinds)
        extra = (combinable & (rng.random(n) < spec["second_share"])).astype(np.int64)
        extra += (extra == 1) & (rng.random(n) < spec["third_share_of_second"])
        # Which: drawn without replacement from the types the case has not asked for yet,
        # weighted by how often each is added (params), by ranking Gumbel-perturbed weights.
        weights = np.array([spec["types"][k] for k in kinds], dtype=float)
        keys = np.log(weights)[None, :] - np.log(-np.log(rng.random((n, len(kinds)))))
        keys[base[:, None] == np.array(kinds, dtype=object)[None, :]] = -np.inf
        ranked = np.argsort(-keys, axis=1, kind="stable")
        later = rng.random((n, 2)) >= spec["same_day_share"]
        span = np.maximum(last_day - issue_day, 0)
        offset = (rng.random((n, 2)) * (span[:, None] + 1)).astype(np.int64)
        cases, types, days = [case_no], [primary], [issue_day]
        for k in range(2):
            has = extra > k
            kind = np.array(kinds, dtype=object)[ranked[has, k]]
            kind = np.where(kind == "child_arrangements",
                            np.where(live_with[has], "child_arrangements_live_with",
                                     "child_arrangements_spend_time_with"), kind)
            cases.append(case_no[has])
            types.append(kind.astype(object))
            days.append(issue_day[has] + np.where(later[has, k], offset[has, k], 0))
        return {"case_no": np.concatenate(cases), "application_type": np.concatenate(types),
                "day": np.concatenate(days)}

    def _schedule(self, partnerships: np.ndarray, days: np.ndarray) -> None:
        if partnerships.size == 0:
            return
        fy = financial_year(days)
        la = self.world.la_at(self.p_mother[partnerships], np.minimum(days, self.world.end_day))
        country = self.countries[la.clip(min=0)]
        for key in sorted(set(zip(fy.tolist(), country.tolist(), strict=True))):
            sel = (fy == key[0]) & (country == key[1])
            self.scheduled[key].append((partnerships[sel], days[sel]))

    def _add_relatives(self, mother, father, kind, against_mother, day) -> np.ndarray:
        """Grandparents, aunts and uncles who apply: new people on the side of the other parent."""
        w, rng, pa = self.world, self.rng, self.p["parties"]
        side = np.where(against_mother, father, mother)  # the relative is the other parent's kin
        female = np.isin(kind, ["grandmother", "aunt"]) | (
            (kind == "other_relative") & (rng.random(kind.size) < pa["other_relative_female_share"]))
        generation = np.isin(kind, ["grandmother", "grandfather"])
        gap = pa["relative_age_gap_years"]
        age_gap = np.where(generation, rng.normal(*gap["grandparent"], kind.size),
                           rng.normal(*gap["same_generation"], kind.size))
        dob = w.dob[side] - (age_gap * DAYS_PER_YEAR).astype(np.int64)
        self.pending_relatives.append({
            "sex": np.where(female, "F", "M").astype(object), "dob": dob,
            "ethnicity": w.ethnicity[side], "surname": w.surname[side], "near": side,
            "since": day})
        positions = w.size + self.n_pending + np.arange(kind.size)
        self.n_pending += kind.size
        return positions


def simulate_private_law(world: World, params: dict, book: CaseBook, fys: range, scale: float,
                         rng: np.random.Generator, pools) -> World:
    """Run the private law simulation over the given financial years, appending to ``book``.

    Returns the world with the relatives who applied added (``world`` itself is unchanged): the
    cases refer to them by their positions in the world returned.
    """
    simulation = PrivateLawSimulation(world, params, book, scale, rng, pools)
    simulation.run(fys)
    return simulation.world
