"""The trusted third party of the split-file approach: matching identifiers to a population index.

In SAIL a data provider splits each dataset in two. The identifier file (File 1) goes to a trusted
third party, which matches every record to the population index (the Welsh Demographic Service,
built on the NHS register) and passes on an encrypted Anonymised Linking Field (ALF) with a match
status (ALF_STS_CD) and score (ALF_MTCH_PCT); the content goes to SAIL separately, and a join key
reunites the two (Ford et al. 2009, BMC Health Serv Res 9:157; Lyons et al. 2009, BMC Med Inform
Decis Mak 9:3). Against the NHS register the best method found 99.9% of GP records, 99.3% of
hospital admissions and only 95.2% of a social-services dataset: linkage error is part of what
analysts of linked family justice data must learn to measure, so here it is never drawn at random.
It arises, as in the real process, from what the identifiers say.

Matching runs in stages, each on the records the earlier ones left:

1. deterministic on a valid NHS number with date of birth and sex (status 1, score 1.0);
2. deterministic on forename, surname, date of birth, sex and a postcode the person has lived at,
   all exact after standardising (status 4, score 1.0);
3. probabilistic (Fellegi-Sunter, fixed m and u from ``params/ttp.yaml``) over candidates from a
   few blocking rules; a record takes its best candidate if no other scores as well and the
   posterior match probability is at least 0.5 (status 39 from 0.9, else 35, flagged unsafe).

Everything runs in an in-process DuckDB database; the result depends only on the input, never on
thread scheduling, because no step's outcome depends on row order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from synthetic_data.core.dates import NO_DATE
from synthetic_data.core.errors import InputError
from synthetic_data.core.params import load_params, validate_params
from synthetic_data.linkage import fields as f
from synthetic_data.linkage.alf import UNMATCHED, anonymised_linking_field

__all__ = ["STATUS", "PopulationIndex", "PreparedIndex", "anonymised_linking_field",
           "link_to_index", "load_ttp_params"]

# ALF_STS_CD values as public SAIL project code uses them: analysts keep 1, 4 and 39.
NHS_NUMBER_MATCH, DEMOGRAPHIC_MATCH, PROBABLE_MATCH, UNSAFE_MATCH, NOT_MATCHED = 1, 4, 39, 35, 99
# The statuses analysts keep: every other record is treated as unlinked.
SAFE_STATUSES = (NHS_NUMBER_MATCH, DEMOGRAPHIC_MATCH, PROBABLE_MATCH)
STATUS: dict[int, str] = {
    NHS_NUMBER_MATCH: "deterministic match on NHS number, date of birth and sex",
    DEMOGRAPHIC_MATCH: "deterministic match on name, date of birth, sex and postcode",
    PROBABLE_MATCH: "probabilistic match, score 0.9 or more",
    UNSAFE_MATCH: "probabilistic match, score from 0.5 to 0.9: flagged unsafe",
    NOT_MATCHED: "not matched",
}

RECORD_COLUMNS = ("forename", "surname", "sex", "date_of_birth", "nhs_number", "postcode")
PEOPLE_COLUMNS = ("person", "forename", "surname", "sex", "dob", "nhs_number")
POSTCODE_COLUMNS = ("person", "postcode")
# Fields compared in the probabilistic stage, each with its levels' m and u in ttp.yaml.
COMPARED_FIELDS = ("nhs_number", "forename", "surname", "date_of_birth", "sex", "postcode")

# Candidate pairs each blocking rule proposes (``t`` a record, ``i`` an index person, ``p`` one of
# the person's postcodes). Named in ttp.yaml so the rules in use are part of the parameters.
BLOCKING_SQL: dict[str, str] = {
    "nhs_number": "FROM todo t JOIN idx i ON t.nhs = i.nhs",
    "dob_forename_soundex": "FROM todo t JOIN idx i ON t.dob = i.dob AND t.fsx = i.fsx",
    "dob_surname_soundex": "FROM todo t JOIN idx i ON t.dob = i.dob AND t.sdx = i.sdx",
    "soundex_yob": (
        "FROM todo t JOIN idx i ON t.sdx = i.sdx AND t.fsx = i.fsx AND t.yob = i.yob"
    ),
    "postcode_yob": (
        "FROM todo t JOIN ipc p ON t.pc = p.pc JOIN idx i ON i.person = p.person AND i.yob = t.yob"
    ),
}


@dataclass
class PopulationIndex:
    """The register the trusted third party matches against (SAIL: the Welsh Demographic Service).

    ``people``: person (int64, unique), forename, surname, sex ('F'/'M'), dob (int64 days since
    1970-01-01), nhs_number (str). ``postcodes``: person, postcode, one row for every postcode each
    person has lived at, because a record may carry an old address.
    """

    people: pd.DataFrame
    postcodes: pd.DataFrame


def load_ttp_params() -> dict[str, Any]:
    """``ttp.yaml`` as the run uses it, checked (shared: copy it before changing anything)."""
    return load_params("ttp")


class PreparedIndex:
    """The population index standardised and loaded into DuckDB once, to link several files.

    Loading the index costs more than matching a file against it (Wales: 2.5 million people and
    8.7 million addresses), and a generator links the family justice file on its own before the
    other sources; preparing once saves a reload. Use it as a context manager (or call
    :meth:`close`); pass it to :func:`link_to_index` in place of the :class:`PopulationIndex`.
    Each link drops the tables it made; only the names it brought stay, added to the shared name
    vocabulary, whose codes never change a result. One prepared index must not be used by two
    threads at once.
    """

    def __init__(self, index: PopulationIndex) -> None:
        _require(index.people, PEOPLE_COLUMNS, "index.people")
        _require(index.postcodes, POSTCODE_COLUMNS, "index.postcodes")
        people = index.people
        if people["person"].duplicated().any():
            raise InputError("index.people has repeated person ids; each person must appear once")
        self.n_index = len(people)
        self.names = f.NameVocabulary()
        self.postcodes = f.PostcodeVocabulary()
        self.con = duckdb.connect()
        try:
            self.con.execute("SET enable_progress_bar = false")
            self.con.execute("CREATE TABLE name (code INTEGER, name VARCHAR)")
            _load_index(self, index)
        except BaseException:
            self.con.close()
            raise

    def add_names(self, values: pd.Series) -> np.ndarray:
        """Name codes of ``values``, adding names the index has not seen to the ``name`` table."""
        before = len(self.names)
        codes = self.names.encode(values)
        new = self.names.table(start=before)
        if len(new):
            self.con.register("new_names", new)
            try:
                self.con.execute("INSERT INTO name SELECT code, name FROM new_names")
            finally:
                self.con.unregister("new_names")
        return codes

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> PreparedIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# Tables one link creates on the prepared index's connection, dropped when it is done.
_LINK_TABLES = ("rec", "matched", "todo", "cand", "pair_postcode", "compared", "scored")


def link_to_index(
    records: pd.DataFrame, index: PopulationIndex | PreparedIndex, params: dict | None = None
) -> pd.DataFrame:
    """Match each record to the index: person (-1 if unmatched), alf_sts_cd, alf_mtch_pct.

    ``records`` holds forename, surname, sex, date_of_birth (int64 days, ``NO_DATE`` when missing),
    nhs_number and postcode; missing values are None. The result has the same length and order
    (and index) as ``records``. Pass ``person`` to :func:`anonymised_linking_field` for the ALF.
    ``index`` may be a :class:`PreparedIndex`, to link several files against one load.
    """
    # The schema names the blocking rules BLOCKING_SQL knows; a caller's own dict is checked too.
    params = load_ttp_params() if params is None else validate_params("ttp", params)
    _require(records, RECORD_COLUMNS, "records")
    if isinstance(index, PopulationIndex):
        with PreparedIndex(index) as prepared:
            return link_to_index(records, prepared, params)

    con = index.con
    try:
        _load_records(index, records)
        con.execute("CREATE TABLE matched (rec BIGINT, person BIGINT, status INTEGER, w DOUBLE)")
        _match_on_nhs_number(con)
        _match_on_demographics(con)
        _match_probabilistically(con, params, n_index=index.n_index)
        found = con.execute("SELECT rec, person, status, w FROM matched ORDER BY rec").fetchnumpy()
    finally:
        for table in _LINK_TABLES:
            con.execute(f"DROP TABLE IF EXISTS {table}")
    return _result(records, found, params)


def _require(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise InputError(f"{what} has no column {missing[0]!r}; it needs {', '.join(columns)}")


def _days(values: pd.Series, what: str) -> np.ndarray:
    """Dates of birth as int64 days, missing as NO_DATE (nullable integers and floats accepted)."""
    if pd.api.types.is_integer_dtype(values.dtype) and not values.hasnans:
        return values.to_numpy(dtype=np.int64)
    numeric = pd.to_numeric(values, errors="coerce")
    bad = values.notna() & (numeric.isna() | (numeric % 1 != 0))
    if bad.any():
        raise InputError(f"{what} must hold whole days since 1970-01-01; found {values[bad].iloc[0]!r}")
    return numeric.fillna(NO_DATE).to_numpy(dtype=np.int64)


def _coded_frame(
    frame: pd.DataFrame, key: np.ndarray, dob: str, prepared: PreparedIndex, validate_nhs: bool,
    what: str,
) -> pd.DataFrame:
    """The columns both sides share, as integers (-1 or NO_DATE for missing); postcodes apart."""
    names = prepared.names
    forename = prepared.add_names(frame["forename"])
    surname = prepared.add_names(frame["surname"])
    return pd.DataFrame(
        {
            "key": key,
            "fn": forename,
            "sn": surname,
            "fsx": names.soundex(forename),
            "sdx": names.soundex(surname),
            "sex": f.sex_codes(frame["sex"]),
            "dob": _days(frame[dob], f"{what}.{dob}"),
            "nhs": f.nhs_number_codes(frame["nhs_number"], validate=validate_nhs),
        }
    )


def _coded_sql(source: str, key: str, postcodes: bool = False) -> str:
    """SELECT turning a coded frame's missing markers into NULL, with the year of birth (and the
    postcode codes, for records)."""
    postcode_columns = (
        ", nullif(pc, -1) AS pc, nullif(outward, -1) AS outward" if postcodes else ""
    )
    return f"""
        SELECT key AS {key}, nullif(fn, -1) AS fn, nullif(sn, -1) AS sn,
               nullif(fsx, -1) AS fsx, nullif(sdx, -1) AS sdx, nullif(sex, -1) AS sex,
               dob_date AS dob, year(dob_date) AS yob, nullif(nhs, -1) AS nhs{postcode_columns}
        FROM (
            SELECT *, CASE WHEN dob <> {NO_DATE} THEN DATE '1970-01-01' + dob::INTEGER END AS dob_date
            FROM {source}
        )
    """


def _load_index(prepared: PreparedIndex, index: PopulationIndex) -> None:
    """Index people (``idx``) and every postcode each has lived at, with its outward code
    (``ipc``), all coded as integers; the names behind the name codes go to ``name``.

    Index NHS numbers are the reference and taken as issued.
    """
    con, people = prepared.con, index.people
    coded = _coded_frame(
        people, people["person"].to_numpy(dtype=np.int64), "dob", prepared, validate_nhs=False,
        what="index.people",
    )
    pc, outward = prepared.postcodes.encode(con, index.postcodes["postcode"])
    postcodes = pd.DataFrame(
        {"person": index.postcodes["person"].to_numpy(dtype=np.int64), "pc": pc, "outward": outward}
    )
    con.register("people_in", coded)
    con.register("postcodes_in", postcodes)
    try:
        con.execute(
            f"""
            CREATE TABLE idx AS {_coded_sql('people_in', 'person')};
            CREATE TABLE ipc AS
            SELECT person, pc, nullif(outward, -1) AS outward FROM postcodes_in WHERE pc <> -1;
            """
        )
    finally:
        con.unregister("people_in")
        con.unregister("postcodes_in")


def _load_records(prepared: PreparedIndex, records: pd.DataFrame) -> None:
    """Standardised records (``rec``, keyed by position), coded as the index is; a record's NHS
    number must pass the check digit."""
    con = prepared.con
    coded = _coded_frame(
        records, np.arange(len(records), dtype=np.int64), "date_of_birth", prepared,
        validate_nhs=True, what="records",
    )
    coded["pc"], coded["outward"] = prepared.postcodes.encode(con, records["postcode"])
    con.register("records_in", coded)
    try:
        con.execute(f"CREATE TABLE rec AS {_coded_sql('records_in', 'rec', postcodes=True)}")
    finally:
        con.unregister("records_in")


def _match_on_nhs_number(con: duckdb.DuckDBPyConnection) -> None:
    """Stage 1: a valid NHS number agreeing with date of birth and sex, held by one person only."""
    con.execute(
        f"""
        INSERT INTO matched
        SELECT r.rec, min(i.person), {NHS_NUMBER_MATCH}, 'Infinity'::DOUBLE
        FROM rec r JOIN idx i ON r.nhs = i.nhs AND r.dob = i.dob AND r.sex = i.sex
        GROUP BY r.rec HAVING count(DISTINCT i.person) = 1
        """
    )


def _match_on_demographics(con: duckdb.DuckDBPyConnection) -> None:
    """Stage 2: names, date of birth, sex and a postcode of the person's all exact, one person only.

    Two people identical on all five (a register's duplicate entry, say) are left to stage 3,
    where the tie leaves the record unmatched.
    """
    con.execute(
        f"""
        INSERT INTO matched
        SELECT r.rec, min(i.person), {DEMOGRAPHIC_MATCH}, 'Infinity'::DOUBLE
        FROM rec r
        JOIN idx i ON r.fn = i.fn AND r.sn = i.sn AND r.dob = i.dob AND r.sex = i.sex
        JOIN ipc p ON p.person = i.person AND p.pc = r.pc
        WHERE NOT EXISTS (SELECT 1 FROM matched m WHERE m.rec = r.rec)
        GROUP BY r.rec HAVING count(DISTINCT i.person) = 1
        """
    )


def _match_probabilistically(
    con: duckdb.DuckDBPyConnection, params: dict[str, Any], n_index: int
) -> None:
    """Stage 3: Fellegi-Sunter over blocked candidates; the best candidate if unique and accepted.

    Records with too little to match on (no date of birth, and no NHS number or no surname) are
    not tried, as a trusted third party would send them back unmatched.
    """
    con.execute(
        """
        CREATE TABLE todo AS
        SELECT r.* FROM rec r
        WHERE NOT EXISTS (SELECT 1 FROM matched m WHERE m.rec = r.rec)
          AND (r.dob IS NOT NULL OR (r.nhs IS NOT NULL AND r.sn IS NOT NULL))
        """
    )
    union = "\nUNION\n".join(
        f"SELECT t.rec, i.person {BLOCKING_SQL[rule]}" for rule in params["blocking_rules"]
    )
    con.execute(f"CREATE TABLE cand AS {union}")

    # Postcode level of each pair: the record's postcode against every postcode of the person's.
    con.execute(
        """
        CREATE TABLE pair_postcode AS
        SELECT c.rec, c.person,
               CASE WHEN bool_or(p.pc = t.pc) THEN 'exact'
                    WHEN bool_or(p.outward = t.outward) THEN 'same_outward_code'
                    ELSE 'different' END AS postcode
        FROM cand c
        JOIN todo t ON t.rec = c.rec AND t.pc IS NOT NULL
        JOIN ipc p ON p.person = c.person
        GROUP BY c.rec, c.person
        """
    )
    # Comparison levels, materialised, so that each similarity is computed once per pair.
    bands = params["name_bands"]
    con.execute(
        f"""
        CREATE TABLE compared AS
        SELECT rec, person,
               {f.agree_level_sql('t_nhs', 'i_nhs')} AS nhs_number,
               {f.name_level_sql('t_fn', 'i_fn', 'fn_jw', bands)} AS forename,
               {f.name_level_sql('t_sn', 'i_sn', 'sn_jw', bands)} AS surname,
               {f.dob_level_sql('t_dob', 'i_dob')} AS date_of_birth,
               {f.agree_level_sql('t_sex', 'i_sex')} AS sex,
               postcode  -- NULL when either side has no postcode
        FROM (
            SELECT c.rec, c.person, t.nhs AS t_nhs, i.nhs AS i_nhs, t.fn AS t_fn, i.fn AS i_fn,
                   t.sn AS t_sn, i.sn AS i_sn, t.dob AS t_dob, i.dob AS i_dob,
                   t.sex AS t_sex, i.sex AS i_sex,
                   {f.similarity_sql('rf.name', 'xf.name')} AS fn_jw,
                   {f.similarity_sql('rs.name', 'xs.name')} AS sn_jw,
                   pp.postcode
            FROM cand c
            JOIN todo t ON t.rec = c.rec
            JOIN idx i ON i.person = c.person
            LEFT JOIN name rf ON rf.code = t.fn  -- names of the record (r) and index person (x)
            LEFT JOIN name xf ON xf.code = i.fn
            LEFT JOIN name rs ON rs.code = t.sn
            LEFT JOIN name xs ON xs.code = i.sn
            LEFT JOIN pair_postcode pp ON pp.rec = c.rec AND pp.person = c.person
        )
        """
    )
    comparisons = params["comparisons"]
    weights = " + ".join(f.weight_sql(name, comparisons[name]) for name in COMPARED_FIELDS)
    share = float(params["prior"]["share_of_records_in_index"])
    prior = share / max(n_index, 1)
    prior_weight = float(np.log2(prior / (1.0 - prior)))
    con.execute(
        f"CREATE TABLE scored AS SELECT rec, person, {prior_weight!r} + {weights} AS w FROM compared"
    )
    # The best candidate, if it is the only one with that weight and its posterior probability
    # reaches the acceptance threshold; thresholds are applied again to the rounded score.
    accept = float(params["thresholds"]["accept"])
    accept_weight = float(np.log2(accept / (1.0 - accept))) if accept < 1.0 else float("inf")
    con.execute(
        f"""
        INSERT INTO matched
        SELECT rec, person, {PROBABLE_MATCH}, w
        FROM (
            SELECT rec, person, w,
                   max(w) OVER (PARTITION BY rec) AS best,
                   count(*) OVER (PARTITION BY rec, w) AS sharing
            FROM scored
            WHERE w >= {accept_weight!r}  -- a best candidate below this is rejected anyway
        )
        WHERE w = best AND sharing = 1
        """
    )


def _result(records: pd.DataFrame, found: dict[str, np.ndarray], params: dict[str, Any]) -> pd.DataFrame:
    """Aligned result; scores rounded to six places, as SAIL stores ALF_MTCH_PCT (decimal(7,6))."""
    n = len(records)
    person = np.full(n, UNMATCHED, dtype=np.int64)
    status = np.full(n, NOT_MATCHED, dtype=np.int64)
    score = np.full(n, np.nan, dtype=np.float64)
    rec = np.asarray(found["rec"], dtype=np.int64)
    weight = np.asarray(found["w"], dtype=np.float64)
    probability = np.round(1.0 / (1.0 + np.exp2(-weight)), 6)
    stage = np.asarray(found["status"], dtype=np.int64)
    accept = float(params["thresholds"]["accept"])
    safe = float(params["thresholds"]["safe"])
    keep = (stage != PROBABLE_MATCH) | (probability >= accept)
    rec, stage, probability = rec[keep], stage[keep], probability[keep]
    stage = np.where((stage == PROBABLE_MATCH) & (probability < safe), UNSAFE_MATCH, stage)
    person[rec] = np.asarray(found["person"], dtype=np.int64)[keep]
    status[rec] = stage
    score[rec] = probability
    return pd.DataFrame(
        {"person": person, "alf_sts_cd": status, "alf_mtch_pct": score}, index=records.index
    )
