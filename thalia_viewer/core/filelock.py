"""An exclusive, cross-process lock on a file (``flock``), which the OS drops when its holder dies."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

POLL_S = 0.005  # seconds between two tries while another process holds the lock


@contextmanager
def exclusive_lock(
    path: Path, timeout_s: float, timed_out: Callable[[], Exception], poll_s: float = POLL_S
) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing); after ``timeout_s`` seconds of waiting,
    raise ``timed_out()`` (chained to the last ``BlockingIOError``)."""
    import fcntl  # POSIX only: imported where a lock is taken

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o664)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError as exc:
                if time.monotonic() > deadline:
                    raise timed_out() from exc
                time.sleep(poll_s)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
