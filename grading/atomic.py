"""Writing a file so that a reader never sees half of it: a temporary file beside it, renamed
into place. A crash or a full disk leaves the old file (or none), never a partial one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(dest: Path, data: bytes, *, mode: int = 0o644, sync: bool = False) -> None:
    """Write `data` to `dest` in one step; `sync` flushes it to disk before the rename (for a
    record that must survive a power cut, not only a crash of this process)."""
    dest = Path(dest)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            if sync:
                out.flush()
                os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
