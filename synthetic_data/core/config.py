"""What a user asks the generator for, checked before anything is written.

Every check raises :class:`InputError` with one sentence naming the bad value and what to do,
so a learner at the command line sees that sentence and nothing else.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from synthetic_data.core.errors import InputError

CLASSROOM_SCALE = 0.05
DEFAULT_START = "2008-04"
DEFAULT_END = "2025-03"
EARLIEST = "1995-01"
LATEST = "2030-12"
FORMATS = ("parquet", "csv")
MAX_SCALE = 2.0
# People in the world at scale 1.0 for both countries, used to size chunks (measured).
PEOPLE_AT_FULL_SCALE = {"england": 46_700_000, "wales": 2_500_000, "both": 49_200_000}
MAX_PEOPLE_PER_CHUNK = 6_000_000


@dataclass(frozen=True)
class GenerationConfig:
    scale: float = CLASSROOM_SCALE
    seed: int = 42
    out: Path = Path("data/classroom")
    region: str = "both"
    start: str = DEFAULT_START  # YYYY-MM, first month
    end: str = DEFAULT_END  # YYYY-MM, last month (inclusive)
    formats: tuple[str, ...] = ("parquet",)
    progress: bool = True
    project_key: str = "fj-classroom-project"  # the TTP's project: it encrypts the ALFs
    extra: dict = field(default_factory=dict)

    @property
    def start_day(self) -> int:
        return int((np.datetime64(self.start, "M").astype("datetime64[D]")
                    - np.datetime64("1970-01-01")).astype(int))

    @property
    def end_day(self) -> int:
        last = (np.datetime64(self.end, "M") + 1).astype("datetime64[D]") - 1
        return int((last - np.datetime64("1970-01-01")).astype(int))

    @property
    def financial_years(self) -> range:
        s = np.datetime64(self.start, "M")
        e = np.datetime64(self.end, "M")
        fy = lambda m: (m.astype("datetime64[Y]").astype(int) + 1970  # noqa: E731
                        - (1 if (m.astype(int) % 12) < 3 else 0))
        return range(int(fy(s)), int(fy(e)) + 1)

    @property
    def calendar_years(self) -> range:
        s = int(self.start[:4])
        e = int(self.end[:4])
        return range(s, e + 1)

    @property
    def n_chunks(self) -> int:
        people = PEOPLE_AT_FULL_SCALE[self.region] * self.scale
        return max(1, int(np.ceil(people / MAX_PEOPLE_PER_CHUNK)))

    def as_manifest(self) -> dict:
        d = asdict(self)
        d["out"] = None  # where it was written is not part of what was generated
        d["progress"] = None
        d["formats"] = list(self.formats)
        return {k: v for k, v in d.items() if v is not None and k != "extra"}


_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def validate(config: GenerationConfig) -> GenerationConfig:
    """Return the config if it is usable; otherwise raise InputError saying what is wrong."""
    if not config.project_key or not config.project_key.strip():
        raise InputError("--project-key must be a non-empty string (it names the project whose "
                         "ALFs are made)")
    if not np.isfinite(config.scale) or config.scale <= 0:
        raise InputError(f"--scale must be a positive number (got {config.scale}); "
                         f"{CLASSROOM_SCALE} is the classroom size, 1.0 national volumes")
    if config.scale > MAX_SCALE:
        raise InputError(f"--scale {config.scale} is above the largest supported, {MAX_SCALE}")
    if config.seed < 0 or config.seed >= 2**63:
        raise InputError(f"--seed must be a whole number from 0 to 2**63-1 (got {config.seed})")
    if config.region not in ("england", "wales", "both"):
        raise InputError(f"unknown --region {config.region!r}: choose england, wales or both")
    for name, value in (("--start", config.start), ("--end", config.end)):
        if not _MONTH.match(value):
            raise InputError(f"{name} must be a month as YYYY-MM (got {value!r})")
    if config.end < config.start:
        raise InputError(f"--end {config.end} is before --start {config.start}")
    if config.start < EARLIEST or config.end > LATEST:
        raise InputError(f"the period must lie within {EARLIEST} to {LATEST} "
                         f"(got {config.start} to {config.end})")
    bad = [f for f in config.formats if f not in FORMATS]
    if bad or not config.formats:
        raise InputError(f"--format takes parquet, csv or both (comma-separated); got "
                         f"{','.join(config.formats) or 'nothing'}")
    check_output_folder(Path(config.out))
    return config


def check_output_folder(out: Path) -> None:
    """The folder must be new, empty, or an earlier dataset of ours (which is replaced)."""
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file, not a folder")
    if out.is_dir():
        entries = [p.name for p in out.iterdir()]
        if entries and "manifest.json" not in entries:
            raise InputError(f"--out {out} already holds other files ({', '.join(sorted(entries)[:3])}"
                             f"{'...' if len(entries) > 3 else ''}); choose an empty or new folder")
    parent = out.parent if not out.exists() else out
    probe = parent
    while not probe.exists():
        probe = probe.parent
    import os

    if not probe.is_dir():
        raise InputError(f"cannot create --out {out}: {probe} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise InputError(f"cannot write to {probe}: choose a folder you can write to")
