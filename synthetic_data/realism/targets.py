"""What a dataset is held to, read from ``targets.yaml``: the published figures the realism
checks compare with, and how closely.

The figures are data, beside their sources, so a trainer can read (and a reviewer can check)
what a dataset is held to without reading the checks; the checks hold the counting, not the
numbers. Figures that are parameters of the simulation are not here: they are read from the
parameter files (``load_params``), so a check follows the file the generator is tuned in.

Tolerances are data too, in the same file, because a tolerance is as much part of the claim
"this dataset reproduces that figure" as the figure is: 10 % is a promise about the data, not a
detail of the code. A tolerance that belongs to one published figure (its group is small, it is
a ratio of small shares) stands in that figure's entry with its reason; the general tolerance
and those of figures read from elsewhere stand under ``tolerances``. Only the way noise widens a
tolerance (a number of standard errors, computed from the data's own sizes) stays in the checks,
as it is a method, not a figure.

A name the file does not hold, or an entry without its value or source, fails loudly: a check
quietly falling back to some other figure would report a comparison nobody made.
"""

from __future__ import annotations

import difflib
from functools import cache
from pathlib import Path
from typing import Any

import yaml

TARGETS_FILE = Path(__file__).with_name("targets.yaml")
SECTIONS = ("tolerances", "targets")
REQUIRED_FIELDS = {"tolerances": ("value", "why"), "targets": ("what", "bullet", "source", "value")}


class TargetError(LookupError):
    """A target or tolerance the targets file does not hold, or an entry of it that is
    incomplete."""


@cache
def read_targets_file(path: Path = TARGETS_FILE) -> dict[str, dict[str, dict[str, Any]]]:
    """Both parts of the file, each entry checked to be complete."""
    with Path(path).open(encoding="utf-8") as handle:
        content = yaml.safe_load(handle)
    if not isinstance(content, dict) or set(content) != set(SECTIONS):
        raise TargetError(f"{path} must have exactly the parts {', '.join(SECTIONS)}")
    for section, entries in content.items():
        if not isinstance(entries, dict):
            raise TargetError(f"{section} in {path} must map names to entries")
        for name, entry in entries.items():
            if not isinstance(entry, dict):
                raise TargetError(f"{section[:-1]} {name!r} in {path} must be a mapping of fields")
            required = REQUIRED_FIELDS[section]
            missing = [f for f in required if entry.get(f) in (None, "", {}, [])]
            if missing:
                raise TargetError(f"{section[:-1]} {name!r} in {path} has no {', '.join(missing)}; "
                                  f"each needs {', '.join(required)}")
    return content


def load_targets(path: Path = TARGETS_FILE) -> dict[str, dict[str, Any]]:
    """Every published figure by name, in file order."""
    return read_targets_file(path)["targets"]


def _entry(section: str, name: str) -> dict[str, Any]:
    known = read_targets_file()[section]
    if name not in known:
        close = difflib.get_close_matches(name, known, n=3)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise TargetError(f"unknown realism {section[:-1]} {name!r}: not in "
                          f"{TARGETS_FILE.name} under {section}{hint}")
    return known[name]


def published(name: str) -> dict[str, Any]:
    """One published figure with its bullet, source and defining fields (shared: read only)."""
    return _entry("targets", name)


def tolerance(name: str) -> float:
    """A tolerance under ``tolerances``, relative to the target."""
    return float(_entry("tolerances", name)["value"])
