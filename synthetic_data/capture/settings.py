"""capture.yaml in the form the capture code uses.

The file is checked when it is loaded (its schema, ``params/schemas/capture.schema.yaml``, and
``core.param_checks.check_capture``); this module only reshapes it: age bands as day spans, the
group multipliers and their cap, and the settings that say how corruptions work rather than how
often. A parameter dict of a caller's own is checked exactly as the file would be.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from synthetic_data.capture.record import GROUPS, Settings
from synthetic_data.core.param_checks import capture_age_bands
from synthetic_data.core.params import load_params, validate_params


@dataclass(frozen=True)
class CaptureConfig:
    """Everything a capture needs from capture.yaml."""

    settings: Settings
    age_bands: Mapping[str, tuple[int, float]]  # name -> [from, to) days of age
    multipliers: Mapping[str, float]  # group (GROUPS) -> factor on every multiplied rate
    max_rate: float
    not_multiplied: frozenset[str]
    sources: Mapping[str, Mapping[str, Any]]


def capture_config(params: Mapping[str, Any] | None = None) -> CaptureConfig:
    """capture.yaml as the run uses it (``None``), or a caller's own parameters, checked as the
    file is, so a mistake is named in one line before anything runs."""
    params = load_params("capture") if params is None else validate_params("capture", params)
    groups = params["group_multipliers"]
    settings = Settings(
        baby_forename=params["baby_forename"],
        spelling_fields={str(k): float(v) for k, v in params["spelling_fields"].items()},
        household_fields={str(k): float(v) for k, v in params["household_copy_fields"].items()},
        phonetic_rules=tuple((rule[0], rule[1]) for rule in params["phonetic_rules"]),
    )
    return CaptureConfig(settings, capture_age_bands(params),
                         {group: float(groups[group]) for group in GROUPS},
                         float(groups["max_rate"]), frozenset(groups["not_multiplied"]),
                         params["sources"])
