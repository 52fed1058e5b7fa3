"""Every table the generator writes, defined once: columns, types, meaning, real-world field.

The writer casts to these types, the data dictionary is generated from these descriptions, and
``synthetic_data.output.schema()`` returns them to notebooks. A reader looking for what a column means
finds it here and nowhere else.

Views are folders with different access: ``identifiable`` holds what a data provider holds (fake
names and identifiers), ``reference`` public statistics and geography, ``answer_key`` the truth
(``person_id`` behind every record), for graders only.
"""

from __future__ import annotations

from synthetic_data.output.schema_linked import LINKED_TABLES, tre_tables
from synthetic_data.output.schema_types import DTYPES, Column, Table  # noqa: F401 (re-exported)

C = Column

TABLES: tuple[Table, ...] = (
    # ---------------------------------------------------------------- identifiable / Cafcass
    Table(
        "cafcass_cases", "identifiable",
        "Cases as the Cafcass (England) and Cafcass Cymru case management systems record them. "
        "Public law counts one s31 care application as a case; private law counts a case, which "
        "may cover several children and application types (calibration A1).",
        (
            C("case_id", "string", "Case reference, unique within the dataset.", "ECMS case number"),
            C("law_type", "string", "'public' (s31 care and supervision) or 'private' (s8).",
              "Case type"),
            C("service", "string", "'Cafcass' (England) or 'Cafcass Cymru' (Wales)."),
            C("la_code", "string", "ONS code of the local authority: the applicant authority in "
              "public law, the child's home authority in private law.", "Applicant LA"),
            C("dfj_area_id", "string", "Designated Family Judge area of the authority "
              "(see reference/dfj_areas; the authority-to-area mapping is an assumption).",
              "DFJ area"),
            C("received_date", "date", "Date the application was received from the court (the "
              "date Cafcass counts demand by).", "Application received date"),
            C("recorded_date", "date", "Date the case was entered on the case system; late "
              "entries revise monthly figures already published (A1)."),
            C("final_order_date", "date", "Date of the final order; empty while the case is open "
              "at the end of the period.", "Final order date", nullable=True),
            C("case_status", "string", "'closed' or 'open' at the end of the period."),
            C("duration_weeks", "float", "Weeks from receipt to final order (empty if open); "
              "compare with the 26-week limit in force from 22 April 2014.", nullable=True),
            C("primary_application", "string", "Main application type: care_or_supervision_s31; "
              "child_arrangements_live_with, child_arrangements_spend_time_with, "
              "prohibited_steps, specific_issue or enforcement (s8).", "Application type"),
            C("previous_cases", "int", "Earlier cases of the same family within the period "
              "(private law: the same parents; public law: the same mother)."),
            C("domestic_abuse_alleged", "bool", "Private law: domestic abuse alleged at "
              "safeguarding checks (A9). Empty for public law.", nullable=True),
            C("alleged_victim", "string", "Private law: 'mother' or 'father' where abuse is "
              "alleged.", nullable=True),
        ),
        "one case",
    ),
    Table(
        "cafcass_applications", "identifiable",
        "Applications within cases: the s31 application, emergency protection (s44) and "
        "placement (s21 Adoption and Children Act 2002) applications, and s8 applications. A "
        "private law case holds one or more (A1): its primary application and, in about a "
        "quarter of cases, others such as a prohibited steps order beside child arrangements, "
        "mostly made the same day. Count applications, not cases, to compare with the MoJ's "
        "applications started (A2).",
        (
            C("application_id", "string", "Application reference."),
            C("case_id", "string", "The case (cafcass_cases.case_id)."),
            C("application_type", "string", "Type of application.", "Application type"),
            C("application_date", "date", "Date the application was made."),
        ),
        "one application",
    ),
    Table(
        "cafcass_people", "identifiable",
        "People as Cafcass records them: one record per person known to it, with identifiers as "
        "captured. Ethnicity is mostly missing before 2017; a newborn may be recorded as "
        "'Baby' with no first name.",
        (
            C("cafcass_person_id", "string", "Cafcass person reference.", "Person ID"),
            C("person_type", "string", "'child' or 'adult'."),
            C("forename", "string", "First name as recorded ('Baby' for an unnamed newborn; "
              "typos, nicknames).", "Forename", nullable=True),
            C("surname", "string", "Surname as recorded (typos, a partner's surname).", "Surname",
              nullable=True),
            C("sex", "string", "'M' or 'F' as recorded.", "Gender", nullable=True),
            C("date_of_birth", "date", "Date of birth as recorded (missing for some adults; day "
              "and month swapped, a wrong digit, 1 January for unknown dates).", "DOB",
              nullable=True),
            C("ethnicity", "string", "Ethnic group (ONS 5 groups) as recorded; empty where not "
              "recorded (mostly before 2017).", "Ethnicity", nullable=True),
            C("nhs_number", "string", "NHS number where recorded (rarely; from the 999 test "
              "range, never a real person's).", "NHS number", nullable=True),
            C("postcode", "string", "Postcode at the person's first case, as recorded (may be "
              "out of date, missing or malformed; fake: area letters Q, V or X are never used by "
              "real postcodes).", "Postcode", nullable=True),
            C("first_case_received_date", "date", "When the person first appeared in a case."),
        ),
        "one recorded person",
    ),
    Table(
        "cafcass_case_parties", "identifiable",
        "Who is party to each case and in what role: subject children, applicants, respondents "
        "and other parties (A1: applicants, subjects and parties).",
        (
            C("case_id", "string", "The case."),
            C("cafcass_person_id", "string", "The person (cafcass_people)."),
            C("party_role", "string", "'subject_child', 'applicant', 'respondent' or "
              "'other_party'. In public law the applicant is the local authority, not a person.",
              "Role"),
            C("relationship", "string", "For adults: relationship to the subject children "
              "(mother, father, grandmother, ...). Empty for children.", nullable=True),
            C("age_at_application", "int", "Age in completed years when the case was received.",
              "Age at application"),
            C("age_at_application_days", "int", "Age in days when the case was received "
              "(newborns: under 7 days)."),
            C("final_outcome", "string", "Children: the final outcome for this child (care_order, "
              "placement_order, special_guardianship_order, sgo_with_supervision_order, "
              "supervision_order, child_arrangements_order, cao_with_supervision_order, "
              "prohibited_steps_order, specific_issue_order, enforcement_order, no_order, "
              "withdrawn, or open). Empty for adults.", "Final legal outcome", nullable=True),
        ),
        "one person in one case",
    ),
    Table(
        "cafcass_relationships", "identifiable",
        "How each adult party relates to each subject child, so that family groups can be "
        "rebuilt (A1); half-siblings have different fathers.",
        (
            C("case_id", "string", "The case."),
            C("adult_person_id", "string", "The adult (cafcass_people)."),
            C("child_person_id", "string", "The child (cafcass_people)."),
            C("relationship", "string", "The adult's relationship to the child.", "Relationship"),
        ),
        "one adult-child pair in one case",
    ),
    Table(
        "cafcass_hearings", "identifiable",
        "Hearings held in each case up to the end of the period.",
        (
            C("hearing_id", "string", "Hearing reference."),
            C("case_id", "string", "The case."),
            C("hearing_date", "date", "Date of the hearing.", "Hearing date"),
            C("hearing_type", "string", "Public law: case_management_hearing, "
              "further_case_management_hearing, issues_resolution_hearing, final_hearing; "
              "private law: first_hearing_dispute_resolution_appointment, "
              "dispute_resolution_appointment, final_hearing.", "Hearing type"),
        ),
        "one hearing",
    ),
    Table(
        "cafcass_orders", "identifiable",
        "Orders made for each child: interim (emergency protection, interim care) and final. An "
        "SGO with a supervision order is two rows on the same day, as are care and placement "
        "orders.",
        (
            C("order_id", "string", "Order reference."),
            C("case_id", "string", "The case."),
            C("cafcass_person_id", "string", "The child the order is about."),
            C("order_type", "string", "Type of order.", "Order type"),
            C("order_date", "date", "Date the order was made.", "Order date"),
            C("is_final", "bool", "True for the final order(s) that end the case for the child.",
              "Final flag"),
        ),
        "one order for one child",
    ),
    Table(
        "cafcass_published_demand", "identifiable",
        "Monthly demand figures as first published and as counted once every late entry is in: "
        "the same month's count differs between releases (A2 gives 10,605, 10,606 and 10,620 for "
        "2013/14).",
        (
            C("month", "string", "Month of receipt, YYYY-MM."),
            C("service", "string", "'Cafcass' or 'Cafcass Cymru'."),
            C("law_type", "string", "'public' or 'private'."),
            C("first_published", "int", "Cases counted when the month was first published."),
            C("revised", "int", "Cases counted at the end of the period."),
        ),
        "one month, service and law type",
    ),
    # ---------------------------------------------------------------- reference
    Table(
        "local_authorities", "reference",
        "Local authorities (April 2023 upper tier: 153 in England, 22 in Wales), regions and "
        "their DFJ areas. ONS codes and names; OGL v3.0.",
        (
            C("la_code", "string", "ONS code.", "LA code"),
            C("la_name", "string", "Name."),
            C("region_name", "string", "Region (England) or 'Wales'."),
            C("country", "string", "'England' or 'Wales'."),
            C("dfj_area_id", "string", "Designated Family Judge area (assumed mapping)."),
            C("dfj_area_name", "string", "DFJ area name."),
            C("pct_most_deprived_quintile", "float", "Share of the authority's real LSOAs in "
              "the most deprived national quintile (IMD 2019 / WIMD 2019)."),
        ),
        "one local authority",
    ),
    Table(
        "dfj_areas", "reference",
        "Designated Family Judge areas and their family courts (HMCTS configuration).",
        (
            C("dfj_area_id", "string", "Area identifier."),
            C("dfj_area_name", "string", "Area name."),
            C("court_code", "int", "Court code."),
            C("court_name", "string", "Court name.", nullable=True),
            C("hmcts_region", "string", "HMCTS region label.", nullable=True),
        ),
        "one court in one DFJ area",
    ),
    Table(
        "lsoa", "reference",
        "Small areas (fake LSOA-like codes numbered from 900000) with the deprivation of the real "
        "LSOAs they stand in for. English and Welsh quintiles are national within each country "
        "and cannot be compared across them.",
        (
            C("lsoa_code", "string", "Fake LSOA-like code.", "LSOA"),
            C("la_code", "string", "Local authority."),
            C("imd_quintile", "int", "Deprivation quintile, 1 = most deprived.", "IMD quintile"),
            C("imd_decile", "int", "Deprivation decile, 1 = most deprived.", "IMD decile"),
        ),
        "one small area",
    ),
    Table(
        "population", "reference",
        "Children living in each authority at mid-year (30 June), by single year of age: the "
        "denominator for rates per 10,000 children. Counted from the simulated world, which is "
        "built to match ONS mid-year estimates at the dataset's scale.",
        (
            C("year", "int", "Calendar year (mid-year, 30 June)."),
            C("la_code", "string", "Local authority."),
            C("age", "int", "Age in completed years, 0-17."),
            C("children", "int", "Number of children.", "ONS mid-year estimate"),
        ),
        "one authority, year and age",
    ),
    # ---------------------------------------------------------------- answer key (truth)
    Table(
        "world_people", "answer_key",
        "Everyone in the simulated world: the truth the records are noisy views of.",
        (
            C("person_id", "int", "Ground-truth person identifier."),
            C("role", "string", "'mother', 'father', 'child' or 'relative' (a relative who "
              "enters through a private law case)."),
            C("sex", "string", "'M' or 'F'."),
            C("date_of_birth", "date", "True date of birth."),
            C("date_of_death", "date", "Date of death within the period, if any.",
              nullable=True),
            C("ethnicity", "string", "True ethnic group (ONS 5 groups)."),
            C("forename", "string", "True first name."),
            C("surname", "string", "Surname at birth (children: as registered)."),
            C("nhs_number", "string", "True NHS number: the 999 test range for everyone who "
              "appears in a record, neighbouring unissued 9xx blocks for the rest (the 999 block "
              "holds only about 909,000 valid numbers)."),
            C("mother_id", "int", "person_id of the mother (children).", nullable=True),
            C("father_id", "int", "person_id of the registered father, if any (children).",
              nullable=True),
            C("birth_order", "int", "The mother's maternity number of this birth (children); "
              "counts births before the period too.", nullable=True),
            C("multiple_birth", "bool", "Born a twin."),
            C("teenage_first_birth", "bool", "Mothers: had their first child before 20."),
        ),
        "one person",
    ),
    Table(
        "world_partnerships", "answer_key",
        "Partnerships between mothers and the fathers of their children; re-partnering gives "
        "half-siblings.",
        (
            C("partnership_id", "int", "Partnership identifier."),
            C("mother_id", "int", "person_id of the mother."),
            C("father_id", "int", "person_id of the father."),
            C("start_date", "date", "When the partnership began."),
            C("end_date", "date", "When it ended (separation), if within the period.",
              nullable=True),
        ),
        "one partnership",
    ),
    Table(
        "world_residences", "answer_key",
        "Address histories of adults; a child lives at its mother's address.",
        (
            C("person_id", "int", "The adult."),
            C("date_from", "date", "Start of the spell."),
            C("date_to", "date", "End of the spell (empty if still living there).",
              nullable=True),
            C("la_code", "string", "Local authority."),
            C("lsoa_code", "string", "Small area (fake LSOA-like code)."),
            C("postcode", "string", "Postcode-like string."),
            C("imd_quintile", "int", "Deprivation quintile of the small area (1 = most)."),
        ),
        "one address spell",
    ),
    Table(
        "cafcass_person_key", "answer_key",
        "Which real person each Cafcass person record is: the linkage truth.",
        (
            C("cafcass_person_id", "string", "Cafcass person reference."),
            C("person_id", "int", "Ground-truth person identifier."),
        ),
        "one Cafcass person record",
    ),
    Table(
        "cafcass_case_truth", "answer_key",
        "What the simulation knows about each case that no record holds.",
        (
            C("case_id", "string", "The case."),
            C("mother_id", "int", "person_id of the mother of the family.", nullable=True),
            C("return_route", "string", "How the case arose: 'fresh', 'recurrent_birth' (a "
              "baby of a mother who had lost a child through proceedings), 'child_returning' "
              "(a child back after an earlier order) or 'returning_family' (private law)."),
            C("return_reason", "string", "Private law returns: reason (A10).", nullable=True),
        ),
        "one case",
    ),
)

# The linked sources are defined beside these; the TRE's tables are derived from both.
TABLES = TABLES + LINKED_TABLES
TABLES = TABLES + tre_tables(TABLES)
TABLES_BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}
VIEWS = ("identifiable", "tre", "reference", "answer_key")


def table(name: str) -> Table:
    try:
        return TABLES_BY_NAME[name]
    except KeyError:
        known = ", ".join(sorted(TABLES_BY_NAME))
        raise KeyError(f"unknown table {name!r}; known tables: {known}") from None
