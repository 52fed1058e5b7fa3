"""The generator's output, file by file, for fixed settings: a change to how the generator is
organised (moving code between modules, validating parameters, renaming) must not change a
byte of what it writes; a change to what it simulates must say so by recording new hashes.

The hashes are the manifest's SHA-256 of each file, for two seeds, two scales and both
regions. When an output change is intended, record them again and commit the file:

    python -m tests.synthetic_data.test_golden_output --record
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import pytest

from synthetic_data.api import generate, manifest

GOLDEN = Path(__file__).with_name("golden_output.json")
# The tiny dataset of conftest.py, and a second seed, scale and region over a short period.
SETTINGS = {
    "tiny": {"scale": 0.03, "region": "wales", "start": "2014-04", "end": "2019-03", "seed": 42},
    "both_seed_7": {"scale": 0.01, "region": "both", "start": "2016-04", "end": "2018-03", "seed": 7},
}


def file_hashes(folder: Path) -> dict[str, str]:
    return dict(sorted(manifest(folder)["files"].items()))


def differences(recorded: dict[str, str], made: dict[str, str]) -> list[str]:
    """One line per file that is new, missing or different."""
    lines = [f"new file {name}" for name in sorted(set(made) - set(recorded))]
    lines += [f"missing file {name}" for name in sorted(set(recorded) - set(made))]
    lines += [f"changed {name}" for name in sorted(set(made) & set(recorded)) if made[name] != recorded[name]]
    return lines


def recorded(name: str) -> dict[str, str]:
    return json.loads(GOLDEN.read_text(encoding="utf-8"))[name]


def assert_same(name: str, folder: Path) -> None:
    changed = differences(recorded(name), file_hashes(folder))
    assert not changed, (f"the output of {name} {SETTINGS.get(name, '(classroom)')} changed:\n  "
                         + "\n  ".join(changed) + "\nIf the change is intended, record the hashes again "
                         "(see this module's docstring).")


def test_differences_name_every_changed_file() -> None:
    assert differences({"a": "1", "b": "2"}, {"a": "1", "b": "3", "c": "4"}) == ["new file c", "changed b"]
    assert differences({"a": "1"}, {}) == ["missing file a"]


def test_the_tiny_dataset_is_byte_identical_to_the_recorded_one(tiny_dataset: Path,
                                                                 tiny_settings: dict) -> None:
    assert tiny_settings == SETTINGS["tiny"], "conftest.py's tiny settings and these must agree"
    assert_same("tiny", tiny_dataset)


def test_another_seed_scale_and_region_are_byte_identical_to_the_recorded_ones(tmp_path: Path) -> None:
    assert_same("both_seed_7", generate(tmp_path / "data", **SETTINGS["both_seed_7"]))


@pytest.mark.slow
def test_the_classroom_dataset_is_byte_identical_to_the_recorded_one(classroom_dataset: Path) -> None:
    assert_same("classroom", classroom_dataset)


def record() -> None:
    """Generate every setting (the classroom one at its defaults) and write their hashes."""
    hashes = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, settings in {**SETTINGS, "classroom": {}}.items():
            print(f"generating {name} ...", flush=True)
            hashes[name] = file_hashes(generate(Path(tmp) / name, **settings))
    GOLDEN.write_text(json.dumps(hashes, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {GOLDEN}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--record", action="store_true", help="generate and record the hashes")
    if parser.parse_args().record:
        record()
    else:
        parser.print_help()
