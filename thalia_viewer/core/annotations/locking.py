"""A cross-process lock around commits to a repository on a local folder.

Icechunk's local-filesystem storage cannot update a branch conditionally (earth-mover/icechunk#804): two
processes committing at once could both "win" and one commit would be lost. Commits to a local store
therefore take an exclusive ``flock`` on ``<store>.lock`` beside the store folder (Icechunk creates
repositories in empty folders only); object stores (S3, ...) update branches conditionally and need none.
The OS drops the lock when its holder dies, even by SIGKILL.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import AnnotationStoreError
from ..filelock import exclusive_lock

LOCK_SUFFIX = ".lock"
LOCK_TIMEOUT_S = 30.0  # a commit holds the lock for milliseconds; this long means a stuck writer
POLL_S = 0.005


@contextmanager
def commit_lock(folder: Path | None, timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold the commit lock of the local store at ``folder`` (no-op for ``None``: an object store)."""
    if folder is None:
        yield
        return

    def stuck() -> AnnotationStoreError:
        msg = f"annotation store {folder} stayed locked by another writer for {timeout_s:.0f} s."
        return AnnotationStoreError(
            msg, "Another process is stuck committing; stop it, or retry the save in a moment."
        )

    with exclusive_lock(folder.with_name(folder.name + LOCK_SUFFIX), timeout_s, stuck, POLL_S):
        yield
