"""Work queued on background threads (Parquet writes, database loads)."""

from __future__ import annotations

from concurrent.futures import Future


def still_running(pending: list[Future]) -> list[Future]:
    """The futures not yet done, after raising the error of any that failed: a failed write or
    load surfaces at the next call, not only when everything is closed."""
    still = []
    for future in pending:
        if future.done():
            future.result()
        else:
            still.append(future)
    return still
