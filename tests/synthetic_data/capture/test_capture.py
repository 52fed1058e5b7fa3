"""The capture model: every configured rate measured back, every corruption doing what it says.

Rates are checked against binomial tolerances (a count within ``Z`` standard deviations of its
expectation), so a rate off by a fraction of itself fails while chance does not. Expected rates
are worked out here from the parameter file, not by calling the module's own rate code.
"""

from __future__ import annotations

import copy
import re

import numpy as np
import pandas as pd
import pytest

from synthetic_data.capture.apply import CORRUPTIONS, Captured, capture, record_counts
from synthetic_data.core.dates import NO_DATE
from synthetic_data.core.errors import InputError
from synthetic_data.core.identifiers import draw_nhs_numbers, is_valid_nhs_number
from synthetic_data.core.params import load_params
from synthetic_data.world.names import load_names_params

N = 200_000
Z = 5.0  # standard deviations allowed: some hundred checks, none should fail by chance
SOURCES = ("cafcass", "familyman", "health", "education", "cla", "deaths")
PARAMS = load_params("capture")
FIELD_OF_TRUTH = {"forename": "forename", "surname": "surname", "sex": "sex",
                  "date_of_birth": "dob", "nhs_number": "nhs_number", "postcode": "postcode"}
POSTCODE = re.compile(r"[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}")

FORENAMES = np.array(["William", "Elizabeth", "Catherine", "Stephen", "Philip", "Kelly", "Sarah",
                      "Alan", "Jo", "Li", "Anne-Marie", "Muhammad", "Aisha", "Oluwaseun", "Zoe",
                      "Grace", "Tomasz", "Priya"], dtype=object)
SURNAMES = np.array(["Smith", "Jones", "Anderson", "MacDonald", "O'Neil", "Khan", "Ng", "Okafor",
                     "Williams", "Taylor", "Patel", "Nowak", "Begum", "Evans"], dtype=object)
LETTERS = np.array(list("ABDEFGHJLNPRSTUWXY"), dtype=object)


def _postcodes(n: int, rng: np.random.Generator) -> np.ndarray:
    digits = np.array(list("0123456789"), dtype=object)
    return ("Q" + LETTERS[rng.integers(0, LETTERS.size, n)]
            + rng.integers(1, 98, n).astype(str).astype(object) + " "
            + digits[rng.integers(0, 10, n)] + LETTERS[rng.integers(0, LETTERS.size, n)]
            + LETTERS[rng.integers(0, LETTERS.size, n)])


def make_truth(n: int, seed: int = 7) -> pd.DataFrame:
    """People recorded by a source: a tenth of them newborns, with every kind of context."""
    rng = np.random.default_rng(seed)
    age = np.where(rng.random(n) < 0.1, rng.integers(0, 28, n), rng.integers(28, 30_000, n))
    recorded_on = rng.integers(14_000, 20_000, n)  # 2008 to 2024
    pick = lambda pool, share: np.where(  # noqa: E731
        rng.random(n) < share, pool[rng.integers(0, pool.size, n)], None)
    return pd.DataFrame({
        "forename": FORENAMES[rng.integers(0, FORENAMES.size, n)],
        "surname": SURNAMES[rng.integers(0, SURNAMES.size, n)],
        "sex": np.where(rng.random(n) < 0.5, "F", "M").astype(object),
        "dob": (recorded_on - age).astype(np.int64),
        "nhs_number": draw_nhs_numbers(n, rng).astype(object),
        "postcode": _postcodes(n, rng),
        "minority": rng.random(n) < 0.3,
        "deprived": rng.random(n) < 0.3,
        "age_days_at_record": age.astype(np.int64),
        "previous_postcode": np.where(rng.random(n) < 0.4, _postcodes(n, rng), None),
        "partner_surname": pick(SURNAMES, 0.5),
        "household_forename": pick(FORENAMES, 0.5),
        "household_dob": np.where(rng.random(n) < 0.5, rng.integers(-5_000, 19_000, n),
                                  NO_DATE).astype(np.int64),
        "twin_forename": pick(FORENAMES, 0.05),
    })


@pytest.fixture(scope="module")
def truth() -> pd.DataFrame:
    return make_truth(N)


@pytest.fixture(scope="module")
def eligible(truth: pd.DataFrame) -> dict[str, np.ndarray]:
    return eligible_in_truth(truth, PARAMS)


@pytest.fixture(scope="module")
def captured(truth: pd.DataFrame) -> dict[str, Captured]:
    return {source: capture(truth, source, np.random.default_rng(11)) for source in SOURCES}


# --- Expectations worked out from the parameter file ---


def expected_rates(params: dict, name: str, rate, truth: pd.DataFrame) -> np.ndarray:
    """Each row's probability of ``name``: base (by age band) x group factors, capped."""
    age = truth["age_days_at_record"].to_numpy()
    if isinstance(rate, dict):
        base = np.zeros(len(truth))
        for band, value in rate.items():
            low, high = params["age_bands"][band]
            base[(age >= low) & (age < (np.inf if high is None else high))] = value
    else:
        base = np.full(len(truth), float(rate))
    groups = params["group_multipliers"]
    if name in groups["not_multiplied"]:
        return base
    factor = (np.where(truth["minority"], groups["minority"], 1.0)
              * np.where(truth["deprived"], groups["deprived"], 1.0))
    cap = groups["max_rate"]
    return np.where(base > cap, base, np.minimum(base * factor, cap))


def _ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    dates = pd.to_datetime(pd.Series(days, dtype=np.int64), unit="D")
    return dates.dt.year.to_numpy(), dates.dt.month.to_numpy(), dates.dt.day.to_numpy()


def eligible_in_truth(truth: pd.DataFrame, params: dict) -> dict[str, np.ndarray]:
    """Rows each corruption can apply to, judged on the truth (valid where nothing earlier acted)."""
    t = {c: truth[c].to_numpy() for c in truth.columns}
    has = {c: pd.notna(t[c]) for c in ("forename", "surname", "nhs_number", "postcode",
                                       "previous_postcode", "partner_surname",
                                       "household_forename", "twin_forename")}
    dob_known = t["dob"] != NO_DATE
    year, month, day = _ymd(t["dob"])
    rules = [re.compile(pattern) for pattern, _ in params["phonetic_rules"]]
    def sounds(names: np.ndarray) -> np.ndarray:
        return np.isin(names, [x for x in set(names) if any(r.search(x) for r in rules)])

    nicknames = load_names_params()["nicknames"]
    return {
        "dob_missing": dob_known,
        "nhs_missing": has["nhs_number"],
        "postcode_missing": has["postcode"],
        "baby_name": has["forename"] & (t["forename"] != params["baby_forename"]),
        "twin_confusion": has["twin_forename"] & (t["twin_forename"] != t["forename"]),
        "household_copy": (has["household_forename"] & (t["household_forename"] != t["forename"]))
        | ((t["household_dob"] != NO_DATE) & (t["household_dob"] != t["dob"])),
        "surname_change": (t["sex"] == "F") & has["partner_surname"]
        & (t["partner_surname"] != t["surname"]),
        "name_swap": t["forename"] != t["surname"],
        "nickname": np.isin(t["forename"], list(nicknames)),
        "phonetic": sounds(t["forename"]) | sounds(t["surname"]),
        "keyboard": np.ones(len(truth), dtype=bool),
        "typo": np.ones(len(truth), dtype=bool),
        "dob_day_month_swap": dob_known & (day <= 12) & (day != month),
        "dob_digit": dob_known,
        "dob_default_jan1": dob_known & ((day != 1) | (month != 1)),
        "sex_error": np.isin(t["sex"], ["F", "M"]),
        "nhs_wrong_person": has["nhs_number"],
        "nhs_invalid": has["nhs_number"],
        "postcode_out_of_date": has["postcode"] & has["previous_postcode"]
        & (t["previous_postcode"] != t["postcode"]),
        "postcode_invalid": has["postcode"],
    }


def rows_with(applied: pd.DataFrame, names, n: int) -> np.ndarray:
    """Boolean mask of rows carrying any of the named corruptions."""
    mask = np.zeros(n, dtype=bool)
    mask[applied["row"].to_numpy()[applied["corruption"].isin(list(names)).to_numpy()]] = True
    return mask


def earlier_touching(name: str) -> list[str]:
    """Corruptions applied before ``name`` that change a field ``name`` reads."""
    order = list(CORRUPTIONS)
    fields = set(CORRUPTIONS[name].fields)
    return [c for c in order[: order.index(name)] if fields & set(CORRUPTIONS[c].fields)]


def assert_binomial(observed: int, p: np.ndarray, what: str) -> None:
    expected, sd = p.sum(), np.sqrt((p * (1 - p)).sum())
    assert abs(observed - expected) <= Z * sd + 1e-9, (
        f"{what}: {observed} observed, {expected:.1f} expected (sd {sd:.1f})")


# --- Rates ---


@pytest.mark.parametrize("source", SOURCES)
def test_every_configured_rate_is_measured_back(source, truth, captured, eligible):
    section = PARAMS["sources"][source]
    applied = captured[source].applied
    not_recorded = set(section["not_recorded"])
    measured = 0
    for name, rate in section["rates"].items():
        if set(CORRUPTIONS[name].fields) <= not_recorded:
            continue
        p = expected_rates(PARAMS, name, rate, truth)
        # Rows the corruption can act on, untouched by anything applied before it.
        base = eligible[name] & ~rows_with(applied, earlier_touching(name), N)
        hit = rows_with(applied, [name], N)
        assert_binomial(int((hit & base).sum()), p[base], f"{source} {name}")
        if p[base].sum() > 0:
            measured += 1
    assert measured >= 10


def test_group_multipliers_raise_rates_by_the_configured_factors(truth):
    params = copy.deepcopy(PARAMS)
    params["sources"]["cafcass"]["rates"] = {"typo": 0.1, "postcode_missing": 0.3,
                                             "nhs_missing": 0.85}
    applied = capture(truth, "cafcass", np.random.default_rng(3), params).applied
    minority, deprived = truth["minority"].to_numpy(), truth["deprived"].to_numpy()
    m, d = PARAMS["group_multipliers"]["minority"], PARAMS["group_multipliers"]["deprived"]
    cap = PARAMS["group_multipliers"]["max_rate"]
    cells = {"neither": (~minority & ~deprived, 1.0), "minority": (minority & ~deprived, m),
             "deprived": (~minority & deprived, d), "both": (minority & deprived, m * d)}
    for name, base in [("typo", 0.1), ("postcode_missing", 0.3), ("nhs_missing", 0.85)]:
        hit = rows_with(applied, [name], N)
        for cell, (mask, factor) in cells.items():
            rate = base if base > cap else min(base * factor, cap)
            assert_binomial(int(hit[mask].sum()), np.full(mask.sum(), rate), f"{name} {cell}")
    # The factor itself, for the uncapped typo rate: minority rows 1.75 times as often.
    typo = rows_with(applied, ["typo"], N)
    ratio = typo[cells["minority"][0]].mean() / typo[cells["neither"][0]].mean()
    assert ratio == pytest.approx(m, rel=0.08)


@pytest.mark.parametrize("source", SOURCES)
def test_exact_match_recall_is_lower_for_minority_and_deprived_rows(source, truth, captured):
    records = captured[source].records
    same = ((records["forename"] == truth["forename"]) & (records["surname"] == truth["surname"])
            & (records["date_of_birth"] == truth["dob"]) & (records["sex"] == truth["sex"]))
    for group in ("minority", "deprived"):
        inside, outside = same[truth[group]], same[~truth[group]]
        gap = outside.mean() - inside.mean()
        se = np.sqrt(inside.var() / inside.size + outside.var() / outside.size)
        assert gap > 3 * se, f"{source}: recall gap for {group} is {gap:.4f} (se {se:.4f})"


def test_a_field_a_source_does_not_record_is_always_empty(captured):
    assert captured["familyman"].records["nhs_number"].isna().all()
    assert captured["education"].records["nhs_number"].isna().all()
    assert captured["health"].records["nhs_number"].notna().mean() > 0.97


# --- What each corruption does ---


@pytest.fixture(scope="module")
def busy(truth: pd.DataFrame) -> Captured:
    """Every corruption at a rate high enough to give hundreds of examples of each."""
    params = copy.deepcopy(PARAMS)
    params["sources"]["cafcass"]["rates"] = {
        name: ({"under_7_days": 0.5, "under_28_days": 0.5} if name == "baby_name" else 0.03)
        for name in CORRUPTIONS
    }
    return capture(truth, "cafcass", np.random.default_rng(5), params)


def _only(applied: pd.DataFrame, name: str, n: int) -> np.ndarray:
    """Rows carrying ``name`` and no other corruption of the fields it changes."""
    fields = set(CORRUPTIONS[name].fields)
    others = [c for c in CORRUPTIONS if c != name and fields & set(CORRUPTIONS[c].fields)]
    return np.flatnonzero(rows_with(applied, [name], n) & ~rows_with(applied, others, n))


def _damerau_one(a: str, b: str) -> bool:
    """True if b is a with one letter inserted, deleted, substituted or transposed."""
    if a == b:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                                  and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return len(long_) - len(short) == 1 and any(
        long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


KEY_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _near_keys(a: str, b: str) -> bool:
    row = {k: (r, c + (0, 0.25, 0.75)[r]) for r, keys in enumerate(KEY_ROWS) for c, k in enumerate(keys)}
    (ra, xa), (rb, xb) = row[a.lower()], row[b.lower()]
    return a != b and abs(ra - rb) <= 1 and abs(xa - xb) <= 1.0 and a.isupper() == b.isupper()


def test_each_corruption_changes_what_it_claims(truth, busy):
    rec, applied = busy.records, busy.applied
    t = truth
    for name in CORRUPTIONS:
        assert len(_only(applied, name, N)) >= 50, f"too few examples of {name}"

    r = _only(applied, "dob_missing", N)
    assert (rec["date_of_birth"].to_numpy()[r] == NO_DATE).all()
    for name, field in [("nhs_missing", "nhs_number"), ("postcode_missing", "postcode")]:
        assert rec[field].iloc[_only(applied, name, N)].isna().all()

    r = _only(applied, "baby_name", N)
    assert (rec["forename"].iloc[r] == "Baby").all()
    assert (t["age_days_at_record"].iloc[r] < 28).all()
    r = _only(applied, "twin_confusion", N)
    assert (rec["forename"].iloc[r] == t["twin_forename"].iloc[r]).all()
    r = _only(applied, "household_copy", N)
    from_member = ((rec["forename"].iloc[r] == t["household_forename"].iloc[r])
                   | (rec["date_of_birth"].iloc[r] == t["household_dob"].iloc[r]))
    assert from_member.all()
    r = _only(applied, "surname_change", N)
    assert (rec["surname"].iloc[r] == t["partner_surname"].iloc[r]).all()
    assert (t["sex"].iloc[r] == "F").all()
    r = _only(applied, "name_swap", N)
    assert (rec["forename"].iloc[r] == t["surname"].iloc[r]).all()
    assert (rec["surname"].iloc[r] == t["forename"].iloc[r]).all()
    r = _only(applied, "nickname", N)
    nicknames = load_names_params()["nicknames"]
    pairs = zip(t["forename"].iloc[r], rec["forename"].iloc[r], strict=True)
    assert all(new in nicknames[old] for old, new in pairs)

    name_pairs = lambda rows: [  # noqa: E731
        (a, b) for f in ("forename", "surname")
        for a, b in zip(t[f].iloc[rows], rec[f].iloc[rows], strict=True) if a != b]
    for name, check in [("typo", _damerau_one), ("phonetic", lambda a, b: a != b)]:
        rows = _only(applied, name, N)
        pairs = name_pairs(rows)
        assert len(pairs) == len(rows), f"{name} must change exactly one name per row"
        assert all(check(a, b) for a, b in pairs), name
    rows = _only(applied, "keyboard", N)
    pairs = name_pairs(rows)
    assert len(pairs) == len(rows)
    for a, b in pairs:
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        assert len(a) == len(b) and len(diff) == 1 and diff[0] > 0 and _near_keys(a[diff[0]],
                                                                                 b[diff[0]])

    dob_t, dob_r = t["dob"].to_numpy(), rec["date_of_birth"].to_numpy()
    r = _only(applied, "dob_day_month_swap", N)
    y0, m0, d0 = _ymd(dob_t[r])
    y1, m1, d1 = _ymd(dob_r[r])
    assert (d0 <= 12).all() and (d0 != m0).all()
    assert (y1 == y0).all() and (m1 == d0).all() and (d1 == m0).all()
    r = _only(applied, "dob_digit", N)
    y1, m1, d1 = _ymd(dob_r[r])  # a valid date by construction of the int day count
    written = lambda y, m, d: [f"{a:02d}{b:02d}{c:04d}" for a, b, c in zip(d, m, y, strict=True)]  # noqa: E731
    for old, new in zip(written(*_ymd(dob_t[r])), written(y1, m1, d1), strict=True):
        assert sum(a != b for a, b in zip(old, new, strict=True)) == 1, (old, new)
    assert (dob_r[r] <= dob_t[r] + t["age_days_at_record"].to_numpy()[r]).all()
    r = _only(applied, "dob_default_jan1", N)
    y1, m1, d1 = _ymd(dob_r[r])
    assert (m1 == 1).all() and (d1 == 1).all() and (y1 == _ymd(dob_t[r])[0]).all()
    assert (dob_r[r] != dob_t[r]).all()

    r = _only(applied, "sex_error", N)
    assert (rec["sex"].iloc[r].to_numpy() != t["sex"].iloc[r].to_numpy()).all()
    assert rec["sex"].iloc[r].isin(["F", "M"]).all()

    r = _only(applied, "nhs_invalid", N)
    new, old = rec["nhs_number"].iloc[r], t["nhs_number"].iloc[r]
    assert not is_valid_nhs_number(new).any()
    assert all(sum(a != b for a, b in zip(x, y, strict=True)) == 1
               for x, y in zip(old, new, strict=True))
    r = _only(applied, "nhs_wrong_person", N)
    new = rec["nhs_number"].iloc[r]
    assert is_valid_nhs_number(new).all()
    assert (new.to_numpy() != t["nhs_number"].iloc[r].to_numpy()).all()
    assert new.isin(t["nhs_number"]).all()

    r = _only(applied, "postcode_out_of_date", N)
    assert (rec["postcode"].iloc[r] == t["previous_postcode"].iloc[r]).all()
    r = _only(applied, "postcode_invalid", N)
    assert t["postcode"].iloc[r].str.fullmatch(POSTCODE.pattern).all()
    assert not rec["postcode"].iloc[r].str.fullmatch(POSTCODE.pattern).any()


def test_fields_no_corruption_touched_are_the_truth(truth, busy):
    for field, column in FIELD_OF_TRUTH.items():
        touching = [c for c in CORRUPTIONS if field in CORRUPTIONS[c].fields]
        clean = ~rows_with(busy.applied, touching, N)
        got = busy.records[field].to_numpy()[clean]
        want = truth[column].to_numpy()[clean]
        assert (got == want).all(), field


def test_rows_carry_several_corruptions_in_the_documented_order(truth, busy):
    applied = busy.applied
    per_row = applied.groupby("row").size()
    assert (per_row >= 3).sum() > 100
    assert not applied.duplicated().any()
    order = {name: i for i, name in enumerate(CORRUPTIONS)}
    rank = applied["corruption"].map(order).to_numpy()
    same_row = applied["row"].to_numpy()[1:] == applied["row"].to_numpy()[:-1]
    assert (np.diff(rank)[same_row] > 0).all()
    # An out-of-date postcode that was then mistyped: the old address, malformed.
    both = np.flatnonzero(rows_with(applied, ["postcode_out_of_date"], N)
                          & rows_with(applied, ["postcode_invalid"], N))
    assert both.size > 10
    old = truth["previous_postcode"].iloc[both].str[:2].to_numpy()
    assert (busy.records["postcode"].iloc[both].str[:2].to_numpy() == old).all()
    # Blanks come first: a blanked date of birth is never then altered.
    blanked = rows_with(applied, ["dob_missing"], N)
    assert not (blanked & rows_with(applied, ["dob_digit", "dob_day_month_swap"], N)).any()


# --- Interface, determinism, counts, configuration ---


def test_output_shape_and_types(truth, captured):
    out = captured["cafcass"]
    assert list(out.records.columns) == list(FIELD_OF_TRUTH)
    assert len(out.records) == N
    assert out.records["date_of_birth"].dtype == np.int64
    for field in ("forename", "surname", "sex", "nhs_number", "postcode"):
        assert out.records[field].dtype == object, field
    assert list(out.applied.columns) == ["row", "corruption"]
    assert out.applied["row"].dtype == np.int64 and out.applied["corruption"].dtype == object
    assert set(out.applied["corruption"]) <= set(CORRUPTIONS)


def test_same_seed_same_records(truth):
    small = truth.iloc[:20_000].reset_index(drop=True)
    one = capture(small, "familyman", np.random.default_rng(1))
    two = capture(small, "familyman", np.random.default_rng(1))
    other = capture(small, "familyman", np.random.default_rng(2))
    pd.testing.assert_frame_equal(one.records, two.records)
    pd.testing.assert_frame_equal(one.applied, two.applied)
    assert not one.applied.equals(other.applied)


@pytest.mark.parametrize("source", SOURCES)
def test_record_counts_follow_the_configured_shares(source):
    shares = PARAMS["sources"][source]["records_per_person"]
    counts = record_counts(N, source, np.random.default_rng(4))
    assert counts.dtype == np.int64 and counts.min() >= 1
    for k, share in shares.items():
        assert_binomial(int((counts == k).sum()), np.full(N, share), f"{source} count {k}")
    assert set(np.unique(counts)) <= set(shares)
    mean = sum(k * s for k, s in shares.items())
    sd = np.sqrt(sum((k - mean) ** 2 * s for k, s in shares.items()) / N)
    assert abs(counts.mean() - mean) <= Z * sd + 1e-12


def _broken(change) -> dict:
    params = copy.deepcopy(PARAMS)
    change(params)
    return params


@pytest.mark.parametrize(("change", "words"), [
    (lambda p: p["sources"]["cafcass"]["rates"].update(tpyo=0.01), ["tpyo", "cafcass"]),
    (lambda p: p["sources"]["health"]["rates"].update(typo=1.5), ["typo", "health", "1.5"]),
    (lambda p: p["sources"]["cla"]["rates"].update(sex_error=-0.1), ["sex_error", "-0.1"]),
    (lambda p: p["sources"]["cafcass"]["rates"].update(baby_name={"under_1_day": 0.5}),
     ["under_1_day"]),
    (lambda p: p["sources"]["deaths"]["records_per_person"].update({2: 0.5}), ["deaths", "sum"]),
    (lambda p: p["group_multipliers"].update(not_multiplied=["nope"]), ["nope"]),
    (lambda p: p["sources"]["familyman"].update(not_recorded=["shoe_size"]), ["shoe_size"]),
])
def test_bad_configuration_is_named(truth, change, words):
    with pytest.raises(InputError) as error:
        capture(truth.iloc[:10], "cafcass", np.random.default_rng(0), _broken(change))
    for word in words:
        assert word in str(error.value)


def test_unknown_source_and_missing_columns_are_named(truth):
    with pytest.raises(InputError, match="'hospital'.*cafcass"):
        capture(truth.iloc[:10], "hospital", np.random.default_rng(0))
    with pytest.raises(InputError, match="hospital"):
        record_counts(10, "hospital", np.random.default_rng(0))
    with pytest.raises(InputError, match="postcode"):
        capture(truth.iloc[:10].drop(columns="postcode"), "cafcass", np.random.default_rng(0))
