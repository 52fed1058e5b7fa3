"""One-time sign-up codes: how a trainer's or a roster learner's account is created without waiting.

Sign-up on the hub is open to anyone, so a name alone proves nothing: whoever signs up first
under a trainer's name must not become a hub admin, and whoever signs up first under a roster
name must not take that learner's place. A code issued for a name (by the installer, or by a
trainer with this module's command) lets its holder sign up under that name and be approved at
once; a trainer name cannot be signed up at all without one.

Codes are stored only as SHA-256 hashes bound to their name, in a file only root reads (mode
0600, in the hub's private state folder), so a copy of the file or a backup gives nobody a
working code. A code works once, for its own name only. The codes themselves are shown once,
when issued.

    python -m hub_config.signup_codes --help
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import fcntl
import hashlib
import hmac
import io
import json
import os
import re
import secrets
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

# Kept free of the rest of hub_config (and of third-party packages): the Kubernetes hub pod gets
# this file and authenticator.py alone (see hub_config/k8s/render_signup.py).

FILE_NAME = "signup_codes.json"
FORMAT = 1
# Letters and digits that cannot be mistaken for one another when read aloud or from paper.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
# 16 characters from 31: about 79 bits, far beyond guessing through a sign-up form.
CODE_LENGTH = 16
# The hub's user name rule (hub.USERNAME_PATTERN; the Kubernetes values repeat it).
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{1,30}$")


class SignupCodeError(ValueError):
    """A request this module refuses, with a message meant for the person who made it."""


@dataclass(frozen=True)
class CodeStatus:
    """What `list` shows about one name's code: never the code itself."""

    name: str
    issued: str
    used: str | None


def codes_file(hub_dir: Path) -> Path:
    """Where a hub keeps its codes: its private state folder (root-only on the workshop server)."""
    return Path(hub_dir) / FILE_NAME


def new_code() -> str:
    """A fresh random code, in groups of four for reading out (ABCD-EFGH-JKMN-PQRS)."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i:i + 4] for i in range(0, CODE_LENGTH, 4))


def normalize_code(code: str) -> str:
    """What is compared: case, spaces and dashes as typed do not matter."""
    return re.sub(r"[\s-]+", "", code or "").upper()


def code_hash(name: str, code: str) -> str:
    """The stored form of a code: bound to its name, so it opens no other account."""
    return hashlib.sha256(f"fj-signup-code\0{name}\0{normalize_code(code)}".encode()).hexdigest()


def check_name(name: str) -> str:
    """A hub name as the hub stores it (lower case), or SignupCodeError."""
    normalized = (name or "").strip().lower()
    if not NAME_PATTERN.match(normalized):
        raise SignupCodeError(f"not a hub name: {name!r} (lower-case letters, digits, - and _, "
                              "starting with a letter, 2 to 31 characters)")
    return normalized


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_private(path: Path, text: str) -> None:
    """Replace `path` atomically with a 0600 file: a reader sees the old or the new content,
    never half of it, and the content is never readable by others, not even for a moment."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # created 0600
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class SignupCodes:
    """The codes of one hub, in `path`.

    `seed` is an optional read-only file in the same format (on Kubernetes, the hashes the
    trainer ships in the hub's secret): its entries are taken over whenever their hash is new,
    so shipping a reissued code replaces the old one, and shipping the same file again never
    revives a used code.
    """

    def __init__(self, path: str | os.PathLike[str], seed: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path)
        self.seed = Path(seed) if seed else None

    # --- storage ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, dict[str, str | None]]]:
        """The codes, read and written back under an exclusive lock (the hub and this module's
        command may change the file at the same moment)."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            codes = self._read(self.path)
            before = json.dumps(codes, sort_keys=True)
            self._merge_seed(codes)
            yield codes
            if json.dumps(codes, sort_keys=True) != before:
                write_private(self.path, json.dumps({"format": FORMAT, "codes": codes}, indent=2,
                                                    sort_keys=True) + "\n")
        finally:
            os.close(fd)

    @staticmethod
    def _read(path: Path) -> dict[str, dict[str, str | None]]:
        if not path.exists():
            return {}
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise SignupCodeError(f"cannot read the sign-up codes in {path}: {error}") from error
        if not isinstance(data, dict) or data.get("format") != FORMAT \
                or not isinstance(data.get("codes"), dict):
            raise SignupCodeError(f"{path} is not a sign-up codes file (format {FORMAT})")
        return data["codes"]

    def _merge_seed(self, codes: dict[str, dict[str, str | None]]) -> None:
        if self.seed is None or not self.seed.exists():
            return
        for name, entry in self._read(self.seed).items():
            if not isinstance(entry, dict) or not entry.get("sha256"):
                continue
            if codes.get(name, {}).get("sha256") != entry["sha256"]:
                codes[name] = {"sha256": entry["sha256"], "issued": entry.get("issued") or _now(),
                               "used": None}

    # --- operations -------------------------------------------------------------------------

    def issue(self, names: Iterable[str], *, reissue: bool = False) -> dict[str, str]:
        """New codes for the names that have none (used or not), or for all of them with
        `reissue` (which makes their earlier codes worthless). Returns {name: code}: the only
        time the codes exist in clear."""
        wanted = list(dict.fromkeys(check_name(name) for name in names))
        issued = {}
        with self._locked() as codes:
            for name in wanted:
                if name in codes and not reissue:
                    continue
                code = new_code()
                codes[name] = {"sha256": code_hash(name, code), "issued": _now(), "used": None}
                issued[name] = code
        return issued

    def consume(self, name: str, code: str) -> bool:
        """True, once, if `code` is the unused code of `name`; it is then spent."""
        try:
            name = check_name(name)
        except SignupCodeError:
            return False
        if not normalize_code(code):
            return False
        with self._locked() as codes:
            entry = codes.get(name)
            if not entry or entry.get("used") or not entry.get("sha256"):
                return False
            if not hmac.compare_digest(str(entry["sha256"]), code_hash(name, code)):
                return False
            entry["used"] = _now()
            return True

    def revoke(self, names: Iterable[str]) -> list[str]:
        """Forget the codes of `names` (a lost sheet of codes); returns the names that had one."""
        wanted = [check_name(name) for name in names]
        with self._locked() as codes:
            return [name for name in wanted if codes.pop(name, None) is not None]

    def status(self) -> list[CodeStatus]:
        """Every name with a code, whether it was used and when: never the codes."""
        with self._locked() as codes:
            return [CodeStatus(name, str(entry.get("issued") or ""), entry.get("used"))
                    for name, entry in sorted(codes.items())]

    def has_code(self, name: str) -> bool:
        """Whether `name` has a code, used or not (so issuing again would replace it)."""
        return any(s.name == check_name(name) for s in self.status())


def write_codes_csv(path: str | os.PathLike[str], issued: dict[str, str]) -> Path:
    """Add `issued` to the `name,code` sheet a trainer hands out (0600; a name issued again
    replaces its row, so the sheet always holds each name's latest code)."""
    path = Path(path)
    rows: dict[str, str] = {}
    if path.exists():
        for row in csv.reader(io.StringIO(path.read_text())):
            if len(row) >= 2 and row[0] != "name":
                rows[row[0]] = row[1]
    rows.update(issued)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "code"])
    writer.writerows(sorted(rows.items()))
    write_private(path, out.getvalue())
    return path


# --- command line ---------------------------------------------------------------------------

DESCRIPTION = """\
One-time sign-up codes for the course hub.

A trainer's name can be signed up only with its code; a learner who signs up with the code of
their name is approved at once, anyone else waits for a trainer's approval at /hub/authorize.
A code works once, for the name it was issued to. Codes are kept only as hashes, so they are
shown once, when issued: hand them out then (or keep the --csv sheet, readable only by root).

Run as root on the workshop server (the codes live in the hub's private state folder; the hub
reads them at every sign-up, no restart needed). On Kubernetes, keep a codes file of your own
with --file and ship it in the hub's secret (see hub_config/k8s/README.md).
"""

EPILOG = """\
examples:
  python -m hub_config.signup_codes issue alice            a trainer's code, printed once
  python -m hub_config.signup_codes issue --roster --csv /etc/fj-training/signup-codes.csv
  python -m hub_config.signup_codes issue --reissue bob    bob lost his code: the old one stops working
  python -m hub_config.signup_codes list                   who has an unused code
  python -m hub_config.signup_codes revoke carol           carol's code stops working
"""


def default_file(settings: str | None) -> Path:
    """The hub's codes file from the course settings (the installer's, unless told otherwise)."""
    from hub_config import course

    path = settings or os.environ.get(course.SETTINGS_VARIABLE)
    if not path and Path("/etc/fj-training/course.yaml").exists():
        path = "/etc/fj-training/course.yaml"
    return codes_file(course.load(path).state_dir / "hub")


def roster_names(settings: str | None) -> list[str]:
    from hub_config import course

    path = settings or os.environ.get(course.SETTINGS_VARIABLE)
    if not path and Path("/etc/fj-training/course.yaml").exists():
        path = "/etc/fj-training/course.yaml"
    loaded = course.load(path)
    names = loaded.roster()
    if not names:
        raise SignupCodeError(f"the roster {loaded.roster_file} is empty or missing")
    return names


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m hub_config.signup_codes", description=DESCRIPTION,
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--settings", help="the course settings file (default: $FJ_HUB_SETTINGS, "
                   "else /etc/fj-training/course.yaml, else hub_config/course.yaml)")
    p.add_argument("--file", type=Path, help="the codes file (default: the hub's, "
                   f"STATE_DIR/hub/{FILE_NAME})")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    issue = sub.add_parser("issue", help="issue codes and print them once, as name,code lines",
                           description="Issue a code for every name that has none and print the "
                           "new ones as `name,code` lines. Names that already have a code (used "
                           "or not) are skipped unless --reissue is given.")
    issue.add_argument("names", nargs="*", metavar="NAME", help="hub names (trainers or learners)")
    issue.add_argument("--roster", action="store_true", help="every name on the course roster")
    issue.add_argument("--reissue", action="store_true",
                       help="replace existing codes too (codes handed out earlier stop working)")
    issue.add_argument("--csv", type=Path, metavar="PATH",
                       help="also add the new codes to this name,code sheet (mode 0600)")
    sub.add_parser("list", help="show which names have a code and whether it was used",
                   description="Show each name with a code, when it was issued and whether it "
                   "was used. The codes themselves are never shown: they are stored as hashes.")
    revoke = sub.add_parser("revoke", help="make names' codes stop working",
                            description="Forget the codes of these names (for example a lost "
                            "sheet); accounts already created stay as they are.")
    revoke.add_argument("names", nargs="+", metavar="NAME")
    return p


def main(argv: list[str] | None = None) -> int:
    """The command line; errors are one line on stderr and exit status 2."""
    args = parser().parse_args(argv)
    try:
        store = SignupCodes(args.file or default_file(args.settings))
        if args.command == "issue":
            names = list(args.names) + (roster_names(args.settings) if args.roster else [])
            if not names:
                raise SignupCodeError("name at least one hub name, or give --roster")
            wanted = [check_name(name) for name in names]
            issued = store.issue(wanted, reissue=args.reissue)
            for name in wanted:
                if name not in issued:
                    print(f"{name}: already has a code (see `list`); --reissue replaces it",
                          file=sys.stderr)
            if args.csv and issued:
                write_codes_csv(args.csv, issued)
                print(f"{len(issued)} new code(s) added to {args.csv}", file=sys.stderr)
            if issued:
                print("name,code")
                for name, code in issued.items():
                    print(f"{name},{code}")
        elif args.command == "list":
            statuses = store.status()
            if not statuses:
                print(f"No sign-up codes in {store.path}.")
            for s in statuses:
                state = f"used {s.used}" if s.used else "unused"
                print(f"{s.name:<32} {state:<32} issued {s.issued}")
        elif args.command == "revoke":
            gone = store.revoke(args.names)
            for name in args.names:
                print(f"{name}: {'revoked' if check_name(name) in gone else 'had no code'}")
    except PermissionError as error:
        print(f"signup_codes: permission denied: {error.filename or error} (run as root)", file=sys.stderr)
        return 2
    except (SignupCodeError, OSError) as error:
        print(f"signup_codes: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
