"""Benchmark the trusted third party: matching a million records to a 2.5-million-person index.

    .venv/bin/python benchmarks/ttp.py            # 2.5M index, 1M records
    .venv/bin/python benchmarks/ttp.py --quick    # 250k index, 100k records

The index is a simple population built for the purpose: households sharing a surname and an
address history, names from the project's name pools, twins, NHS numbers from the unissued
ranges. Records copy index people with capture errors at the rates suggested for court and
Cafcass-type identifier files (no publication quantifies most of them, so they are assumptions),
plus people who are not in the index at all. Figures printed:

1. wall time of ``link_to_index`` (target: under 15 s on two cores at full size);
2. precision (matched records whose person is right) and recall (records of indexed people
   matched to the right person), overall and by status code;
3. the share of records by status code and of scores by band, to set beside SAIL's.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from synthetic_data.core.dates import NO_DATE
from synthetic_data.core.identifiers import draw_nhs_numbers
from synthetic_data.linkage.ttp import STATUS, PopulationIndex, link_to_index
from synthetic_data.world.names import NamePools, nickname_of

TARGET_SECONDS = 15.0
ETHNIC_SHARES = {"White": 0.82, "Mixed": 0.03, "Black": 0.04, "Asian": 0.09, "Other": 0.02}
FIRST_DOB, LAST_DOB = -10_950, 19_700  # 1940 to 2023, in days since 1970-01-01
# Capture errors, per record (ASSUMPTIONS at the suggested rates for court-type identifier files).
ERRORS = {
    "nhs_missing": 0.6,
    "forename_nickname": 0.04,
    "forename_typo": 0.02,
    "surname_typo": 0.025,
    "surname_changed": 0.05,
    "dob_swapped": 0.005,
    "dob_digit": 0.005,
    "dob_missing": 0.03,
    "sex_wrong": 0.001,
    "postcode_missing": 0.07,
    "postcode_previous": 0.25,
    "postcode_unknown": 0.10,
}
ABSENT_SHARE = 0.1  # records of people who are not in the index
LETTERS = np.array(list("ABCDEFGHIJKLMNOPRSTUWY"), dtype=object)


def _postcodes(n: int, rng: np.random.Generator) -> np.ndarray:
    """Postcode-like strings in areas (Q, V, X first) no real postcode uses."""
    area = rng.choice(np.array(["Q", "V", "X"], dtype=object), n) + rng.choice(LETTERS, n)
    district = rng.integers(1, 60, n).astype(str).astype(object)
    inward = rng.integers(0, 10, n).astype(str).astype(object) + rng.choice(LETTERS, n) + rng.choice(
        LETTERS, n
    )
    return area + district + " " + inward


def build_people(n: int, rng: np.random.Generator, pools: NamePools) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n`` people in households of 1-5 sharing surname and addresses; 1.5% of births twins."""
    sizes = rng.choice([1, 2, 3, 4, 5], size=n // 2, p=[0.3, 0.3, 0.2, 0.15, 0.05])
    household = np.repeat(np.arange(sizes.size), sizes)[:n]
    n_house = int(household.max()) + 1
    groups = np.array(list(ETHNIC_SHARES), dtype=object)
    house_group = rng.choice(groups, n_house, p=list(ETHNIC_SHARES.values()))
    group = house_group[household]
    house_surname = pools.surnames(house_group, rng)
    sex = rng.choice(np.array(["F", "M"], dtype=object), n)
    dob = rng.integers(FIRST_DOB, LAST_DOB, n)
    # Twins: the next person in the same household shares the date of birth.
    twin = (rng.random(n) < 0.015) & np.r_[household[1:] == household[:-1], False]
    dob[np.flatnonzero(twin) + 1] = dob[twin]
    year = 1970 + dob // 365
    people = pd.DataFrame(
        {
            "person": np.arange(n, dtype=np.int64) * 7 + 3,  # ids that are not positions
            "forename": pools.forenames(sex, year, group, rng),
            "surname": house_surname[household],
            "sex": sex,
            "dob": dob.astype(np.int64),
            "nhs_number": draw_nhs_numbers(n, rng).astype(object),
        }
    )
    house_postcodes = _postcodes(n_house * 3, rng).reshape(n_house, 3)  # current, two previous
    moves = rng.choice([1, 2, 3], size=n, p=[0.5, 0.3, 0.2])  # addresses each person lived at
    owner = np.repeat(np.arange(n), moves)
    which = _address_slots(moves)
    postcodes = pd.DataFrame(
        {"person": people["person"].to_numpy()[owner], "postcode": house_postcodes[household[owner], which]}
    )
    return people, postcodes


def _address_slots(moves: np.ndarray) -> np.ndarray:
    """0, 1, ..., k-1 for each person with k addresses (0 = current)."""
    starts = np.cumsum(moves) - moves
    return np.arange(moves.sum()) - np.repeat(starts, moves)


def _typo(names: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One letter of each name replaced, dropped or doubled."""
    out = names.copy()
    for k, name in enumerate(names):
        if not isinstance(name, str) or len(name) < 2:
            continue
        pos = int(rng.integers(1, len(name)))
        kind = int(rng.integers(0, 3))
        letter = str(rng.choice(LETTERS)).lower()
        out[k] = (
            name[:pos] + letter + name[pos + 1:] if kind == 0
            else name[:pos] + name[pos + 1:] if kind == 1
            else name[:pos] + name[pos] + name[pos:]
        )
    return out


def make_records(
    people: pd.DataFrame, postcodes: pd.DataFrame, absent: pd.DataFrame, n: int,
    rng: np.random.Generator, pools: NamePools,
) -> tuple[pd.DataFrame, np.ndarray]:
    """``n`` identifier records with capture errors, and the true person (-1: not in the index)."""
    n_absent = int(n * ABSENT_SHARE)
    chosen = rng.choice(len(people), n - n_absent, replace=False)
    source = pd.concat([people.iloc[chosen], absent.iloc[:n_absent]], ignore_index=True)
    truth = np.r_[people["person"].to_numpy()[chosen], np.full(n_absent, -1, np.int64)]
    order = rng.permutation(n)
    source, truth = source.iloc[order].reset_index(drop=True), truth[order]

    def hit(rate: float) -> np.ndarray:
        return rng.random(n) < rate

    forename = source["forename"].to_numpy(dtype=object).copy()
    surname = source["surname"].to_numpy(dtype=object).copy()
    sel = hit(ERRORS["forename_nickname"])
    forename[sel] = nickname_of(forename[sel], rng)
    sel = hit(ERRORS["forename_typo"])
    forename[sel] = _typo(forename[sel], rng)
    sel = hit(ERRORS["surname_typo"])
    surname[sel] = _typo(surname[sel], rng)
    sel = hit(ERRORS["surname_changed"])
    surname[sel] = pools.surnames(np.full(sel.sum(), "White", dtype=object), rng)

    dob = source["dob"].to_numpy(dtype=np.int64).copy()
    dates = pd.to_datetime(dob, unit="D")
    swappable = hit(ERRORS["dob_swapped"]) & (dates.day <= 12) & (dates.day != dates.month)
    swapped = pd.to_datetime(
        pd.DataFrame({"year": dates.year, "month": dates.day, "day": dates.month})[swappable]
    )
    dob[swappable] = (swapped - pd.Timestamp("1970-01-01")).dt.days.to_numpy()
    sel = hit(ERRORS["dob_digit"])
    dob[sel] += rng.choice([-10, -2, -1, 1, 2, 10], sel.sum())
    dob[hit(ERRORS["dob_missing"])] = NO_DATE

    sex = source["sex"].to_numpy(dtype=object).copy()
    sel = hit(ERRORS["sex_wrong"])
    sex[sel] = np.where(sex[sel] == "F", "M", "F")

    nhs = source["nhs_number"].to_numpy(dtype=object).copy()
    nhs[hit(ERRORS["nhs_missing"])] = None

    # Postcode: usually the current address, sometimes an earlier one, a new one or none.
    addresses = postcodes.groupby("person", sort=True)["postcode"]
    current = addresses.first().reindex(truth).to_numpy(dtype=object)
    earliest = addresses.last().reindex(truth).to_numpy(dtype=object)
    postcode = np.where(hit(ERRORS["postcode_previous"]), earliest, current)
    unknown = hit(ERRORS["postcode_unknown"]) | (truth == -1)
    postcode[unknown] = _postcodes(int(unknown.sum()), rng)
    postcode[hit(ERRORS["postcode_missing"])] = None

    records = pd.DataFrame(
        {"forename": forename, "surname": surname, "sex": sex, "date_of_birth": dob,
         "nhs_number": nhs, "postcode": postcode}
    )
    return records, truth


def report(result: pd.DataFrame, truth: np.ndarray, seconds: float) -> None:
    person = result["person"].to_numpy()
    matched = person != -1
    right = matched & (person == truth)
    indexed = truth != -1
    print(f"link_to_index: {seconds:.1f} s for {len(result):,} records (target {TARGET_SECONDS:.0f} s)")
    print(f"precision {right.sum() / max(matched.sum(), 1):.4f}  "
          f"recall {right.sum() / max(indexed.sum(), 1):.4f}  "
          f"absent people matched {(matched & ~indexed).sum():,} of {(~indexed).sum():,}")
    status = result["alf_sts_cd"].to_numpy()
    for code, meaning in STATUS.items():
        here = status == code
        line = f"  {code:>2} {meaning:<62} {here.mean():7.2%}"
        if code != 99 and here.any():
            line += f"  precision {right[here].sum() / here.sum():.4f}"
        print(line)
    score = result["alf_mtch_pct"].dropna()
    print("scores of matched records: "
          f"1.0 {np.mean(score == 1.0):.1%}, 0.9-1 {np.mean((score >= 0.9) & (score < 1.0)):.1%}, "
          f"0.5-0.9 {np.mean(score < 0.9):.1%}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a tenth of the size")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    n_index, n_records = (250_000, 100_000) if args.quick else (2_500_000, 1_000_000)
    rng = np.random.default_rng(args.seed)
    pools = NamePools.build()
    started = time.perf_counter()
    people, postcodes = build_people(n_index + n_records, rng, pools)
    # People beyond the first n_index are left out of the index: records of them should not match.
    inside = people["person"].to_numpy() < people["person"].to_numpy()[n_index]
    index = PopulationIndex(people[inside].reset_index(drop=True),
                            postcodes[postcodes["person"].isin(people["person"][inside])])
    records, truth = make_records(index.people, postcodes, people[~inside].reset_index(drop=True),
                                  n_records, rng, pools)
    print(f"built an index of {len(index.people):,} people ({len(index.postcodes):,} postcodes) "
          f"and {len(records):,} records in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    result = link_to_index(records, index)
    report(result, truth, time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
