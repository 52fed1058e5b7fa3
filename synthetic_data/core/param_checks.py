"""What a parameter file's schema cannot say: values that must agree with other values.

A schema checks each value on its own (a share from 0 to 1, a known key); whether a vector has
one share per age band, or a code drawn is one the data dictionary explains, depends on another
part of the file. Each file with such rules has a small check here (:data:`CHECKS`), run by the
loader after the schema passed, so every value already has the right type. They live in core,
beside the loader, because every stage loads its parameters through it.

A check raises :class:`ParameterProblem` with the key path and what is allowed; the loader adds
the file's name, so the message has the same one-line form as a schema's.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from synthetic_data.core.errors import Index

Check = Callable[[Mapping[str, Any]], None]
# Fellegi-Sunter m (and u) are distributions over a field's levels; the published u are rounded.
LEVELS_TOLERANCE = 1e-3


class ParameterProblem(Exception):
    """A value that disagrees with another: where (key path), and what is allowed."""

    def __init__(self, path: Sequence[str | int], problem: str) -> None:
        super().__init__(problem)
        self.path = tuple(path)
        self.problem = problem


def semantic_check(name: str) -> Check | None:
    """The check of parameter file ``name`` beyond its schema, if it has one."""
    return CHECKS.get(name)


def ordered(values: Sequence[float], path: Sequence[str | int], what: str) -> None:
    """Each value at least the one before it."""
    for i in range(1, len(values)):
        if values[i] < values[i - 1]:
            raise ParameterProblem([*path, Index(i)], f"{values[i]!r} is not allowed ({what} in "
                                   f"ascending order: at least {values[i - 1]!r}, the one before)")


# --- One check per file ---


def check_world(p: Mapping[str, Any]) -> None:
    ages = p["mother_age_at_first_birth"]
    for quintile, shares in ages["shares_by_quintile"].items():
        if len(shares) != len(ages["bands"]):
            raise ParameterProblem(
                ["mother_age_at_first_birth", "shares_by_quintile", quintile],
                f"{len(shares)} shares is not allowed (one per age band in bands: {len(ages['bands'])})")
    bands = p["deaths"]["annual_probability"]
    ordered([band["ages"][0] for band in bands], ["deaths", "annual_probability"],
            "age bands, youngest first,")
    moves = p["moves"]
    if moves["share_within_la"] + moves["share_within_region"] > 1 + 1e-9:
        raise ParameterProblem(["moves", "share_within_region"],
                               f"{moves['share_within_region']!r} is not allowed (with share_within_la "
                               f"{moves['share_within_la']!r}, at most 1 in all)")


def check_private_law(p: Mapping[str, Any]) -> None:
    pairs = p["demand"]["years_since_separation_weights"]
    for i in range(1, len(pairs)):
        if pairs[i][0] < pairs[i - 1][0]:
            raise ParameterProblem(["demand", "years_since_separation_weights", Index(i)],
                                   f"{pairs[i]!r} is not allowed (pairs by increasing years: at "
                                   f"least {pairs[i - 1][0]!r} years, as the one before)")


def check_cla(p: Mapping[str, Any]) -> None:
    types = p["placement_types"]
    bands = types["age_bands"]
    codes = p["codes"]
    for phase, table in types.items():
        if phase == "age_bands":
            continue
        for code, shares in table.items():
            where = ["placement_types", phase, code]
            if code not in codes["placement_type"]:
                raise ParameterProblem(where, "unknown key (allowed: a placement type "
                                       f"in codes.placement_type: {', '.join(codes['placement_type'])})")
            if len(shares) != len(bands):
                raise ParameterProblem(where, f"{len(shares)} shares is not allowed (one per age band "
                                       f"in age_bands: {len(bands)})")
        for band in range(len(bands)):
            total = math.fsum(shares[band] for shares in table.values())
            if abs(total - 1) > 1e-6:
                raise ParameterProblem(["placement_types", phase], f"the shares of the age band from "
                                       f"{bands[band]!r} sum to {total:g}, not 1 (each age band's "
                                       "shares over the placement types sum to 1)")
    for outcome, reason in p["final_order_reason"].items():
        if isinstance(reason, str) and reason != "sgo" and reason not in codes["reason_ceased"]:
            raise ParameterProblem(["final_order_reason", outcome], f"{reason!r} is not allowed (sgo, or "
                                   f"a code in codes.reason_ceased: {', '.join(codes['reason_ceased'])})")


def check_health(p: Mapping[str, Any]) -> None:
    chapters = p["chapters"]
    lists = [(["conditions", name, "codes"], spec["codes"]) for name, spec in p["conditions"].items()]
    lists += [(["emergency_department", "other_codes"], p["emergency_department"]["other_codes"]),
              (["children", "codes"], p["children"]["codes"]),
              (["children", "other_codes"], p["children"]["other_codes"]),
              (["other_admissions", "codes"], p["other_admissions"]["codes"])]
    for path, codes in lists:
        for code in codes:
            if code[0] not in chapters:
                raise ParameterProblem([*path, code], "unknown key (allowed: an ICD-10 code whose "
                                       f"first letter has a chapter in chapters: {', '.join(chapters)})")


def check_education(p: Mapping[str, Any]) -> None:
    census = p["census"]
    if not census["first_ncy"] <= census["last_primary_ncy"] < census["last_ncy"]:
        raise ParameterProblem(["census", "last_primary_ncy"],
                               f"{census['last_primary_ncy']!r} is not allowed (from first_ncy "
                               f"{census['first_ncy']!r} to below last_ncy {census['last_ncy']!r})")
    for group in ("comparison", "in_proceedings"):
        shares = p["sen"][group]
        if shares["sen_support"] + shares["ehcp"] > 1 + 1e-9:
            raise ParameterProblem(["sen", group, "ehcp"], f"{shares['ehcp']!r} is not allowed (with "
                                   f"sen_support {shares['sen_support']!r}, at most 1 in all)")


def check_ttp(p: Mapping[str, Any]) -> None:
    for field, levels in p["comparisons"].items():
        for which in ("m", "u"):
            total = math.fsum(level[which] for level in levels.values())
            if abs(total - 1) > LEVELS_TOLERANCE:
                raise ParameterProblem(["comparisons", field], f"{which} sums to {total:g} over the "
                                       f"levels, not 1 ({which} is a distribution over {', '.join(levels)};"
                                       f" within {LEVELS_TOLERANCE:g})")
    thresholds = p["thresholds"]
    if thresholds["accept"] > thresholds["safe"]:
        raise ParameterProblem(["thresholds", "accept"], f"{thresholds['accept']!r} is not allowed "
                               f"(at most safe, {thresholds['safe']!r})")
    bands = p["name_bands"]
    if bands["similar"] > bands["close"]:
        raise ParameterProblem(["name_bands", "similar"], f"{bands['similar']!r} is not allowed "
                               f"(at most close, {bands['close']!r})")


def check_names(p: Mapping[str, Any]) -> None:
    """Every ethnic group has an era share, forenames and surnames (and no other group has),
    and a group that reuses another's mixture (``ethnicity:``) does not lead back to itself."""
    ethnicities = list(p["ethnicities"])
    for section in ("era_share", "forenames", "surnames"):
        for group in p[section]:
            if group not in ethnicities:
                raise ParameterProblem([section, group], "unknown key (allowed: a group of "
                                       f"ethnicities: {', '.join(ethnicities)})")
        missing = [group for group in ethnicities if group not in p[section]]
        if missing:
            raise ParameterProblem([section, missing[0]], "missing key (every group of ethnicities "
                                   "needs an entry)")
    for section in ("forenames", "surnames"):
        for group in ethnicities:
            _no_cycle(p[section], section, group, ())


def _no_cycle(mixtures: Mapping[str, Any], section: str, group: str, seen: tuple[str, ...]) -> None:
    if group in seen:
        raise ParameterProblem([section, seen[0], "sources"], "a circular ethnicity reference "
                               f"{' -> '.join((*seen, group))} is not allowed (a group may reuse "
                               "another's mixture only if that one does not lead back)")
    for source in mixtures[group]["sources"]:
        if "ethnicity" in source:
            _no_cycle(mixtures, section, source["ethnicity"], (*seen, group))


def capture_age_bands(p: Mapping[str, Any]) -> dict[str, tuple[int, float]]:
    """capture.yaml's named age bands as [from, to) days, ``to`` infinite where it is null."""
    return {str(band): (int(low), math.inf if high is None else float(high))
            for band, (low, high) in p["age_bands"].items()}


def check_capture(p: Mapping[str, Any]) -> None:
    """An age band ends after it starts; a rate by age names only bands ``age_bands`` defines,
    none overlapping (a record's age must pick one rate); every phonetic rule is a regular
    expression; a set of field weights is not all 0."""
    for band, (low, high) in p["age_bands"].items():
        if high is not None and high < low:
            raise ParameterProblem(["age_bands", band], f"[{low}, {high}] is not allowed (a band "
                                   "[from, to) must not end before it starts)")
    bands = capture_age_bands(p)
    for source, section in p["sources"].items():
        for corruption, rate in section["rates"].items():
            if isinstance(rate, Mapping):
                _banded_rate(rate, bands, ["sources", source, "rates", corruption])
    for i, rule in enumerate(p["phonetic_rules"]):
        try:
            re.compile(rule[0])
        except re.error as error:
            raise ParameterProblem(["phonetic_rules", Index(i), Index(0)], f"{rule[0]!r} is not "
                                   f"allowed (a regular expression; {error})") from None
    for key in ("spelling_fields", "household_copy_fields"):
        if not any(weight > 0 for weight in p[key].values()):
            raise ParameterProblem([key], "weights that are all 0 are not allowed (at least one above 0)")


def _banded_rate(rate: Mapping[str, float], bands: Mapping[str, tuple[int, float]],
                 path: Sequence[str | int]) -> None:
    unknown = [band for band in rate if band not in bands]
    if unknown:
        raise ParameterProblem([*path, unknown[0]], "unknown key (allowed: an age band of age_bands: "
                               f"{', '.join(bands)})")
    spans = sorted(bands[band] for band in rate)
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        if start < end:
            raise ParameterProblem(path, f"overlapping age bands {', '.join(rate)} are not allowed "
                                   "(a record's age must fall in one band at most)")


CHECKS: dict[str, Check] = {
    "capture": check_capture,
    "names": check_names,
    "world": check_world,
    "private_law": check_private_law,
    "cla": check_cla,
    "health": check_health,
    "education": check_education,
    "ttp": check_ttp,
}
