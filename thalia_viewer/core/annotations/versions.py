"""Versions of the annotation store: what each commit says about itself, and an index of main's history.

Each save or revert is one Icechunk commit whose metadata names its author, kind and pair; other writes
(a release tag, a model trained on the labels) are logged as commits too (:class:`Event`: who, what, when,
with the details in the metadata), so the store's history answers "who did what when" for every write; the index
reads ``repo.ancestry(branch="main")`` once and then only the commits added since, so "the latest
version of this pair" costs a dictionary look-up however long the history grows.
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import icechunk

from ..pairs import Pair

BRANCH = "main"
APP = "thalia-viewer"  # commit metadata "app": marks the commits this project makes


class Kind(StrEnum):
    """What a commit did to its pair."""

    SAVE = "save"
    REVERT = "revert"
    TAG = "tag"  # a label release was tagged (logged; touches no pair)
    MODEL = "model"  # a model was trained on these labels (logged; touches no pair)


@dataclass(frozen=True)
class Version:
    """One commit of a pair: snapshot id, author, message, time (UTC), pair and kind."""

    id: str
    author: str
    message: str
    time: datetime
    pair: Pair
    kind: Kind
    reverted_to: str | None = None  # the version a revert restored

    @property
    def short_id(self) -> str:
        """The first 8 characters of the snapshot id (enough to name it in a table)."""
        return self.id[:8]


@dataclass(frozen=True)
class Event:
    """One logged write of any kind: snapshot id, kind, author, message, time (UTC) and its details
    (``pair`` for saves and reverts, ``tag`` and ``snapshot`` for tags, ``model`` for models)."""

    id: str
    kind: Kind
    author: str
    message: str
    time: datetime
    details: dict[str, Any]


def event_of(info: icechunk.SnapshotInfo) -> Event | None:
    """The :class:`Event` a snapshot records (``None``: not a write of this app, e.g. the store's creation)."""
    meta = dict(info.metadata or {})
    if meta.get("app") != APP:
        return None
    try:
        kind = Kind(meta.pop("kind", Kind.SAVE))
    except ValueError:
        return None  # a kind of a newer version of the app
    author = str(meta.pop("author", ""))
    meta.pop("app", None)
    return Event(info.id, kind, author, info.message, info.written_at, meta)


def commit_metadata(pair: Pair, author: str, kind: Kind, reverted_to: str | None = None) -> dict[str, Any]:
    """The metadata a save or revert commit carries."""
    meta: dict[str, Any] = {
        "app": APP,
        "kind": kind.value,
        "author": author,
        "pair": pair.key,
        "frame": pair.frame,
        "primary": pair.primary,
        "secondary": pair.secondary,
    }
    if reverted_to is not None:
        meta["reverted_to"] = reverted_to
    return meta


def version_of(info: icechunk.SnapshotInfo) -> Version | None:
    """The :class:`Version` a snapshot records, or ``None`` for commits that touch no pair."""
    meta = info.metadata or {}
    if meta.get("app") != APP or "pair" not in meta:
        return None
    return Version(
        id=info.id,
        author=str(meta.get("author", "")),
        message=info.message,
        time=info.written_at,
        pair=Pair(meta["frame"], meta["primary"], meta["secondary"]),
        kind=Kind(meta.get("kind", Kind.SAVE)),
        reverted_to=meta.get("reverted_to"),
    )


class History:
    """Main's ancestry, oldest first, with the positions of each pair's commits; refreshed incrementally."""

    def __init__(self, repo: icechunk.Repository) -> None:
        self._repo = repo
        self._lock = threading.Lock()
        self._ids: list[str] = []  # snapshot ids, oldest first
        self._position: dict[str, int] = {}
        self._versions: dict[int, Version] = {}  # position -> version, for commits that touch a pair
        self._touches: dict[str, list[int]] = {}  # pair key -> positions, ascending
        self._events: list[Event | None] = []  # per position

    def refresh(self) -> None:
        """Read the commits added to main since the last refresh (history is never rewritten)."""
        with self._lock:
            new: list[icechunk.SnapshotInfo] = []
            for info in self._repo.ancestry(branch=BRANCH):
                if info.id in self._position:
                    break
                new.append(info)
            for info in reversed(new):
                pos = len(self._ids)
                self._ids.append(info.id)
                self._position[info.id] = pos
                self._events.append(event_of(info))
                version = version_of(info)
                if version is not None:
                    self._versions[pos] = version
                    self._touches.setdefault(version.pair.key, []).append(pos)

    def events(self) -> list[Event]:
        """Every logged write on main (saves, reverts, tags, models), newest first."""
        self.refresh()
        with self._lock:
            return [e for e in reversed(self._events) if e is not None]

    def versions(self) -> list[Version]:
        """Every pair commit on main, newest first."""
        self.refresh()
        return [self._versions[p] for p in sorted(self._versions, reverse=True)]

    def ids_starting_with(self, prefix: str) -> list[str]:
        """Snapshot ids on main that start with ``prefix`` (case-insensitive), oldest first."""
        self.refresh()
        return [i for i in self._ids if i.startswith(prefix.upper())]

    def latest(self, pair: Pair, at: str | None = None) -> Version | None:
        """The latest commit that touched ``pair`` at snapshot ``at`` (default: tip of main), or ``None``."""
        if at is None or at not in self._position:  # a snapshot already indexed needs no new ancestry read
            self.refresh()
        if at is not None and at not in self._position:
            return self._latest_off_main(pair, at)
        positions = self._touches.get(pair.key, [])
        limit = len(self._ids) if at is None else self._position[at] + 1
        k = bisect.bisect_left(positions, limit)
        return self._versions[positions[k - 1]] if k else None

    def _latest_off_main(self, pair: Pair, at: str) -> Version | None:
        for info in self._repo.ancestry(snapshot_id=at):
            version = version_of(info)
            if version is not None and version.pair == pair:
                return version
        return None
