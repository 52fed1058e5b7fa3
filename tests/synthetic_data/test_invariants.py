"""Invariants of a generated dataset: no impossible person in any table or view.

Every record is traced to the person behind it (the answer key), and what the record says
happened is checked against that person's life: a mother aged 13 to 55 at each birth, nothing
before a birth or after a death, one address, one placement, one hospital stay and one GP
practice at a time, and each week of birth the week of the date of birth it was made from.
Dates of birth *as recorded* may be mistyped (the data quality course teaches finding them), so
recorded dates are held to the truth only where the capture model leaves them alone; a recorded
age that is impossible must come from such a typo.

Each invariant is one DuckDB query over the classroom dataset's files that returns the rows
breaking it, so the whole module runs in seconds once the dataset exists.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from synthetic_data.api import load, manifest
from synthetic_data.linkage.tre import encrypt_ids, week_of_birth

pytestmark = pytest.mark.slow

END_OF_TIME = "DATE '9999-12-31'"
MOTHER_AGES = (13, 55)  # completed years at a birth
FATHER_MIN_AGE = 13

# Every dated record of a person: (table, record id column, identifier file of that id, date
# columns that must fall within the person's life). The id resolves to a person through the
# answer key (record_person_key; cafcass_person_key for Cafcass records).
EVENTS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("health_admissions", "health_patient_id", "health_patients",
     ("admission_date", "discharge_date")),
    ("health_ed_attendances", "health_patient_id", "health_patients", ("attendance_date",)),
    ("health_gp_registrations", "health_patient_id", "health_patients",
     ("start_date", "end_date")),
    ("health_maternity", "mother_patient_id", "health_patients", ("birth_date",)),
    ("health_births", "mother_patient_id", "health_patients", ("birth_date",)),
    ("education_census", "pupil_id", "education_pupils", ("census_date",)),
    ("cla_episodes", "cla_child_id", "cla_children", ("episode_start", "episode_end")),
    ("cafcass_orders", "cafcass_person_id", "cafcass_people", ("order_date",)),
    ("death_registrations", "death_id", "death_registrations", ("date_of_death",)),
)

# Spells in which a person can be in one place only: (name, query giving person_id, start, end
# with NULL for a spell still running at the end of the period).
SPELLS: dict[str, str] = {
    "addresses": "SELECT person_id, date_from AS s, date_to AS e FROM world_residences",
    "care placements": """SELECT r.person_id, episode_start AS s, episode_end AS e
        FROM cla_episodes t JOIN rec r ON r.record_id = t.cla_child_id""",
    "GP registrations": """SELECT r.person_id, start_date AS s, end_date AS e
        FROM health_gp_registrations t JOIN rec r ON r.record_id = t.health_patient_id""",
    "hospital stays": """SELECT r.person_id, admission_date AS s, discharge_date AS e
        FROM health_admissions t JOIN rec r ON r.record_id = t.health_patient_id""",
}


def _age(born: str, on: str) -> str:
    """Age in completed years on a day (a birthday counts from the day itself)."""
    return f"floor(date_diff('day', {born}, {on}) / 365.25)"


def _within_life(table: str, id_col: str, date_col: str) -> str:
    return f"""SELECT t.{id_col}, t.{date_col}, p.dob, p.dod FROM {table} t
        JOIN rec r ON r.record_id = t.{id_col} JOIN life p USING (person_id)
        WHERE t.{date_col} < p.dob OR t.{date_col} > p.dod"""


def _overlapping(spells: str) -> str:
    """Spells that start before the same person's previous spell has ended (a spell may start
    on the day the previous one ends: a move, a transfer, a readmission)."""
    return f"""WITH s AS ({spells}), o AS (
        SELECT *, lag(coalesce(e, {END_OF_TIME})) OVER (PARTITION BY person_id ORDER BY s, e)
            AS previous_end FROM s)
        SELECT * FROM o WHERE s < previous_end"""


INVARIANTS: dict[str, str] = {
    "mother aged 13-55 at each birth": f"""
        SELECT c.person_id, m.person_id AS mother_id, {_age("m.dob", "c.dob")} AS age
        FROM life c JOIN life m ON c.mother_id = m.person_id
        WHERE {_age("m.dob", "c.dob")} NOT BETWEEN {MOTHER_AGES[0]} AND {MOTHER_AGES[1]}""",
    "father aged 13 or over at each birth": f"""
        SELECT c.person_id, f.person_id AS father_id, {_age("f.dob", "c.dob")} AS age
        FROM life c JOIN life f ON c.father_id = f.person_id
        WHERE {_age("f.dob", "c.dob")} < {FATHER_MIN_AGE}""",
    "child born while its mother was alive": """
        SELECT c.person_id FROM life c JOIN life m ON c.mother_id = m.person_id
        WHERE c.dob > m.dod""",
    "death after birth": "SELECT * FROM life WHERE dod < dob",
    "partnership while both partners were alive": """
        SELECT t.* FROM world_partnerships t JOIN life m ON m.person_id = t.mother_id
        JOIN life f ON f.person_id = t.father_id
        WHERE t.start_date < greatest(m.dob, f.dob) OR t.start_date > least(m.dod, f.dod)""",
    "addresses within the person's life": """
        SELECT t.* FROM world_residences t JOIN life p USING (person_id)
        WHERE t.date_from < p.dob OR t.date_from > p.dod
           OR coalesce(t.date_to, DATE '9999-12-31') > p.dod""",
    "Cafcass party alive at the case's receipt": """
        SELECT t.case_id, t.party_role, c.received_date, p.dob, p.dod
        FROM cafcass_case_parties t JOIN cafcass_cases c USING (case_id)
        JOIN rec r ON r.record_id = t.cafcass_person_id JOIN life p USING (person_id)
        WHERE c.received_date < p.dob OR c.received_date > p.dod""",
    "court party alive at the case's issue": """
        SELECT t.party_id, t.party_role, c.issue_date, p.dob, p.dod
        FROM familyman_parties t JOIN familyman_cases c USING (case_number_hash)
        JOIN rec r ON r.record_id = t.party_id JOIN life p USING (person_id)
        WHERE c.issue_date < p.dob OR c.issue_date > p.dod""",
    "baby's birth is its birth": """
        SELECT t.birth_id, t.birth_date, p.dob FROM health_births t
        JOIN rec r ON r.record_id = t.baby_patient_id JOIN life p USING (person_id)
        WHERE t.birth_date <> p.dob""",
    "maternity record on the baby's birthday": """
        SELECT t.birth_id, t.birth_date, p.dob FROM health_maternity t
        JOIN rec r ON r.record_id = t.baby_patient_id JOIN life p USING (person_id)
        WHERE t.birth_date <> p.dob""",
    "death registered on the death, after it": """
        SELECT t.death_id, t.date_of_death, t.registration_date, p.dod FROM death_registrations t
        JOIN rec r ON r.record_id = t.death_id JOIN life p USING (person_id)
        WHERE t.date_of_death <> p.dod OR t.registration_date < t.date_of_death""",
    "one school census return per pupil and day": """
        SELECT r.person_id, t.census_date, count(*) AS n FROM education_census t
        JOIN rec r ON r.record_id = t.pupil_id GROUP BY ALL HAVING count(*) > 1""",
    "an impossible recorded mother's age is a mistyped date of birth": f"""
        SELECT t.birth_id, h.date_of_birth AS recorded, p.dob AS true_dob, t.birth_date
        FROM health_births t JOIN health_patients h ON h.health_patient_id = t.mother_patient_id
        JOIN rec r ON r.record_id = t.mother_patient_id JOIN life p USING (person_id)
        WHERE {_age("h.date_of_birth", "t.birth_date")} NOT BETWEEN {MOTHER_AGES[0]} AND {MOTHER_AGES[1]}
          AND h.date_of_birth = p.dob""",
}
INVARIANTS.update({f"{table}.{col} within the person's life": _within_life(table, id_col, col)
                   for table, id_col, _, cols in EVENTS for col in cols})
INVARIANTS.update({f"one {name} at a time": _overlapping(sql) for name, sql in SPELLS.items()})


@pytest.fixture(scope="module")
def db(classroom_dataset: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """Views over every file of the dataset, ``life`` (each person's birth and death, or the
    end of time) and ``rec`` (every record id and the person behind it)."""
    con = duckdb.connect()
    for path in sorted(classroom_dataset.glob("*/*.parquet")):
        con.sql(f"CREATE VIEW {path.stem} AS SELECT * FROM read_parquet('{path}')")
    con.sql(f"""CREATE VIEW life AS SELECT person_id, mother_id, father_id,
        date_of_birth AS dob, coalesce(date_of_death, {END_OF_TIME}) AS dod FROM world_people""")
    con.sql("""CREATE VIEW rec AS SELECT record_id, person_id FROM record_person_key
        UNION ALL SELECT cafcass_person_id, person_id FROM cafcass_person_key""")
    yield con
    con.close()


@pytest.mark.parametrize("name", list(INVARIANTS))
def test_invariant(db: duckdb.DuckDBPyConnection, name: str) -> None:
    broken = db.sql(INVARIANTS[name])
    count = db.sql("SELECT count(*) FROM broken").fetchone()[0]
    assert count == 0, f"{name}: {count} rows, such as\n{broken.limit(5).df().to_string()}"


def test_every_record_is_traced_to_a_person(db: duckdb.DuckDBPyConnection) -> None:
    """The checks above join through the answer key: a record it cannot place would escape
    them, so every person record of every identifier file must be in it."""
    for table, id_col, _, _ in EVENTS:
        missing = db.sql(f"""SELECT count(*) FROM {table} t
            WHERE t.{id_col} IS NOT NULL AND t.{id_col} NOT IN (SELECT record_id FROM rec)""")
        assert missing.fetchone()[0] == 0, table
    assert db.sql("SELECT count(*) FROM health_births").fetchone()[0] > 1000


def test_every_week_of_birth_is_the_week_of_its_recorded_date_of_birth(
        classroom_dataset: Path) -> None:
    """Each TRE record's WOB is the Monday of the week of the date of birth on the provider's
    record it came from (found by encrypting the provider's id with the project key)."""
    key = manifest(classroom_dataset)["config"]["project_key"]
    pairs = {"tre_cafcass_people": ("cafcass_people", "cafcass_person_id"),
             "tre_health_patients": ("health_patients", "health_patient_id"),
             "tre_education_pupils": ("education_pupils", "pupil_id"),
             "tre_cla_children": ("cla_children", "cla_child_id"),
             "tre_familyman_parties": ("familyman_parties", "party_id"),
             "tre_death_registrations": ("death_registrations", "death_id")}
    for tre_name, (name, id_col) in pairs.items():
        source = load(name, classroom_dataset)
        hashed = pd.Series(np.asarray(encrypt_ids(source[id_col], key, id_col), dtype="int64"))
        expected = pd.Series(week_of_birth(source["date_of_birth"]), index=hashed.to_numpy())
        tre = load(tre_name, classroom_dataset)
        wob = pd.to_datetime(tre["wob"]).to_numpy(dtype="datetime64[D]")
        ids = tre[f"{id_col}_pe"].astype("int64")
        assert len(tre) > 0 and ids.isin(expected.index).all(), tre_name
        want = expected.reindex(ids).to_numpy(dtype="datetime64[D]")
        same = (wob == want) | (np.isnat(wob) & np.isnat(want))
        assert same.all(), f"{tre_name}: {int((~same).sum())} weeks of birth differ"
        monday = pd.Series(wob[~np.isnat(wob)]).dt.day_of_week == 0
        assert monday.all(), tre_name
