"""A folder of files on the wire: ``{"files": {"relative/path": "<base64>"}}``.

JSON with base64 contents, not an archive: it can hold only regular files at checked relative
paths, so there is no link, device, owner or ``..`` entry to get wrong on either end. Packing
refuses links (a submission would otherwise carry whatever they point at) and reads every file
without following one; unpacking checks every name and size before anything is written, writes
into a fresh temporary folder and renames it into place, so a half-written folder never looks
complete.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from hub_config.exchange.rules import Limits, RuleError, check_path, check_sizes

Files = dict[str, bytes]


def _ignored(name: str, patterns: Iterable[str]) -> bool:
    return name.startswith(".") or any(fnmatch.fnmatch(name, p) for p in patterns)


def _read_nofollow(path: Path, limit: int) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise RuleError(f"not a regular file: {path.name}")
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise RuleError(f"a file is too large (at most {limit // 2**20} MiB): {path.name}", 413)
    return data


def pack_folder(folder: Path, limits: Limits, ignore: Iterable[str] = ()) -> Files:
    """Every regular file below `folder` (hidden and ignored names skipped), or RuleError for a
    link or special file, a bad name or too much data."""
    folder = Path(folder)
    if folder.is_symlink() or not folder.is_dir():
        raise RuleError(f"not a folder: {folder.name}")
    patterns = list(ignore)
    files: Files = {}
    total = 0
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not _ignored(d, patterns))
        for name in [*dirnames, *filenames]:
            if (here / name).is_symlink():
                rel = (here / name).relative_to(folder)
                raise RuleError(f"links cannot be uploaded; remove {rel} and try again")
        for name in sorted(filenames):
            if _ignored(name, patterns):
                continue
            rel = (here / name).relative_to(folder).as_posix()
            check_path(rel)
            data = _read_nofollow(here / name, limits.max_file_bytes)
            total += len(data)
            files[rel] = data
            if len(files) > limits.max_files or total > limits.max_total_bytes:
                check_sizes([len(d) for d in files.values()], limits)
    check_sizes([len(d) for d in files.values()], limits)
    return files


def to_json(files: Files) -> dict[str, str]:
    """`files` as the JSON object of the wire format (path -> base64)."""
    return {p: base64.b64encode(d).decode("ascii") for p, d in files.items()}


def encode(files: Files, **extra: object) -> bytes:
    """The JSON body for `files` (and any extra fields)."""
    return json.dumps({**extra, "files": to_json(files)}).encode()


def decode(body: bytes | dict, limits: Limits) -> Files:
    """The files in a JSON body, every name and size checked; RuleError otherwise."""
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise RuleError("the request is not valid JSON") from None
    raw = body.get("files") if isinstance(body, dict) else None
    if not isinstance(raw, dict):
        raise RuleError("the request holds no files")
    if len(raw) > limits.max_files:
        raise RuleError(f"too many files ({len(raw)}; at most {limits.max_files})", 413)
    files: Files = {}
    for path, text in raw.items():
        check_path(path)
        if not isinstance(text, str) or len(text) > limits.max_file_bytes * 4 // 3 + 4:
            raise RuleError(f"a file is too large or not base64: {path[:80]!r}", 413)
        try:
            files[path] = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise RuleError(f"a file is not base64: {path[:80]!r}") from None
    check_sizes([len(d) for d in files.values()], limits)
    folders = {"/".join(p.split("/")[:i]) for p in files for i in range(1, p.count("/") + 1)}
    if folders & set(files):
        raise RuleError("a name is both a file and a folder")
    return files


def write_tree(root: Path, files: Files, mode: int = 0o644) -> None:
    """Write `files` below `root`, a folder this process just created (nothing in it to follow)."""
    for rel, data in files.items():
        path = Path(root, *check_path(rel).split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)


def install_tree(dest: Path, files: Files, *, replace: bool = False, mode: int = 0o644) -> None:
    """Write `files` as the folder `dest`: into a temporary sibling first, then renamed, so
    `dest` is either absent, the old folder or the complete new one."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    try:
        write_tree(tmp, files, mode)
        tmp.chmod(0o755 if mode & 0o044 else 0o700)
        if replace and (dest.exists() or dest.is_symlink()):
            old = Path(tempfile.mkdtemp(prefix=f".{dest.name}-old-", dir=dest.parent))
            os.rename(dest, old / "x")
            os.rename(tmp, dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            if dest.exists() or dest.is_symlink():
                raise RuleError(f"{dest.name} already exists", 409)
            os.rename(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
