"""The targets file: every published figure has its source and is compared by some check, and a
name the file does not hold fails with a sentence saying so."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthetic_data.realism import targets
from synthetic_data.realism.frames import Dataset
from synthetic_data.realism.registry import all_checks, run_check
from synthetic_data.realism.targets import (
    TargetError,
    load_targets,
    published,
    read_targets_file,
    tolerance,
)


def test_every_target_says_what_it_is_and_where_it_was_published() -> None:
    for name, entry in load_targets().items():
        for field in ("what", "bullet", "source"):
            assert isinstance(entry.get(field), str) and entry[field].strip(), (name, field)
        assert entry.get("value") is not None, name
        if "tolerance" in entry:
            assert 0 <= entry["tolerance"] < 1, (name, entry["tolerance"])


def test_every_tolerance_has_its_reason() -> None:
    for name, entry in read_targets_file()["tolerances"].items():
        assert 0 < entry["value"] < 1 and entry["why"].strip(), name


def test_an_unknown_target_fails_with_its_name_and_the_file() -> None:
    with pytest.raises(TargetError, match=r"unknown realism target 'no_such_figure'.*targets\.yaml"):
        published("no_such_figure")
    with pytest.raises(TargetError, match=r"did you mean 'returners'"):
        published("returner")
    with pytest.raises(TargetError, match=r"unknown realism tolerance 'nowhere'"):
        tolerance("nowhere")


def test_a_target_without_its_source_fails_when_the_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "targets.yaml"
    path.write_text("tolerances: {}\ntargets:\n  returners:\n    what: Returning cases\n"
                    "    bullet: A10\n    value: 0.30\n", encoding="utf-8")
    with pytest.raises(TargetError, match=r"target 'returners' in .* has no source"):
        read_targets_file(path)
    path.write_text("targets: {}\n", encoding="utf-8")
    with pytest.raises(TargetError, match="must have exactly the parts tolerances, targets"):
        read_targets_file(path)


class Recording(dict):
    """The targets, noting each one a check looks up."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.used: set[str] = set()

    def __getitem__(self, name: str):
        self.used.add(name)
        return super().__getitem__(name)


@pytest.mark.slow
def test_every_target_is_compared_by_some_check(dataset: Dataset, monkeypatch) -> None:
    """Run every check on the classroom dataset (which covers every target's years and both
    countries) and see which targets they look up: a figure no check reads is a promise the
    report does not keep."""
    content = read_targets_file()
    recording = Recording(content["targets"])
    monkeypatch.setattr(targets, "read_targets_file",
                        lambda: {"tolerances": content["tolerances"], "targets": recording})
    for entry in all_checks():
        run_check(dataset, entry)
    unused = sorted(set(recording) - recording.used)
    assert not unused, f"targets no check compares with: {unused}"
