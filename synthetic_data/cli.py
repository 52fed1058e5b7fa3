"""Command line: ``python -m synthetic_data <command>``. Each command's --help is its manual."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from synthetic_data.core.config import (
    CLASSROOM_SCALE,
    DEFAULT_END,
    DEFAULT_START,
    FORMATS,
)
from synthetic_data.core.errors import InputError

DESCRIPTION = """\
Generate entirely fake, realistic family justice data for England and Wales: a world of
families, and Cafcass-like records of the public law (s31 care and supervision) and private law
(s8) proceedings they come to, calibrated to published figures.

Nothing here describes a real person. Local authorities, regions, deprivation and population
counts are real public statistics (Open Government Licence v3.0)."""

GENERATE_HELP = f"""\
Write a dataset into --out, in four folders with different access:

  identifiable/   what each provider holds (Cafcass, court, health, education, care, deaths):
                  records with (fake) names and identifiers, as captured
  tre/            the trusted research environment's view: the same records de-identified,
                  with the trusted third party's ALF, match status and score
  reference/      local authorities, DFJ areas, small areas, population denominators
  answer_key/     the truth behind every record (person_id): for graders only

Each folder also holds a DuckDB database with a schema per source.

plus manifest.json (seed, version, parameters, row counts, file hashes) and
data_dictionary.md. The folder is written in full, or not at all; the same seed and version
always give byte-identical files.

scale: 1.0 means national volumes (about 12,000 care applications and 40,000 private law
cases a year in England); the classroom default, {CLASSROOM_SCALE}, takes under a minute.

--params FILE.yaml changes parameters for this run. Every rate and share is in a file of
synthetic_data/params/ (capture.yaml, world.yaml, ...); FILE.yaml names those files and, in
their own shape, only the keys that change, which are merged onto the packaged values:

  capture:
    sources:
      cafcass:
        rates: {{typo: 0.0, nickname: 0.2}}

Every file is checked, with the changes, before anything is written: a bad value or an unknown
key stops with one line naming the file, the key and what is allowed. manifest.json records the
changes; the same seed and the same FILE.yaml give byte-identical files.

examples:
  python -m synthetic_data generate --out data/classroom
  python -m synthetic_data generate --scale 1.0 --region wales --out data/wales
  python -m synthetic_data generate --start 2014-04 --end 2020-03 --format parquet,csv --out d
  python -m synthetic_data generate --params no_typos.yaml --out data/no_typos
"""


EPILOG = """\
the main command:
  python -m synthetic_data generate --out DIR [--scale S] [--seed N]
      [--region england|wales|both] [--start YYYY-MM] [--end YYYY-MM] [--format parquet,csv]
      [--params FILE.yaml]

  writes identifiable/ (every provider's records), tre/ (the de-identified research view),
  reference/ (geography and population) and answer_key/ (the truth, for graders only), with
  manifest.json and data_dictionary.md.

run `python -m synthetic_data COMMAND --help` for each command's manual."""


DISTRIBUTION = "family-justice-data-training"
SCRIPT = "fj-data"


def _formats(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def version() -> str:
    """The installed distribution's version; in a clone that was never installed, the package's
    own, which is the one the distribution is built with."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed(DISTRIBUTION)
    except PackageNotFoundError:
        from synthetic_data import __version__

        return __version__


def program_name() -> str:
    """``fj-data`` when run as the installed command, else ``python -m synthetic_data``, so that
    usage lines show what the user typed."""
    return SCRIPT if Path(sys.argv[0]).stem == SCRIPT else "python -m synthetic_data"


class CommandParser(argparse.ArgumentParser):
    """A command's own parser: an option it does not know is its error, reported with its usage.

    argparse hands a subcommand's unknown arguments back to the top-level parser, which would
    print the top-level usage instead of the mistyped command's."""

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> tuple[Any, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=program_name(), description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", metavar="command", parser_class=CommandParser)
    sub.required = True

    g = sub.add_parser("generate", help="generate a dataset", description=GENERATE_HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    g.add_argument("--out", type=Path, required=True,
                   help="folder to write (new, empty, or an earlier dataset, which is replaced)")
    g.add_argument("--scale", type=float, default=CLASSROOM_SCALE,
                   help=f"share of national volumes (default {CLASSROOM_SCALE}; 1.0 = national)")
    g.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    g.add_argument("--region", default="both",
                   help="england, wales or both (default both)")
    g.add_argument("--start", default=DEFAULT_START,
                   help=f"first month, YYYY-MM (default {DEFAULT_START})")
    g.add_argument("--end", default=DEFAULT_END,
                   help=f"last month, YYYY-MM (default {DEFAULT_END})")
    g.add_argument("--format", type=_formats, default=("parquet",), dest="formats",
                   help=f"file formats, comma-separated: {', '.join(FORMATS)} (default parquet)")
    g.add_argument("--project-key", default="fj-classroom-project",
                   help="the project the trusted third party makes ALFs for: another key gives "
                        "every person different ALFs (default fj-classroom-project)")
    g.add_argument("--params", type=Path, default=None, metavar="FILE.yaml",
                   help="a YAML file of parameter changes for this run, in the shape of the "
                        "files in synthetic_data/params/ (see above)")
    g.add_argument("--quiet", action="store_true", help="no progress bar")

    r = sub.add_parser(
        "report", help="realism report: generated figures against their published targets",
        description="Compare every calibrated figure of a dataset with the published target it "
                    "reproduces, side by side, with plots. Writes report.md, report.html, "
                    "checks.csv and PNG plots into --out.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("--data", type=Path, default=Path("data/classroom"),
                   help="a generated dataset (default data/classroom)")
    r.add_argument("--out", type=Path, default=None,
                   help="where to write the report (default DATA/realism_report)")

    d = sub.add_parser("dictionary", help="print the data dictionary (Markdown)",
                       description="Print the data dictionary: every table and column, with "
                                   "type, meaning and the real field it stands in for.")
    d.add_argument("--out", type=Path, default=None, help="write to this file instead")

    sub.add_parser("tables", help="list the tables and the folder each is written to",
                   description="List every table with its folder and one-line description.")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: nothing was written", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    if args.command == "generate":
        from synthetic_data.core.config import GenerationConfig
        from synthetic_data.core.param_overrides import read_overrides
        from synthetic_data.pipeline import generate

        config = GenerationConfig(scale=args.scale, seed=args.seed, out=args.out,
                                  region=args.region.lower(), start=args.start, end=args.end,
                                  formats=args.formats, progress=not args.quiet,
                                  project_key=args.project_key)
        overrides = read_overrides(args.params) if args.params is not None else None
        out = generate(config, overrides)
        from synthetic_data.api import manifest

        rows = manifest(out)["row_counts"]
        print(f"wrote {out} ({sum(rows.values()):,} rows in {len(rows)} tables); "
              f"see {out / 'data_dictionary.md'}")
        return 0
    if args.command in ("report", "dictionary"):
        from synthetic_data.core.params import parameter_set

        parameter_set()  # every parameter file checked before anything is written
    if args.command == "report":
        from synthetic_data.realism.report import write_report

        out = args.out or args.data / "realism_report"
        summary = write_report(args.data, out)
        print(summary)
        return 0
    if args.command == "dictionary":
        from synthetic_data.output.dictionary import render_dictionary

        text = render_dictionary()
        if args.out:
            write_text(args.out, text)
            print(f"wrote {args.out}")
        else:
            print(text)
        return 0
    if args.command == "tables":
        from synthetic_data.output.schema import TABLES

        for t in TABLES:
            print(f"{t.view + '/' + t.name:45s} {t.description.split('. ')[0]}")
        return 0
    raise AssertionError(args.command)


def write_text(path: Path, text: str) -> None:
    """Write a file, creating its folder as a user expects; a path that cannot be written is an
    InputError naming it, never a traceback."""
    if path.is_dir():
        raise InputError(f"--out {path} is a folder; give a file name, such as {path / 'dictionary.md'}")
    probe = path.parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise InputError(f"cannot create the folder of --out {path}: {probe} is a file, not a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        raise InputError(f"cannot write --out {path}: {err.strerror or err}") from None
