"""The pinned stack works together on pandas 3.1.

acro, lifelines and pycanon are installed with ``--no-deps`` because their declared pandas
bounds exclude pandas 3.1 (see requirements-nodeps.txt). These tests exercise each of them,
and the other libraries the course relies on, on small pandas 3.1 frames, so an incompatible
upgrade or a missing runtime dependency shows up here rather than in a learner's notebook.
"""

import os
import sys
import warnings
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from packaging.version import Version

# --- versions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("distribution", "expected"),
    [
        ("nbgrader", "0.9.6"),
        ("jupyter-book", "1.0.4.post1"),
        ("acro", "1.0.2"),
        ("lifelines", "0.30.3"),
        ("pycanon", "1.3.6"),
        ("jupyterhub", "5.5.4"),
    ],
)
def test_exact_versions(distribution, expected):
    assert version(distribution) == expected


def test_version_ranges():
    assert Version(pd.__version__).release[:2] == (3, 1)
    assert Version("2.0") <= Version(version("sqlalchemy")) < Version("2.1")
    assert Version(version("splink")).major == 5


# --- acro: statistical disclosure control ----------------------------------------------------


@pytest.fixture
def orders():
    """Cases by region and order type; South/supervision and all of Wales fall under 10."""
    region = ["North"] * 30 + ["South"] * 25 + ["Wales"] * 5
    order = (
        ["care"] * 20 + ["supervision"] * 10 + ["care"] * 20 + ["supervision"] * 5 + ["care"] * 5
    )
    return pd.DataFrame({"region": region, "order_type": order})


def test_acro_crosstab_suppresses_small_cells(orders, tmp_path, monkeypatch):
    from acro import ACRO

    monkeypatch.chdir(tmp_path)
    acro = ACRO(suppress=True)
    table = acro.crosstab(orders["region"], orders["order_type"])

    assert table.loc["North", "care"] == 20
    assert table.loc["North", "supervision"] == 10
    assert table.loc["South", "care"] == 20
    # 5 cases, 5 cases and a zero: all under the threshold of 10, so all suppressed.
    assert np.isnan(table.loc["South", "supervision"])
    assert np.isnan(table.loc["Wales", "care"])
    assert np.isnan(table.loc["Wales", "supervision"])

    keys = acro.results.get_keys()
    assert len(keys) == 1
    record = acro.results.get(keys[0])
    assert record.output_type == "table"
    assert record.properties["method"] == "crosstab"
    assert record.sdc["summary"]["MinimumThresholdCheck"] == 3
    assert record.status == "review"

    acro.finalise("outputs", "json")
    assert (tmp_path / "outputs" / "results.json").is_file()


# --- lifelines: survival analysis ------------------------------------------------------------


def test_kaplan_meier_median():
    from lifelines import KaplanMeierFitter

    # Survival falls by 0.2 at each of t = 1..5; it first reaches 0.5 or below at t = 3.
    durations = pd.Series([1, 2, 3, 4, 5], dtype="float64")
    observed = pd.Series([True] * 5)
    kmf = KaplanMeierFitter().fit(durations, event_observed=observed)
    assert kmf.median_survival_time_ == 3
    assert kmf.survival_function_.iloc[-1, 0] == pytest.approx(0.0)


def test_cox_hazard_ratio_sign():
    from lifelines import CoxPHFitter

    rng = np.random.default_rng(7)
    n = 300
    treated = rng.integers(0, 2, n)
    # Exponential durations whose hazard is e (about 2.7) times higher when treated == 1.
    duration = rng.exponential(1 / np.exp(treated))
    df = pd.DataFrame(
        {
            "duration": duration,
            "event": rng.random(n) < 0.9,
            "treated": treated,
        }
    )
    cph = CoxPHFitter().fit(df, "duration", "event")
    hazard_ratio = cph.hazard_ratios_["treated"]
    assert 1.5 < hazard_ratio < 5
    assert cph.summary.loc["treated", "p"] < 0.001


# --- pycanon: anonymity measures -------------------------------------------------------------


def test_pycanon_k_anonymity_and_l_diversity():
    from pycanon import anonymity

    df = pd.DataFrame(
        {
            "age_band": ["0-4"] * 3 + ["5-9"] * 2 + ["10-15"] * 4,
            "region": ["Wales"] * 3 + ["North"] * 2 + ["London"] * 4,
            "order_type": [
                "care",
                "supervision",
                "care",
                "care",
                "care",
                "care",
                "supervision",
                "none",
                "care",
            ],
        }
    )
    quasi = ["age_band", "region"]
    assert anonymity.k_anonymity(df, quasi) == 2
    # The 5-9/North class has a single order type.
    assert anonymity.l_diversity(df, quasi, ["order_type"]) == 1


# --- splink 5: record linkage ----------------------------------------------------------------


def test_splink_dedupe_scores_duplicates_higher():
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    people = [
        ("Amelia", "Jones", "2015-03-02", "CF10"),
        ("Osian", "Jones", "2012-07-19", "CF10"),  # sibling of the record above
        ("Isla", "Smith", "2018-11-30", "LS6"),
        ("Noah", "Smith", "2010-01-05", "LS6"),  # sibling
        ("Freya", "Davies", "2016-05-23", "NP20"),
        ("Leo", "Brown", "2014-09-14", "B15"),
        ("Ava", "Taylor", "2019-02-28", "NE1"),
        ("Jack", "Thomas", "2011-12-01", "CF24"),
        ("Mia", "Roberts", "2017-06-06", "B15"),  # shares a district with Leo Brown
        ("Harry", "Johnson", "2013-04-17", "L8"),
        ("Evie", "Walker", "2015-08-08", "S10"),
        ("George", "Wright", "2012-10-10", "NG7"),
        ("Ivy", "Hughes", "2016-12-25", "LL57"),
        ("Arthur", "Lewis", "2018-03-03", "SA2"),
    ]
    person = list(range(len(people))) + [0, 1, 2, 3, 5, 8]
    df = pd.DataFrame(
        [people[p] for p in person],
        columns=["first_name", "surname", "dob", "postcode_district"],
    )
    df.insert(0, "unique_id", range(len(df)))

    def exact(column):
        return cl.ExactMatch(column).configure(
            m_probabilities=[0.95, 0.05], u_probabilities=[0.05, 0.95]
        )

    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[exact(c) for c in ["first_name", "surname", "dob", "postcode_district"]],
        blocking_rules_to_generate_predictions=[
            block_on("surname"),
            block_on("postcode_district"),
        ],
        probability_two_random_records_match=0.05,
    )
    sdf = DuckDBAPI().register(df)
    linker = Linker(sdf, settings, log_level=None)
    pairs = linker.inference.predict().as_pandas_dataframe()

    pairs["duplicate"] = [
        person[left] == person[right]
        for left, right in zip(pairs["unique_id_l"], pairs["unique_id_r"], strict=True)
    ]
    assert pairs["duplicate"].sum() == 6  # every true duplicate pair was generated
    assert (~pairs["duplicate"]).sum() > 0  # and some non-duplicates were compared too
    dup_p = pairs.loc[pairs["duplicate"], "match_probability"]
    other_p = pairs.loc[~pairs["duplicate"], "match_probability"]
    assert dup_p.min() > 0.99
    assert other_p.max() < 0.5
    assert dup_p.min() > other_p.max()


# --- duckdb ----------------------------------------------------------------------------------


def test_duckdb_queries_pandas_frame():
    import duckdb

    cases = pd.DataFrame(
        {
            "region": pd.Series(["Wales", "North", "Wales", "London", "Wales"], dtype="str"),
            "children": [1, 2, 3, 1, 2],
        }
    )
    con = duckdb.connect()
    con.register("cases", cases)
    result = con.sql(
        "select region, count(*) as n, sum(children) as children "
        "from cases group by region order by region"
    ).df()
    con.close()
    assert result["region"].tolist() == ["London", "North", "Wales"]
    assert result["n"].tolist() == [1, 1, 3]
    assert result["children"].tolist() == [1, 2, 6]


# --- nbgrader on sqlalchemy 2.0 --------------------------------------------------------------


def test_nbgrader_gradebook_without_sqlalchemy_warnings(tmp_path, monkeypatch):
    from nbgrader.api import Gradebook
    from sqlalchemy import exc

    # nbgrader runs the `alembic` command by name; `make` puts the venv on PATH, do the same
    # here so the test also passes when run as `.venv/bin/python -m pytest`.
    bin_dir = str(Path(sys.executable).parent)
    monkeypatch.setenv("PATH", bin_dir + os.pathsep + os.environ.get("PATH", ""))

    with warnings.catch_warnings():
        warnings.simplefilter("error", exc.SAWarning)
        warnings.simplefilter("error", exc.SADeprecationWarning)
        with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gb:
            gb.add_assignment("module_01")
            gb.add_student("learner_01", first_name="Test", last_name="Learner")
            assert [a.name for a in gb.assignments] == ["module_01"]
            assert [s.id for s in gb.students] == ["learner_01"]
