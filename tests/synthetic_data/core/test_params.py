"""The parameter loader: every file checked against its schema when loaded, one-line errors,
and overrides for one run.

A broken value or an unknown key, in a packaged file or in an override, must end in one line
naming the file, the key and what is allowed; through the CLI, exit status 2 and nothing written.
Overrides must change what is generated, and the same overrides must give the same bytes.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from synthetic_data.api import generate, load, manifest
from synthetic_data.core import params as loader
from synthetic_data.core.errors import InputError, ParameterError
from synthetic_data.core.param_overrides import merge, read_overrides
from synthetic_data.core.param_schema import COMMON, schema_documents
from synthetic_data.core.params import (
    PARAM_FILES,
    load_params,
    packaged_params,
    parameter_set,
    using,
    validate_params,
)

TINY_ARGS = ("--scale", "0.01", "--region", "wales", "--start", "2016-04", "--end", "2017-03")
TINY = {"scale": 0.01, "region": "wales", "start": "2016-04", "end": "2017-03", "seed": 3}

# For each file: an override with a value the file must refuse, the key path the message names
# and words of what is allowed; then an override with a mistyped key, its path and a key the
# message lists as allowed.
CASES = {
    "capture": ({"sources": {"cafcass": {"rates": {"typo": 5}}}},
                "sources.cafcass.rates.typo: 5", "from 0 to 1",
                {"sources": {"cafcass": {"rates": {"tpyo": 0.01}}}},
                "sources.cafcass.rates.tpyo", "typo"),
    "cla": ({"s20": {"share_before_application": 2}},
            "s20.share_before_application: 2", "a number from 0 to 1",
            {"s20": {"share_before_aplication": 0.2}},
            "s20.share_before_aplication", "share_before_application"),
    "deaths": ({"registration_lag_days": [14, 2]},
               "registration_lag_days: [14, 2]", "each at least the one before",
               {"causes_by_age": {"age_1_to_17": {"II Neoplasms": 1.0}}},
               "causes_by_age.age_1_to_17", "age_1_17"),
    "education": ({"census": {"census_month": 13}},
                  "census.census_month: 13", "a whole number from 1 to 12",
                  {"fsm": {"persistance": 0.9}},
                  "fsm.persistance", "persistence"),
    "familyman": ({"case_types": {"public": ""}},
                  "case_types.public: ''", "non-empty text",
                  {"party_roles": {"judge": "judge"}},
                  "party_roles.judge", "other_party"),
    "health": ({"gp": {"small_areas_per_practice": 0}},
               "gp.small_areas_per_practice: 0", "a whole number of 1 or more",
               {"admission": {"day_case_shar": 0.3}},
               "admission.day_case_shar", "day_case_share"),
    "linkage": ({"cohort": {"comparison_share": -0.1}},
                "cohort.comparison_share: -0.1", "a number from 0 to 1",
                {"index": {"absent_multipliers": {"minorty": 1.5}}},
                "index.absent_multipliers.minorty", "minority"),
    "names": ({"era_share": {"White": {"share": 1.5}}},
              "era_share.White.share: 1.5", "a number from 0 to 1",
              {"rank_weights": {"exponnt": 0.5}},
              "rank_weights.exponnt", "exponent"),
    "private_law": ({"parties": {"between_parents": 1.2}},
                    "parties.between_parents: 1.2", "a number from 0 to 1",
                    {"domestic_abuse": {"allegation_shares": 0.6}},
                    "domestic_abuse.allegation_shares", "allegation_share"),
    "public_law": ({"children_per_case": {"max_children": 0}},
                   "children_per_case.max_children: 0", "a whole number of 1 or more",
                   {"emergency_protection": {"share_of_case": 0.1}},
                   "emergency_protection.share_of_case", "share_of_cases"),
    "recording": ({"late_recording": {"share_late": "often"}},
                  "late_recording.share_late: 'often'", "a number from 0 to 1",
                  {"ethnicity": {"change_yaer": 2017}},
                  "ethnicity.change_yaer", "change_year"),
    "ttp": ({"comparisons": {"surname": {"exact": {"m": 1.99}}}},
            "comparisons.surname.exact.m: 1.99", "a number above 0 and at most 1",
            {"comparisons": {"surname": {"excat": {"m": 0.8, "u": 0.01}}}},
            "comparisons.surname.excat", "exact"),
    "world": ({"births": {"male_share": 1.5}},
              "births.male_share: 1.5", "a number from 0 to 1",
              {"births": {"male_shar": 0.5}},
              "births.male_shar", "male_share"),
}


def one_line_error(overrides: dict) -> str:
    with pytest.raises(ParameterError) as error:
        parameter_set(overrides)
    message = str(error.value)
    assert "\n" not in message, message
    return message


# ------------------------------------------------------------------ the packaged files


def test_every_parameter_file_has_a_case_and_a_schema():
    assert set(CASES) == set(PARAM_FILES)
    assert len(PARAM_FILES) == 13
    assert {f"{name}.schema.yaml" for name in PARAM_FILES} | {COMMON} == set(schema_documents())


def test_every_packaged_file_passes_its_schema_and_checks():
    files = parameter_set().files
    assert set(files) == set(PARAM_FILES)
    for name in PARAM_FILES:
        assert load_params(name) is files[name]
        assert validate_params(name, copy.deepcopy(files[name])) == files[name]


def test_every_schema_is_valid_json_schema():
    for file, schema in schema_documents().items():
        Draft202012Validator.check_schema(schema)
        assert schema["$id"].endswith("/" + file), file


# JSON Schema keywords the schemas use, and the loader's own (sumsTo, sumWithin, ascending). A
# key outside these is a typo, or a description with a comma in a YAML flow mapping.
KEYWORDS = {"$schema", "$id", "$defs", "$ref", "title", "description", "type", "properties",
            "additionalProperties", "required", "propertyNames", "items", "prefixItems", "minItems",
            "maxItems", "uniqueItems", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
            "multipleOf", "enum", "const", "pattern", "minLength", "minProperties", "anyOf", "oneOf",
            "not", "dependentRequired", "sumsTo", "sumWithin", "ascending"}


def _schemas(schema: dict, where: str):
    """Every schema inside ``schema``, with where it is."""
    yield where, schema
    for keyword in ("properties", "$defs"):
        for key, inner in schema.get(keyword, {}).items():
            yield from _schemas(inner, f"{where}/{keyword}/{key}")
    for keyword in ("additionalProperties", "items", "propertyNames", "not"):
        if isinstance(schema.get(keyword), dict):
            yield from _schemas(schema[keyword], f"{where}/{keyword}")
    for keyword in ("anyOf", "oneOf", "prefixItems"):
        for i, inner in enumerate(schema.get(keyword, [])):
            yield from _schemas(inner, f"{where}/{keyword}/{i}")


def _described(schema: dict, document: str) -> bool:
    while "description" not in schema and "$ref" in schema:
        file, _, pointer = schema["$ref"].partition("#")
        document = file or document
        schema = schema_documents()[document]
        for part in pointer.strip("/").split("/"):
            schema = schema[part]
    return "description" in schema


def test_schemas_use_known_keywords_and_describe_every_property():
    for file, document in schema_documents().items():
        for where, schema in _schemas(document, file):
            unknown = set(schema) - KEYWORDS
            assert not unknown, f"{where}: unknown keywords {unknown}"
            for key, inner in schema.get("properties", {}).items():
                assert _described(inner, file), f"{where}/properties/{key} has no description"


def test_schemas_name_what_the_code_knows():
    from synthetic_data.capture.corruptions import CORRUPTIONS
    from synthetic_data.capture.record import FIELDS
    from synthetic_data.linkage.ttp import BLOCKING_SQL, COMPARED_FIELDS
    from synthetic_data.linked.deaths import AGE_BANDS
    from synthetic_data.world.names import LATIN_NAME
    from synthetic_data.world.people import ETHNIC_GROUPS

    docs = schema_documents()
    capture = docs["capture.schema.yaml"]["$defs"]
    assert capture["corruption"]["enum"] == list(CORRUPTIONS)
    assert capture["field"]["enum"] == list(FIELDS)
    ttp = docs["ttp.schema.yaml"]["properties"]
    assert ttp["blocking_rules"]["items"]["enum"] == list(BLOCKING_SQL)
    assert list(ttp["comparisons"]["properties"]) == list(COMPARED_FIELDS)
    assert list(docs["deaths.schema.yaml"]["properties"]["causes_by_age"]["properties"]) == [
        band for band, _, _ in AGE_BANDS]
    assert docs["names.schema.yaml"]["$defs"]["name"]["pattern"] == f"^{LATIN_NAME.pattern}$"
    assert docs[COMMON]["$defs"]["ethnic_group"]["enum"] == list(ETHNIC_GROUPS)


# ------------------------------------------------- one line: the file, the key, what is allowed


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_broken_value_names_the_file_key_and_what_is_allowed(name):
    override, where, allowed, *_ = CASES[name]
    message = one_line_error({name: override})
    assert message.startswith(f"params/{name}.yaml: {where} is not allowed ("), message
    assert allowed in message, message


@pytest.mark.parametrize("name", sorted(CASES))
def test_an_unknown_key_names_the_file_key_and_the_keys_allowed(name):
    *_, override, where, known = CASES[name]
    message = one_line_error({name: override})
    assert message.startswith(f"params/{name}.yaml: {where}: unknown key (allowed: "), message
    assert known in message.split("(allowed: ", 1)[1], message


@pytest.mark.parametrize(("name", "override", "words"), [
    ("world", {"births": {"continue_after_parity": [0.7, 0.4]}},
     ["births.continue_after_parity", "a list of 7 items"]),
    ("world", {"moves": {"share_within_region": 0.3}},
     ["moves.share_within_region: 0.3 is not allowed", "at most 1 in all"]),
    ("world", {"mother_age_at_first_birth": {"shares_by_quintile": {1: [0.5, 0.5]}}},
     ["shares_by_quintile.1", "one per age band"]),
    ("public_law", {"outcomes": {"shares_by_fy": {2016: [0.5] * 9}}},
     ["outcomes.shares_by_fy.2016: the values sum to 4.5, not 1", "within 0.05"]),
    ("public_law", {"volumes": {"england_by_fy": {"20016": 100}}},
     ["volumes.england_by_fy.20016: unknown key", "from 1900 to 2100"]),
    ("private_law", {"outcomes": {"shares": {"no_order": 0.5}}},
     ["outcomes.shares: the values sum to 1.38, not 1"]),
    ("ttp", {"comparisons": {"sex": {"agree": {"m": 0.5}}}},
     ["comparisons.sex: m sums to", "distribution"]),
    ("ttp", {"thresholds": {"accept": 0.95}}, ["thresholds.accept: 0.95", "at most safe"]),
    ("ttp", {"blocking_rules": ["nhs_number", "surname_only"]},
     ["blocking_rules[1]: 'surname_only' is not allowed", "one of nhs_number"]),
    ("capture", {"sources": {"deaths": {"records_per_person": {2: 0.5}}}},
     ["sources.deaths.records_per_person: the values sum to 1.499, not 1"]),
    ("capture", {"sources": {"cafcass": {"rates": {"baby_name": {"under_1_day": 0.5}}}}},
     ["sources.cafcass.rates.baby_name.under_1_day: unknown key", "under_7_days"]),
    ("capture", {"sources": {"cafcass": {"rates": {"baby_name": {"child": 0.1}}}}},
     ["sources.cafcass.rates.baby_name: overlapping age bands"]),
    ("capture", {"phonetic_rules": [["(ph", "f"]]}, ["phonetic_rules[0][0]: '(ph'", "regular expression"]),
    ("capture", {"group_multipliers": {"not_multiplied": ["nope"]}},
     ["group_multipliers.not_multiplied[0]: 'nope' is not allowed"]),
    ("names", {"ethnicities": ["White", "Mixed", "Black", "Asian", "Asian"]},
     ["ethnicities: 'Asian' appears more than once"]),
    ("names", {"nicknames": {"William": ["bill"]}}, ["nicknames.William[0]: 'bill'", "plain Latin"]),
    ("names", {"surnames": {"White": {"sources": [{"ethnicity": "Mixed", "share": 1.0}]}}},
     ["circular ethnicity reference White -> Mixed -> White"]),
    ("names", {"forenames": {"White": {"sources": [{"share": 1.0}]}}},
     ["forenames.White.sources[0]", "exactly one of: a Faker locale; inline names"]),
    ("cla", {"placement_types": {"care": {"Z9": [0.2] * 5}}},
     ["placement_types.care.Z9: unknown key", "codes.placement_type"]),
    ("cla", {"final_order_reason": {"no_order": "E99"}},
     ["final_order_reason.no_order: 'E99'", "codes.reason_ceased"]),
    ("health", {"conditions": {"injury": {"codes": {"S01": 0.15, "Q99": 0.0}}}},
     ["conditions.injury.codes.Q99: unknown key", "chapters"]),
    ("health", {"admission": {"stay_mean_days": 0.5}},
     ["admission.stay_mean_days: 0.5", "a number of 1 or more"]),
    ("education", {"sen": {"in_proceedings": {"ehcp": 0.9}}}, ["sen.in_proceedings.ehcp: 0.9"]),
    ("education", {"census": {"census_month": 1.0}}, ["census.census_month: 1.0", "a whole number"]),
    ("deaths", {"causes_by_age": {"under_1": {"Perinatal": 1.0}}},
     ["causes_by_age.under_1.Perinatal: unknown key", "ICD-10 chapter"]),
    ("recording", {"ethnicity": {"change_year": None}}, ["ethnicity.change_year: null"]),
    ("linkage", {"project": {"default_key": 7}}, ["project.default_key: 7", "non-empty text"]),
    ("familyman", {"issue": {"court_issue_before_cafcass_days": [3]}},
     ["issue.court_issue_before_cafcass_days: [3]", "a list of 2 items"]),
])
def test_checks_beyond_single_values_are_one_line_too(name, override, words):
    message = one_line_error({name: override})
    assert message.startswith(f"params/{name}.yaml: "), message
    for word in words:
        assert word in message, message


def test_a_missing_key_says_what_it_must_be():
    world = copy.deepcopy(packaged_params("world"))
    del world["births"]["male_share"]
    with pytest.raises(ParameterError) as error:
        validate_params("world", world)
    assert str(error.value) == ("params/world.yaml: births.male_share: missing key (a number from 0 "
                                "to 1; share of boys at birth)")


def test_an_unknown_file_and_a_file_override_that_is_not_a_mapping_are_refused():
    message = one_line_error({"wrld": {"births": {}}})
    assert message.startswith("params/wrld.yaml: no such parameter file (allowed: capture, cla,")
    message = one_line_error({"ttp": 0.5})
    assert message.startswith("params/ttp.yaml: an override must be a mapping")


# ------------------------------------------------------------------------- the overrides


def test_overrides_merge_deeply_without_changing_the_packaged_files():
    before = copy.deepcopy(packaged_params("public_law"))
    merged = merge("public_law", packaged_params("public_law"),
                   {"volumes": {"england_by_fy": {"2016": 1000, 2030: 5}}})
    assert packaged_params("public_law") == before
    years = merged["volumes"]["england_by_fy"]
    assert years[2016] == 1000 and years[2030] == 5 and "2016" not in years
    assert years[2015] == before["volumes"]["england_by_fy"][2015]
    assert merged["volumes"]["wales_anchor_fy"] == before["volumes"]["wales_anchor_fy"]


def test_inside_a_parameter_set_every_load_sees_the_overrides():
    parameters = parameter_set({"recording": {"late_recording": {"share_late": 0.5}}})
    assert load_params("recording")["late_recording"]["share_late"] == 0.08
    with using(parameters):
        assert load_params("recording")["late_recording"]["share_late"] == 0.5
        assert load_params("world") is packaged_params("world")
    assert load_params("recording")["late_recording"]["share_late"] == 0.08


def test_the_manifest_entry_names_the_overrides_only_when_there_are_some():
    plain = parameter_set().manifest()
    assert set(plain) == {"parameters_sha256"}
    assert set(plain["parameters_sha256"]) == set(PARAM_FILES)
    changed = parameter_set({"deaths": {"registration_lag_days": [1, 3]}}).manifest()
    assert changed["parameters_sha256"] == plain["parameters_sha256"]
    assert changed["parameter_overrides"] == {"deaths": {"registration_lag_days": [1, 3]}}
    again = parameter_set({"deaths": {"registration_lag_days": [1, 3]}}).manifest()
    assert again["parameters_used_sha256"] == changed["parameters_used_sha256"]
    other = parameter_set({"deaths": {"registration_lag_days": [1, 4]}}).manifest()
    differs = [n for n in PARAM_FILES
               if other["parameters_used_sha256"][n] != changed["parameters_used_sha256"][n]]
    assert differs == ["deaths"]


def _cafcass_nhs_missing(folder: Path) -> float:
    return float(load("cafcass_people", folder)["nhs_number"].isna().mean())


def test_an_override_changes_the_output_and_the_same_override_gives_the_same_bytes(tmp_path):
    no_missing = {"capture": {"sources": {"cafcass": {"rates": {"nhs_missing": 0.0}}}}}
    default = generate(tmp_path / "default", **TINY)
    first = generate(tmp_path / "first", params=no_missing, **TINY)
    second = generate(tmp_path / "second", params=copy.deepcopy(no_missing), **TINY)
    assert _cafcass_nhs_missing(default) > 0.5  # capture.yaml: Cafcass rarely holds one
    assert _cafcass_nhs_missing(first) == 0.0
    assert manifest(first)["files"] == manifest(second)["files"]
    assert manifest(first)["files"] != manifest(default)["files"]
    assert manifest(first)["parameter_overrides"] == json.loads(json.dumps(no_missing))
    assert "parameter_overrides" not in manifest(default)


# -------------------------------------------------------------- a broken packaged file


def _broken_params_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, file: str, old: str,
                       new: str) -> None:
    copied = tmp_path / "params"
    shutil.copytree(loader.PARAMS_DIR, copied)
    path = copied / f"{file}.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")
    monkeypatch.setattr(loader, "PARAMS_DIR", copied)


def test_a_broken_packaged_file_is_the_same_one_line_error(tmp_path, monkeypatch, capsys):
    from synthetic_data.cli import main

    _broken_params_dir(tmp_path, monkeypatch, "world", "male_share: 0.512", "male_share: 1.512")
    with pytest.raises(ParameterError) as error:
        load_params("world")
    expected = ("params/world.yaml: births.male_share: 1.512 is not allowed (a number from 0 to 1; "
                "share of boys at birth)")
    assert str(error.value) == expected
    out = tmp_path / "out"
    assert main(["generate", "--quiet", "--out", str(out), *TINY_ARGS]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"error: {expected}\n"
    assert not out.exists()
    for command in (["dictionary"], ["report", "--data", str(tmp_path), "--out", str(tmp_path / "r")]):
        assert main(command) == 2
        assert capsys.readouterr().err == f"error: {expected}\n"
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(("old", "new", "words"), [
    ("  male_share: 0.512", "  male_share: 0.512\n  male_share: 0.6", ["key 'male_share' appears twice"]),
    ("  male_share: 0.512", "  male_share: [0.512", ["not valid YAML at line"]),
], ids=["repeated_key", "syntax"])
def test_a_packaged_file_that_is_not_clean_yaml_is_one_line(tmp_path, monkeypatch, old, new, words):
    _broken_params_dir(tmp_path, monkeypatch, "world", old, new)
    with pytest.raises(ParameterError) as error:
        load_params("world")
    message = str(error.value)
    assert message.startswith("params/world.yaml: ") and "\n" not in message, message
    for word in words:
        assert word in message, message


# ------------------------------------------------------------------ through the CLI


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "synthetic_data", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})


def snapshot(folder: Path) -> dict[str, bytes | None]:
    return {p.relative_to(folder).as_posix(): (p.read_bytes() if p.is_file() else None)
            for p in sorted(folder.rglob("*"))}


def assert_refused(result: subprocess.CompletedProcess, name: str, where: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: params/{name}.yaml: {where}"), lines[0]
    assert result.stdout == ""


@pytest.mark.parametrize("name", sorted(CASES))
def test_cli_refuses_a_broken_value_and_writes_nothing(tmp_path, name):
    override, where, allowed, *_ = CASES[name]
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({name: override}), encoding="utf-8")
    result = run("generate", "--quiet", "--params", "bad.yaml", "--out", "new/data", *TINY_ARGS,
                 cwd=tmp_path)
    assert_refused(result, name, f"{where} is not allowed (")
    assert allowed in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_cli_refuses_an_unknown_key_and_leaves_an_earlier_dataset_as_it_was(tmp_path, name):
    *_, override, where, known = CASES[name]
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({name: override}), encoding="utf-8")
    earlier = tmp_path / "data"  # an earlier dataset, which a good run would replace
    (earlier / "tre").mkdir(parents=True)
    (earlier / "manifest.json").write_text('{"generator": "synthetic_data"}\n', encoding="utf-8")
    (earlier / "tre" / "table.csv").write_text("a\n1\n", encoding="utf-8")
    before = snapshot(tmp_path)
    result = run("generate", "--quiet", "--params", "bad.yaml", "--out", "data", *TINY_ARGS,
                 cwd=tmp_path)
    assert_refused(result, name, f"{where}: unknown key (allowed: ")
    assert known in result.stderr
    assert snapshot(tmp_path) == before


def test_generate_help_documents_params(tmp_path):
    result = run("generate", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "--params FILE.yaml" in result.stdout and "synthetic_data/params/" in result.stdout


@pytest.mark.parametrize(("content", "words"), [
    (None, ["--params", "no such file"]),
    ("capture: [1, 2\n", ["--params", "not valid YAML at line"]),
    ("- capture\n", ["--params", "must map parameter file names"]),
    ("capture: {}\ncapture: {}\n", ["--params", "appears twice"]),
], ids=["missing", "syntax", "not_a_mapping", "repeated_key"])
def test_a_params_file_that_cannot_be_read_is_one_line(tmp_path, capsys, content, words):
    from synthetic_data.cli import main

    if content is not None:
        (tmp_path / "bad.yaml").write_text(content, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["generate", "--quiet", "--params", str(tmp_path / "bad.yaml"), "--out", str(out),
                 *TINY_ARGS]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    for word in words:
        assert word in err, err
    assert not out.exists()


def test_read_overrides_gives_the_files_mapping(tmp_path):
    path = tmp_path / "o.yaml"
    path.write_text("recording:\n  late_recording: {share_late: 0.1}\n", encoding="utf-8")
    assert read_overrides(path) == {"recording": {"late_recording": {"share_late": 0.1}}}
    path.write_text("", encoding="utf-8")
    assert read_overrides(path) == {}
    assert issubclass(ParameterError, InputError)
