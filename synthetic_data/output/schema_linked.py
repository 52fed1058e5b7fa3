"""The linked sources' tables, and the rule that makes each table's TRE version.

Each source's provider tables live in ``identifiable/``: an identifier file (the people it
recorded, with the identifiers it captured) and its content tables keyed by the provider's own
ids. ``tre_tables`` derives what reaches the trusted research environment (``tre/``) from any
provider table by one rule, so a column means the same on both sides: names and NHS numbers
removed, date of birth to week of birth, postcode to small area, every id encrypted for the
project, and the trusted third party's ALF beside every person record.
"""

from __future__ import annotations

from synthetic_data.output.schema_types import Column, Table

C = Column


def _identifiers(id_name: str, id_text: str, nhs: bool = True) -> tuple[Column, ...]:
    """The identifier columns of a provider's person file, as captured (errors and all)."""
    cols = [C(id_name, "string", id_text)]
    if nhs:
        cols.append(C("nhs_number", "string", "NHS number as recorded (10 digits; may be "
                      "missing or fail the check digit).", "NHS number", nullable=True))
    cols += [
        C("forename", "string", "Forename as recorded (typos, nicknames, 'Baby' for unnamed "
          "newborns).", nullable=True),
        C("surname", "string", "Surname as recorded (typos, a partner's surname).", nullable=True),
        C("date_of_birth", "date", "Date of birth as recorded (day and month swapped, a wrong "
          "digit, 1 January for unknown dates, missing).", nullable=True),
        C("sex", "string", "'F' or 'M' as recorded.", nullable=True),
        C("postcode", "string", "Postcode when recorded (may be out of date, missing or "
          "malformed; fake: area letters Q, V and X are never used in real postcodes).",
          nullable=True),
    ]
    return tuple(cols)


LINKED_TABLES: tuple[Table, ...] = (
    # ------------------------------------------------------------ family court (FamilyMan)
    Table("familyman_cases", "identifiable",
          "Family court cases in the style of MoJ Data First's FamilyMan extract: one row per "
          "case, keyed by a hashed case number (calibration C).",
          (C("case_number_hash", "string", "Hashed court case number.", "case_number_hash"),
           C("case_type", "string", "Case type (public law s31 or private law s8)."),
           C("court_code", "string", "Family court that issued the case (reference/dfj_areas)."),
           C("issue_date", "date", "Date the court issued the application (a few days before "
             "Cafcass receives it)."),
           C("disposal_date", "date", "Date of the final order; empty while open.",
             nullable=True)),
          "one court case"),
    Table("familyman_events", "identifiable",
          "Events in each court case: applications, hearings, orders and administrative steps.",
          (C("case_number_hash", "string", "Court case."),
           C("event_date", "date", "Date of the event."),
           C("event_category", "string", "'application', 'hearing', 'order' or "
             "'administrative'."),
           C("event_type", "string", "What happened (application, hearing or order type; "
             "'allocation' or 'case_closed').")),
          "one event"),
    Table("familyman_parties", "identifiable",
          "Parties to each court case as the court records them: one record per person per "
          "case, so a person in three cases has three party ids. No NHS number; adults' dates "
          "of birth are often missing (calibration F).",
          (C("party_id", "string", "Party record id (unique per case and person)."),
           C("case_number_hash", "string", "Court case."),
           C("party_role", "string", "'child', 'applicant', 'respondent' or 'other_party'."),
           *_identifiers("party_id", "", nhs=False)[1:]),
          "one party to one case"),
    # ------------------------------------------------------------------------------ health
    Table("health_patients", "identifiable",
          "Patients as the health provider's patient index holds them: the identifier file the "
          "provider sends to the trusted third party. A person may hold two patient records.",
          _identifiers("health_patient_id", "Local patient record id."),
          "one patient record"),
    Table("health_admissions", "identifiable",
          "Hospital admissions (PEDW/HES-like spells) of the linked population.",
          (C("spell_id", "string", "Admission spell id."),
           C("health_patient_id", "string", "Patient record."),
           C("admission_date", "date", "Date admitted."),
           C("discharge_date", "date", "Date discharged (same day for day cases); empty while "
             "still in hospital at the end of the period.", nullable=True),
           C("admission_method", "string", "'emergency', 'elective' or 'maternity'."),
           C("diagnosis_code", "string", "Primary diagnosis, ICD-10 three-character code."),
           C("diagnosis_chapter", "string", "ICD-10 chapter of the diagnosis.")),
          "one admission spell"),
    Table("health_ed_attendances", "identifiable",
          "Emergency department attendances (EDDS/ECDS-like).",
          (C("attendance_id", "string", "Attendance id."),
           C("health_patient_id", "string", "Patient record."),
           C("attendance_date", "date", "Date of attendance."),
           C("diagnosis_code", "string", "Diagnosis, ICD-10 three-character code."),
           C("diagnosis_chapter", "string", "ICD-10 chapter of the diagnosis.")),
          "one attendance"),
    Table("health_gp_registrations", "identifiable",
          "GP practice registrations (WLGP/WDSD-like): who was registered where and when; the "
          "population spine of the linked data.",
          (C("health_patient_id", "string", "Patient record."),
           C("practice_code", "string", "GP practice (fake code)."),
           C("start_date", "date", "Registration start."),
           C("end_date", "date", "Registration end; empty if still registered.", nullable=True)),
          "one registration spell"),
    Table("health_maternity", "identifiable",
          "Births and their maternity records (MIDS-like): gestation, smoking at booking, "
          "when the mother first saw maternity services (calibration B).",
          (C("birth_id", "string", "Birth record id."),
           C("mother_patient_id", "string", "Mother's patient record."),
           C("baby_patient_id", "string", "Baby's patient record, where the baby has one in the "
             "extract.", nullable=True),
           C("birth_date", "date", "Date of birth of the baby."),
           C("gestation_weeks", "int", "Completed weeks of gestation at birth."),
           C("preterm", "bool", "Born before 37 completed weeks."),
           C("smoking_at_booking", "bool", "Mother smoking at the booking appointment."),
           C("booking_gestation_weeks", "int", "Weeks of pregnancy at the first maternity "
             "contact (first trimester: under 13).")),
          "one birth"),
    Table("health_births", "identifiable",
          "The child health births register (NCCH-like): every birth to a mother in the extract "
          "since 1990 (or since the first birth of a child who is under 18 in the period), long "
          "before the period, so that a mother's age at her first birth can be found. Births in "
          "the period share their id with their maternity record.",
          (C("birth_id", "string", "Birth record id (the maternity record's, for births in the "
             "period)."),
           C("mother_patient_id", "string", "Mother's patient record."),
           C("baby_patient_id", "string", "Baby's patient record, where the baby has one in the "
             "extract.", nullable=True),
           C("birth_date", "date", "Date of birth of the baby.")),
          "one birth"),
    # --------------------------------------------------------------------------- education
    Table("education_pupils", "identifiable",
          "Pupils as the school census records them (NPD/EDUW-like). No NHS number: education "
          "links on names, date of birth and postcode. A new record may start at a new school.",
          _identifiers("pupil_id", "Pupil record id (UPN-like).", nhs=False),
          "one pupil record"),
    Table("education_census", "identifiable",
          "The January school census: one row per pupil per academic year, reception (year 0) "
          "to year 11.",
          (C("pupil_id", "string", "Pupil record."),
           C("academic_year", "string", "Academic year, e.g. '2015/16'."),
           C("census_date", "date", "Census day (January)."),
           C("ncy", "int", "National curriculum year (0 = reception, 11 = year 11)."),
           C("school_id", "int", "School (fake URN-like number)."),
           C("fsm", "bool", "Eligible for free school meals."),
           C("sen", "string", "'none', 'sen_support' or 'ehcp' (education, health and care "
             "plan)."),
           C("sessions_possible", "int", "Half-day sessions the pupil could attend."),
           C("sessions_absent", "int", "Half-day sessions missed."),
           C("suspensions", "int", "Suspensions (fixed-period exclusions) in the year."),
           C("permanent_exclusion", "bool", "Permanently excluded in the year.")),
          "one pupil in one academic year"),
    Table("education_attainment", "identifiable",
          "Key stage results: KS2 at the end of primary school (none in 2019/20 and 2020/21) "
          "and Attainment 8 at the end of KS4.",
          (C("pupil_id", "string", "Pupil record."),
           C("key_stage", "string", "'KS2' or 'KS4'."),
           C("academic_year", "string", "Academic year of the result."),
           C("ks2_expected_standard", "bool", "KS2: reached the expected standard in reading, "
             "writing and maths.", nullable=True),
           C("attainment8", "float", "KS4: Attainment 8 score (0 to 90).", nullable=True)),
          "one key stage result"),
    # ------------------------------------------------------------- children looked after
    Table("cla_children", "identifiable",
          "Children looked after, as a local authority's SSDA903-like return records them. The "
          "real return carries no names (it links through the pupil number); these records "
          "carry them so the course can link them directly.",
          (*_identifiers("cla_child_id", "Child record id within the authority's return.",
                         nhs=False),
           C("la_code", "string", "Authority that looked after the child.")),
          "one looked-after child record"),
    Table("cla_episodes", "identifiable",
          "Episodes of care (SSDA903 conventions): a new episode starts whenever the legal "
          "status or placement changes.",
          (C("episode_id", "string", "Episode id."),
           C("cla_child_id", "string", "Child record."),
           C("episode_start", "date", "Start of the episode."),
           C("episode_end", "date", "End of the episode; empty if open.", nullable=True),
           C("legal_status", "string", "SSDA903 legal status code (the codes are listed "
             "below).", "LS"),
           C("placement_type", "string", "SSDA903 placement type code (the codes are listed "
             "below).", "PL"),
           C("reason_ceased", "string", "SSDA903 reason the episode ceased (the codes are "
             "listed below); empty if open.", "REC", nullable=True)),
          "one episode of care"),
    # ------------------------------------------------------------------------------ deaths
    Table("death_registrations", "identifiable",
          "Death registrations (ONS-like) of the linked population.",
          (*_identifiers("death_id", "Registration id."),
           C("date_of_death", "date", "Date of death."),
           C("registration_date", "date", "Date the death was registered."),
           C("cause_chapter", "string", "ICD-10 chapter of the underlying cause.")),
          "one death"),
    # -------------------------------------------------------------------------- answer key
    Table("record_person_key", "answer_key",
          "Which real person every linked-source person record is: the linkage truth for "
          "family court parties, patients, pupils, looked-after children and deaths.",
          (C("source", "string", "Table of the record: familyman_parties, health_patients, "
             "education_pupils, cla_children or death_registrations."),
           C("record_id", "string", "The record's id in that table."),
           C("person_id", "int", "Ground-truth person identifier.")),
          "one person record"),
    Table("ttp_links", "answer_key",
          "What the trusted third party did with every record it was sent, against the truth.",
          (C("source", "string", "Identifier file the record came from."),
           C("record_id", "string", "The record's id in that file."),
           C("person_id", "int", "The person the record really is."),
           C("matched_person_id", "int", "The person the trusted third party matched it to.",
             nullable=True),
           C("alf_sts_cd", "int", "Match status code given."),
           C("alf_mtch_pct", "float", "Match score given.", nullable=True),
           C("true_alf_pe", "int", "The ALF the record would carry if matched correctly."),
           C("correct", "bool", "Matched to the right person (empty when not matched).",
             nullable=True)),
          "one record sent to the trusted third party"),
    Table("cohort_truth", "answer_key",
          "Everyone in the project extract: why they are in it and the group whose published "
          "health figures they were simulated to.",
          (C("person_id", "int", "Ground-truth person identifier."),
           C("alf_pe", "int", "Their ALF under the project key."),
           C("in_cases", "bool", "Party to a Cafcass case."),
           C("comparison_sample", "bool", "Drawn into the random comparison sample of the "
             "population. For graders, like every answer_key/ table: learners find the "
             "comparison group in the TRE view instead, as the people of the extract with no "
             "Cafcass record."),
           C("group", "string", "pl_infant_mother, pl_parent, prl_adult, comparison_mother, "
             "comparison_adult, child_in_proceedings or child_comparison.")),
          "one person in the extract"),
    Table("linkage_pair_sample", "answer_key",
          "A labelled sample of candidate record pairs between Cafcass people and health "
          "patients (pairs sharing a date of birth, or a surname and year of birth), for "
          "clerical review and for training and testing a linkage model.",
          (C("cafcass_person_id", "string", "Cafcass person record."),
           C("health_patient_id", "string", "Health patient record."),
           C("is_match", "bool", "Both records are the same person.")),
          "one candidate pair"),
)

# ----------------------------------------------------------------------------- the TRE rule

RECORD_IDS = ("case_id", "cafcass_person_id", "order_id", "hearing_id", "application_id",
              "party_id", "case_number_hash", "health_patient_id", "spell_id", "attendance_id",
              "birth_id", "mother_patient_id", "baby_patient_id", "pupil_id", "cla_child_id",
              "episode_id", "death_id", "adult_person_id", "child_person_id")
# Person-record ids whose record gets the ALF columns beside it (prefix for the ALF columns).
PERSON_RECORD_IDS = {"cafcass_person_id": "", "party_id": "", "health_patient_id": "",
                     "pupil_id": "", "cla_child_id": "", "death_id": "",
                     "mother_patient_id": "mother_", "baby_patient_id": "baby_",
                     "adult_person_id": "adult_", "child_person_id": "child_"}
DROPPED = ("forename", "surname", "nhs_number")
SOURCES_IN_TRE = ("cafcass_", "familyman_", "health_", "education_", "cla_", "death_")


def tre_tables(tables: tuple[Table, ...]) -> tuple[Table, ...]:
    """The TRE version of every provider table (identifiable view, not published demand)."""
    return tuple(tre_version(t) for t in tables
                 if t.view == "identifiable" and t.name.startswith(SOURCES_IN_TRE)
                 and t.name != "cafcass_published_demand")


def tre_version(table: Table) -> Table:
    cols: list[Column] = []
    for col in table.columns:
        if col.name in DROPPED:
            continue
        if col.name == "postcode":
            cols.append(C("lsoa_code", "string", "Small area of the recorded postcode (the TRE "
                          "holds small areas, never postcodes); empty when the postcode was "
                          "missing or not recognised.", "LSOA2011_CD", nullable=True))
        elif col.name == "date_of_birth":
            cols.append(C("wob", "date", "Week of birth: the Monday of the week of the recorded "
                          "date of birth.", "WOB", nullable=True))
        elif col.name in RECORD_IDS:
            cols.append(C(f"{col.name}_pe", "int", f"{col.name} encrypted for this project: "
                          "joins tables inside the TRE and means nothing outside it.",
                          nullable=col.nullable))
            if col.name in PERSON_RECORD_IDS:
                cols.extend(alf_columns(PERSON_RECORD_IDS[col.name], col.nullable))
        else:
            cols.append(col)
    return Table(f"tre_{table.name}", "tre", f"TRE view of {table.name}: {table.description}",
                 tuple(cols), table.unit)


def alf_columns(prefix: str = "", optional: bool = False) -> tuple[Column, ...]:
    """The trusted third party's answer for a person record (Griffiths et al. 2019, IJPDS)."""
    return (
        C(f"{prefix}alf_pe", "int", "Anonymised Linking Field for this project: the same person "
          "has the same ALF in every source; empty when the record could not be matched.",
          "ALF_PE", nullable=True),
        C(f"{prefix}alf_sts_cd", "int", "Match status: 1 NHS number, date of birth and sex; 4 "
          "names, date of birth, sex and postcode; 39 probabilistic, score 0.9 or more; 35 "
          "probabilistic below 0.9 (unsafe); 99 not matched. Analysts usually keep 1, 4 and 39.",
          "ALF_STS_CD", nullable=optional),
        C(f"{prefix}alf_mtch_pct", "float", "Match score between 0 and 1 (1 for deterministic "
          "matches); empty when not matched.", "ALF_MTCH_PCT", nullable=True),
    )
