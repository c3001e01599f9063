"""The versioned annotation store: corrections of masks and labels as an Icechunk overlay on read-only cubes.

Layout (Zarr 3 inside an Icechunk repository): the root group's attrs mark the store; one group per frame
(``attrs["shape"]``: rows, columns); one group per corrected pair, ``<frame>/<primary>_<secondary>``,
holding ``deformation_mask``, ``activity_type_mask`` and ``intensity_level_mask`` (uint8, full frame,
1024 x 1024 chunks) and, in its attrs, the pair's ``annotations.json`` record and who saved it. Each save
or revert of a pair is one commit on ``main`` whose metadata names author, kind and pair; a save writes
only the chunks that differ from the pair's previous version. History is never rewritten.

>>> store = AnnotationStore(default_store_path(root), dataset=ThaliaDataset(root))   # ROOT/.thalia/annotations
>>> pair = Pair("124D_05291_081406", "20180218", "20180302")
>>> ann = store.read_merged(pair)                      # correction if any, else the source
>>> ann.source, ann.version
(True, None)
>>> masks = {name: m.copy() for name, m in ann.masks.items()}
>>> masks["deformation_mask"][:20, :20] = masks["activity_type_mask"][:20, :20] = 1        # Mogi
>>> masks["intensity_level_mask"][:20, :20] = 2                                           # Medium
>>> version = store.save_pair(pair, masks, ann.record, author="ana", message="trim mask", base=ann.version)
>>> [(v.author, v.message, v.id == version) for v in store.history(pair=pair)]
[('ana', 'trim mask', True)]
>>> store.read_merged(pair).author
'ana'
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import icechunk
import numpy as np
import zarr

from .. import schema
from ..dataset import ThaliaDataset
from ..errors import AnnotationStoreError, ConflictError, InvalidEditError
from ..io import Location
from ..pairs import Pair
from ..zarr_write import array_of, attrs_of
from .annotation import PairAnnotation, source_annotation
from .checks import check_consistency, check_masks, check_record
from .chunks import changed_blocks, create_mask_array, read_arrays, write_blocks
from .diff import PairDiff, pair_diff
from .locking import commit_lock
from .versions import APP, BRANCH, Event, History, Kind, Version, commit_metadata

STORE_MARK: Final = "thalia_annotations"  # root attrs key that marks an annotation store
LAST_EVENT: Final = "last_event"  # root attrs key a logged event rewrites (the history holds them all)
FORMAT_VERSION: Final = 1
DEFAULT_SUBDIR: Final = (".thalia", "annotations")
STORE_ENV: Final = "THALIA_STORE"  # where corrections are kept, when not beside the root
MAX_ATTEMPTS: Final = 8  # whole-save retries when a concurrent commit clashes structurally
REBASE_TRIES: Final = 20  # rebases of one commit onto commits of other pairs
CACHE_PAIRS: Final = 2  # pairs' masks kept in memory per store (48 MB each at 4096 x 4096)
#: ``create=ON_SAVE``: a missing store reads as an empty one and is created by the first write (browsing
#: never writes: a dataset root is often read-only).
ON_SAVE: Final = "on_save"
PENDING_RECHECK_S: Final = 5.0  # a store not created yet: how often a remote one is looked for again
#: Where an S3-compatible server's URL is looked for, first found wins.
ENDPOINT_ENVS: Final = ("THALIA_STORE_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
_QUIET_LOGS: Final = "warn,icechunk::storage::object_store=error,icechunk::session=error"

Source = PairAnnotation | Callable[[Pair], PairAnnotation]


def default_store_path(root: str | os.PathLike[str]) -> str:
    """Where a dataset root keeps its annotation store by default: ``ROOT/.thalia/annotations``."""
    return Location(root).join(*DEFAULT_SUBDIR)


def store_location(root: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> str | None:
    """Where corrections of ``root`` are kept, for the app and every command alike: ``$THALIA_STORE``, else
    beside a local root (:func:`default_store_path`), else nowhere (``None``: a remote root needs one named)."""
    explicit = (environ if environ is not None else os.environ).get(STORE_ENV, "").strip()
    if explicit:
        return explicit
    return default_store_path(root) if Location(root).is_local else None


def _storage(
    location: str | os.PathLike[str] | icechunk.Storage,
) -> tuple[icechunk.Storage, Path | None, str]:
    """Icechunk storage of a local folder, a ``file://`` / ``s3://bucket/prefix`` URL or a ready Storage.

    S3 stores use ``icechunk.s3_storage(bucket=..., prefix=..., from_env=True)``: credentials and region
    come from the usual AWS environment variables, an S3-compatible server's address (MinIO, Ceph, ...) from
    :func:`s3_options`. Returns (storage, local folder or None, display name).
    """
    if isinstance(location, icechunk.Storage):
        return location, None, repr(location)
    text = os.fspath(location)
    scheme, sep, rest = text.partition("://")
    if sep and scheme == "s3":
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            msg = f"annotation store URL {text!r} names no bucket."
            raise AnnotationStoreError(msg, "Use s3://BUCKET/PREFIX.")
        storage = icechunk.s3_storage(
            bucket=bucket, prefix=prefix.strip("/") or None, from_env=True, **s3_options()
        )
        return storage, None, text
    if sep and scheme != "file":
        msg = f"annotation store URL {text!r}: scheme {scheme!r} is not supported."
        raise AnnotationStoreError(
            msg, "Use a local folder, file://PATH or s3://BUCKET/PREFIX, or pass an icechunk.Storage."
        )
    folder = Path(rest if sep else text).expanduser().absolute()
    return icechunk.local_filesystem_storage(str(folder)), folder, str(folder)


def s3_options(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Options of an S3 store beyond the AWS defaults, from the environment.

    ``$THALIA_STORE_ENDPOINT`` (``thalia-viewer serve --store-endpoint URL``), else the AWS SDKs'
    ``$AWS_ENDPOINT_URL_S3`` / ``$AWS_ENDPOINT_URL``: the address of an S3-compatible server, reached with
    path-style addressing (``http://host:9000/bucket/...``, what MinIO, Ceph and moto serve) and plain HTTP
    allowed when the URL says ``http://``. ``$AWS_REGION`` / ``$AWS_DEFAULT_REGION`` give the region.
    """
    env = os.environ if environ is None else environ
    options: dict[str, Any] = {}
    endpoint = next((env[k].strip() for k in ENDPOINT_ENVS if env.get(k, "").strip()), "")
    if endpoint:
        options.update(
            endpoint_url=endpoint, force_path_style=True, allow_http=endpoint.startswith("http://")
        )
    region = next(
        (env[k].strip() for k in ("AWS_REGION", "AWS_DEFAULT_REGION") if env.get(k, "").strip()), ""
    )
    if region:
        options["region"] = region
    return options


def _plane(chunks: tuple[int, ...]) -> tuple[int, int]:
    """The (rows, cols) chunk shape of a 2-D mask array."""
    rows, cols = chunks
    return rows, cols


def _group_path(pair: Pair) -> str:
    return pair.key


class AnnotationStore:
    """A versioned, attributed, conflict-safe store of pair corrections (see the module docstring).

    ``location``: a local folder (created when ``create``; with ``create=ON_SAVE`` only by the first save,
    tag or revert, a missing store reading as an empty one until then, or until another process creates it),
    ``file://`` or ``s3://bucket/prefix`` URL, or an ``icechunk.Storage``. ``dataset``: the source dataset; with it, masks are checked against the frame's
    shape and the pair's existence, and reads can fall back to the source (:meth:`read_merged`).
    Safe for several processes writing at once (local folders use a commit lock, object stores Icechunk's
    conditional updates). ``cache_pairs``: how many pairs' masks (3 x rows x columns bytes each) are kept in
    memory so that saving an edit of a pair just read or saved need not read its previous version again.
    """

    def __init__(
        self,
        location: str | os.PathLike[str] | icechunk.Storage,
        dataset: ThaliaDataset | None = None,
        create: bool | str = True,
        cache_pairs: int = CACHE_PAIRS,
    ) -> None:
        self.dataset = dataset
        self._cache_pairs = cache_pairs
        if (
            "ICECHUNK_LOG" not in os.environ
        ):  # silence what is expected: the local-storage warning, rebase aborts
            icechunk.set_logs_filter(_QUIET_LOGS)
        storage, self._folder, self.location = _storage(location)
        self.writes = 0  # commits made through this object (readers caching the tip compare it)
        self._pending: icechunk.Storage | None = None  # ON_SAVE and not created yet
        self._pending_checked = 0.0
        if create == ON_SAVE and not self._exists(storage):
            self._pending = storage
            self._repo_now = icechunk.Repository.create(icechunk.in_memory_storage())
            _initialize(self._repo_now)
        else:
            self._repo_now = self._open(storage, bool(create))
        self._history_now = History(self._repo_now)
        self._cache: OrderedDict[tuple[str, str], dict[str, np.ndarray]] = OrderedDict()

    def __repr__(self) -> str:
        return f"AnnotationStore({self.location!r})"

    # ---------------------------------------------------------------------------------------- open
    @property
    def exists(self) -> bool:
        """Whether the store exists (``False`` for an ``ON_SAVE`` store nobody has saved to yet)."""
        self._adopt()
        return self._pending is None

    @property
    def _repo(self) -> icechunk.Repository:
        self._adopt()
        return self._repo_now

    @property
    def _history(self) -> History:
        self._adopt()
        return self._history_now

    def _exists(self, storage: icechunk.Storage) -> bool:
        if self._folder is not None and not self._folder.is_dir():
            return False
        try:
            return bool(icechunk.Repository.exists(storage))
        except icechunk.IcechunkError:
            return False

    def _adopt(self, create: bool = False) -> None:
        """An ``ON_SAVE`` store not created yet: open it once it exists (another process may have created it),
        or create it now for a write (``create``)."""
        if self._pending is None:
            return
        if not create:
            now = time.monotonic()
            if self._folder is None and now - self._pending_checked < PENDING_RECHECK_S:
                return  # a remote store: do not look it up on every read
            self._pending_checked = now
            if not self._exists(self._pending):
                return
        repo = self._open(self._pending, create=True)
        self._pending, self._repo_now, self._history_now = None, repo, History(repo)

    def _writable(self) -> None:
        """Before a write: create an ``ON_SAVE`` store now, and check that a local one can be written (a
        read-only folder would otherwise fail halfway, inside Icechunk)."""
        self._adopt(create=True)
        if self._folder is None:
            return
        try:
            with tempfile.TemporaryFile(dir=self._folder, prefix=".write-check-"):
                pass
        except OSError as exc:
            raise _not_writable(self.location, exc) from exc

    def _open(self, storage: icechunk.Storage, create: bool) -> icechunk.Repository:
        folder = self._folder
        missing = f"annotation store {self.location} does not exist."
        if folder is not None and not folder.is_dir():
            if not create or folder.exists():
                raise AnnotationStoreError(
                    missing, "Check the path; a store is created by the first save in the app."
                )
            try:
                folder.mkdir(parents=True)
            except OSError as exc:
                raise _not_writable(self.location, exc) from exc
        try:
            if not icechunk.Repository.exists(storage):
                if not create:
                    raise AnnotationStoreError(
                        missing, "Check the path or URL; a store is created by the first save in the app."
                    )
                with commit_lock(folder):  # another process may be creating it too
                    if not icechunk.Repository.exists(storage):
                        if folder is not None and any(folder.iterdir()):
                            msg = f"{self.location} is a non-empty folder but not an annotation store."
                            raise AnnotationStoreError(
                                msg, "Point to a store folder, or to an empty or new folder to create one."
                            )
                        repo = icechunk.Repository.create(storage)
                        _initialize(repo)
                        return repo
            repo = icechunk.Repository.open(storage)
        except icechunk.IcechunkError as exc:
            msg = f"annotation store {self.location} cannot be opened ({_first_line(exc)})."
            raise AnnotationStoreError(msg, "Check the path or URL and your access rights.") from exc
        except OSError as exc:  # the commit lock or the repository's files cannot be written
            raise _not_writable(self.location, exc) from exc
        if not _is_marked(repo):
            if len(list(repo.ancestry(branch=BRANCH))) > 1:
                msg = f"{self.location} is an Icechunk repository but not a thalia-viewer annotation store."
                raise AnnotationStoreError(msg, "Point to a store made by thalia-viewer, or to a new folder.")
            with commit_lock(folder):  # created, then interrupted before its first commit
                if not _is_marked(repo):
                    _initialize(repo)
        return repo

    # ------------------------------------------------------------------------------------- versions
    def resolve(self, version: str | None = None) -> str:
        """The snapshot id of ``version``: a snapshot id (or a unique prefix of one on main), tag or branch.

        ``None`` is the tip of main.
        """
        if version is None:
            try:
                return self._repo.lookup_branch(BRANCH)
            except icechunk.IcechunkError as exc:  # e.g. the folder was deleted under a running app
                msg = f"annotation store {self.location} has no {BRANCH!r} branch any more ({str(exc).strip()[:200]})."
                raise AnnotationStoreError(
                    msg, "Check that nobody moved or deleted the store; restart the app."
                ) from exc
        version = version.strip()
        if version in self._repo.list_tags():
            return self._repo.lookup_tag(version)
        if version in self._repo.list_branches():
            return self._repo.lookup_branch(version)
        try:
            return self._repo.lookup_snapshot(version).id
        except icechunk.IcechunkError:
            matches = self._history.ids_starting_with(version) if version else []
            if len(matches) == 1:
                return matches[0]
        tags = ", ".join(sorted(self._repo.list_tags())) or "none"
        msg = f"annotation store {self.location} has no version {version!r} (tags: {tags})."
        raise AnnotationStoreError(
            msg, "Versions are snapshot ids from `thalia-viewer history STORE`, tag or branch names."
        )

    def history(self, frame: str | None = None, pair: Pair | None = None) -> list[Version]:
        """Saves and reverts on main, newest first, optionally of one frame or one pair."""
        out = self._history.versions()
        if frame is not None:
            out = [v for v in out if v.pair.frame == frame]
        if pair is not None:
            out = [v for v in out if v.pair == pair]
        return out

    def pair_version(self, pair: Pair, at: str | None = None) -> str | None:
        """The id of the latest commit that touched ``pair`` (``None``: never edited), at snapshot ``at``
        (default: the tip of main, looked up anew; a snapshot already seen answers without any read)."""
        latest = self._history.latest(pair, at=at)
        return latest.id if latest else None

    def tag(self, name: str, version: str | None = None, author: str | None = None) -> str:
        """Label ``version`` (default: the tip of main) as release ``name``; returns its snapshot id.

        With ``author``, the tag is also logged in the history (:meth:`log_event`: who tagged what, when).
        """
        name = name.strip()
        self._writable()
        if not name or name in self._repo.list_branches():
            msg = f"{name!r} cannot name a tag (it is empty or a branch name)."
            raise AnnotationStoreError(msg, "Use a release name such as labels-v1.")
        existing = self.tags()
        if name in existing:
            msg = f"tag {name!r} already exists (version {existing[name][:8]}); tags are immutable releases."
            raise AnnotationStoreError(msg, f"Choose another name, e.g. {name}-2.")
        snapshot = self.resolve(version)
        try:
            self._repo.create_tag(name, snapshot_id=snapshot)
        except icechunk.IcechunkError as exc:
            msg = f"tag {name!r} cannot be created ({_first_line(exc)})."
            raise AnnotationStoreError(
                msg, "Another writer may have just created it; list tags and choose another name."
            ) from exc
        if author is not None:
            self.log_event(Kind.TAG, author, f"tag {name} at {snapshot[:8]}", tag=name, snapshot=snapshot)
        return snapshot

    def log_event(self, kind: Kind, author: str, message: str, **details: Any) -> str:
        """Log a write that touches no pair (a tag, a model trained on these labels) as a commit on main whose
        metadata names ``author``, ``kind`` and ``details`` (JSON values); returns its snapshot id."""
        author = _author(author)
        self._writable()
        metadata = {"app": APP, "kind": kind.value, "author": author, **details}
        entry = {
            "kind": kind.value,
            "author": author,
            "message": message,
            "time": datetime.now(UTC).isoformat(),
            **details,
        }
        for _ in range(MAX_ATTEMPTS):
            session = self._repo.writable_session(BRANCH)
            zarr.open_group(session.store, mode="r+").attrs[LAST_EVENT] = entry  # a commit needs a change
            try:
                with commit_lock(self._folder):
                    return session.commit(
                        message,
                        metadata=metadata,
                        rebase_with=icechunk.ConflictDetector(),
                        rebase_tries=REBASE_TRIES,
                    )
            except (icechunk.RebaseFailedError, icechunk.ConflictError):
                continue  # another event was logged meanwhile: log again from the new tip
        msg = f"the {kind.value} could not be logged in {MAX_ATTEMPTS} attempts: other writers kept logging."
        raise AnnotationStoreError(msg, "Try again in a moment.")

    def events(self) -> list[Event]:
        """Every logged write (saves, reverts, tags, models), newest first: who, what, when."""
        return self._history.events()

    def tags(self) -> dict[str, str]:
        """Release tags: name -> snapshot id, sorted by name."""
        return {name: self._repo.lookup_tag(name) for name in sorted(self._repo.list_tags())}

    # ---------------------------------------------------------------------------------------- reads
    def read_pair(self, pair: Pair, version: str | None = None) -> PairAnnotation | None:
        """The correction of ``pair`` at ``version`` (default: tip of main), or ``None`` if it has none."""
        return self._read_at(pair, self.resolve(version))

    def read_merged(self, pair: Pair, version: str | None = None) -> PairAnnotation:
        """The correction of ``pair`` at ``version`` if any, else the source's masks and record.

        Needs ``dataset`` for the source. Its ``version`` is the ``base`` to pass to :meth:`save_pair` when
        saving an edit of it.
        """
        snapshot = self.resolve(version)
        found = self._read_at(pair, snapshot)
        if found is not None:
            return found
        ann = source_annotation(self._dataset(), pair)
        latest = self._history.latest(pair, at=snapshot)
        ann.version = latest.id if latest else None
        return ann

    def edited_pairs(self, version: str | None = None, frame: str | None = None) -> list[Pair]:
        """Pairs that hold a correction at ``version`` (default: tip of main), sorted."""
        root = self._root(self.resolve(version))
        frames = [frame] if frame is not None else [name for name, _ in root.groups()]
        out = []
        for f in frames:
            group = root.get(f)
            if isinstance(group, zarr.Group):
                out += [Pair.parse(name, frame=f) for name, _ in group.groups()]
        return sorted(out)

    def corrected_records(
        self, version: str | None = None
    ) -> dict[Pair, tuple[dict[str, Any], dict[str, Any]]]:
        """``{pair: (record, saved)}`` of every pair holding a correction at ``version`` (default: tip of main):
        its label record and who saved it (``author``, ``message``, ``time``, ``kind``); no mask is read."""
        root = self._root(self.resolve(version))
        out: dict[Pair, tuple[dict[str, Any], dict[str, Any]]] = {}
        for frame, frame_group in root.groups():
            for name, group in frame_group.groups():
                attrs = attrs_of(group)
                out[Pair.parse(name, frame=frame)] = (
                    dict(attrs.get("record", {})),
                    dict(attrs.get("saved", {})),
                )
        return out

    def diff(self, pair: Pair, a: str | None, b: str | None = None, source: Source | None = None) -> PairDiff:
        """Pixels added / removed per mask, record fields changed, from version ``a`` (``None``: the source) to
        ``b`` (``None``: the tip of main).

        The source, and a version where the pair has no correction, is given by ``source`` (a
        :class:`PairAnnotation`, or a callable of the pair), else read from the store's ``dataset``.
        """
        old = self._source(pair, source) if a is None else self._state(pair, a, source)
        return pair_diff(old, self._state(pair, b, source))

    def _state(self, pair: Pair, version: str | None, source: Source | None) -> PairAnnotation:
        found = self.read_pair(pair, version)
        return found if found is not None else self._source(pair, source)

    def _source(self, pair: Pair, source: Source | None) -> PairAnnotation:
        if source is None:
            return source_annotation(self._dataset(), pair)
        return source(pair) if callable(source) else source

    def _root(self, snapshot: str) -> zarr.Group:
        return zarr.open_group(self._repo.readonly_session(snapshot_id=snapshot).store, mode="r")

    def _read_at(self, pair: Pair, snapshot: str) -> PairAnnotation | None:
        group = self._root(snapshot).get(_group_path(pair))
        if not isinstance(group, zarr.Group):
            return None
        latest = self._history.latest(pair, at=snapshot)
        version = latest.id if latest else None
        cached = self._cache.get((pair.key, version)) if version else None
        if cached:
            masks = {m: cached[m].copy() for m in schema.MASKS}
        else:
            masks = dict(
                zip(schema.MASKS, read_arrays([array_of(group, m) for m in schema.MASKS]), strict=True)
            )
            if version:
                self._remember(pair, version, {m: a.copy() for m, a in masks.items()})
        attrs = attrs_of(group)
        saved = attrs.get("saved", {})
        when = datetime.fromisoformat(saved["time"]) if "time" in saved else None
        return PairAnnotation(
            pair,
            masks,
            dict(attrs.get("record", {})),
            version=version,
            author=saved.get("author", ""),
            message=saved.get("message", ""),
            time=when,
        )

    def _remember(self, pair: Pair, version: str, masks: dict[str, np.ndarray]) -> None:
        if not self._cache_pairs:
            return
        self._cache[(pair.key, version)] = masks
        while len(self._cache) > self._cache_pairs:
            self._cache.popitem(last=False)

    def _dataset(self) -> ThaliaDataset:
        if self.dataset is None:
            msg = f"{self!r} was opened without its source dataset, which this read needs."
            raise AnnotationStoreError(
                msg, "Open the store with AnnotationStore(path, dataset=ThaliaDataset(root))."
            )
        return self.dataset

    # --------------------------------------------------------------------------------------- writes
    def save_pair(
        self,
        pair: Pair,
        masks: Mapping[str, np.ndarray],
        record: Mapping[str, Any],
        author: str,
        message: str,
        *,
        base: str | None,
        force: bool = False,
    ) -> str:
        """Commit ``pair``'s masks (codes keyed by :data:`schema.MASKS`) and record; returns the version id.

        ``base`` is the pair's version the edit started from (:attr:`PairAnnotation.version`; ``None``: from
        a never-edited source). If someone saved the pair since, :class:`ConflictError` names them and nothing
        is written; ``force=True`` overwrites (their save stays in the history). Bad masks or record raise
        :class:`InvalidEditError` and write nothing.
        """
        shape = self._frame_shape(pair)
        checked = check_masks(pair, masks, shape)
        source = self.dataset.annotation(pair) if self.dataset is not None else None
        rec = check_record(pair, record, source)
        return self._commit(pair, Kind.SAVE, checked, rec, _author(author), message, base=base, force=force)

    def revert(self, pair: Pair, version: str, author: str, message: str) -> str:
        """A new commit restoring ``pair`` as it was at ``version`` (before any correction: the source)."""
        snapshot = self.resolve(version)
        target = self._read_at(pair, snapshot)
        if target is None and not isinstance(self._root(self.resolve()).get(_group_path(pair)), zarr.Group):
            msg = f"pair {pair} already shows the source cube: there is nothing to revert."
            raise AnnotationStoreError(msg, "Pick a version of this pair from its history.")
        masks, record = (None, None) if target is None else (target.masks, target.record)
        author = _author(author)
        return self._commit(
            pair, Kind.REVERT, masks, record, author, message, base=None, force=True, reverted_to=snapshot
        )

    def _frame_shape(self, pair: Pair) -> tuple[int, int] | None:
        if self.dataset is not None:
            frame = self.dataset.frame(pair.frame)
            frame.pair(pair.primary, pair.secondary)  # PairNotFoundError for a pair the source lacks
            return frame.shape
        group = self._root(self.resolve()).get(pair.frame)
        if not isinstance(group, zarr.Group):
            return None
        rows, cols = attrs_of(group)["shape"]
        return int(rows), int(cols)

    def _commit(
        self,
        pair: Pair,
        kind: Kind,
        masks: dict[str, np.ndarray] | None,
        record: dict[str, Any] | None,
        author: str,
        message: str,
        *,
        base: str | None,
        force: bool,
        reverted_to: str | None = None,
    ) -> str:
        """Write and commit one pair, retrying from the new tip when a concurrent commit clashes structurally.

        ``masks`` ``None`` deletes the pair's correction (back to the source).
        """
        self._writable()
        now = datetime.now(UTC).isoformat()
        saved = {"author": author, "message": message, "time": now, "kind": kind.value}
        metadata = commit_metadata(pair, author, kind, reverted_to)
        for _ in range(MAX_ATTEMPTS):
            session = self._repo.writable_session(BRANCH)
            latest = self._history.latest(pair, at=session.snapshot_id)
            if not force:
                _check_base(pair, latest, base)
            root = zarr.open_group(session.store, mode="r+")
            if masks is None:
                if root.get(_group_path(pair)) is not None:
                    del root[_group_path(pair)]
            else:
                self._write(root, pair, masks, {"record": record, "saved": saved}, latest)
            try:
                with commit_lock(self._folder):
                    snapshot = session.commit(
                        message or f"{kind.value} {pair}",
                        metadata=metadata,
                        rebase_with=icechunk.ConflictDetector(),
                        rebase_tries=REBASE_TRIES,
                    )
            except icechunk.RebaseFailedError:
                continue  # the same pair, or its new frame group, was committed meanwhile: redo from the tip
            if masks is not None:
                self._remember(pair, snapshot, masks)
            self.writes += 1
            return snapshot
        msg = (
            f"pair {pair} could not be committed in {MAX_ATTEMPTS} attempts: other writers kept changing it."
        )
        raise AnnotationStoreError(msg, "Reload the pair and save again.")

    def _write(
        self,
        root: zarr.Group,
        pair: Pair,
        masks: dict[str, np.ndarray],
        attrs: dict[str, Any],
        latest: Version | None,
    ) -> None:
        """Create what is missing and write the changed chunks and the attrs of ``pair``'s group.

        The changed chunks are checked first (:func:`check_consistency`); an error leaves nothing committed.
        """
        shape = masks[schema.DEFORMATION_MASK].shape
        frame_group = root.get(pair.frame)
        if not isinstance(frame_group, zarr.Group):
            frame_group = root.create_group(pair.frame, attributes={"shape": list(shape)})
        name = pair.name
        group = frame_group.get(name)
        previous: Mapping[str, np.ndarray | None]
        if isinstance(group, zarr.Group):
            cached = self._cache.get((pair.key, latest.id)) if latest else None
            previous = cached or dict(
                zip(schema.MASKS, read_arrays([array_of(group, m) for m in schema.MASKS]), strict=True)
            )
        else:
            group = frame_group.create_group(name)
            for m in schema.MASKS:
                create_mask_array(group, m, shape)
            previous = dict.fromkeys(schema.MASKS)
        arrays = {m: array_of(group, m) for m in schema.MASKS}
        writes = [
            (arrays[m], masks[m], changed_blocks(previous[m], masks[m], _plane(arrays[m].chunks)))
            for m in schema.MASKS
        ]
        check_consistency(
            pair, masks, {(b[0].start, b[1].start): b for _, _, blocks in writes for b in blocks}.values()
        )
        write_blocks(writes)
        group.attrs.put(attrs)


def _is_marked(repo: icechunk.Repository) -> bool:
    try:
        root = zarr.open_group(repo.readonly_session(branch=BRANCH).store, mode="r")
    except FileNotFoundError:
        return False
    return STORE_MARK in root.attrs


def _initialize(repo: icechunk.Repository) -> None:
    """Mark a new repository as an annotation store (its first commit)."""
    session = repo.writable_session(BRANCH)
    root = zarr.open_group(session.store, mode="w", zarr_format=3)
    root.attrs[STORE_MARK] = {"format": FORMAT_VERSION, "layout": "<frame>/<primary>_<secondary>"}
    session.commit("create the annotation store", metadata={"kind": "create"})


def _check_base(pair: Pair, latest: Version | None, base: str | None) -> None:
    """Raise :class:`ConflictError` when ``pair``'s latest version is not the one the edit started from."""
    current = latest.id if latest else None
    if current == base:
        return
    if latest is None:
        msg = f"pair {pair} has no saved version, but the edit says it started from version {base}."
        raise AnnotationStoreError(
            msg, "Pass base=None for an edit of the source, or the version you loaded."
        )
    started = "the source" if base is None else f"version {base[:8]}"
    when = latest.time.strftime("%Y-%m-%d %H:%M:%S UTC")
    what = "reverted" if latest.kind is Kind.REVERT else "saved"
    msg = (
        f'pair {pair} was {what} by {latest.author} at {when} ("{latest.message}", '
        f"version {latest.short_id}) after you started editing from {started}; your changes were not saved."
    )
    hint = (
        "Reload the pair to see their version and redo your edit on it, "
        "or save again with force to overwrite theirs (it stays in the history)."
    )
    raise ConflictError(
        msg,
        hint,
        pair=pair.key,
        version=latest.id,
        author=latest.author,
        time=latest.time,
        saved_message=latest.message,
    )


def _author(author: str) -> str:
    name = str(author or "").strip()
    if not name:
        msg = "a save needs the author's name; nothing was saved."
        raise InvalidEditError(msg, "Enter your name before saving.")
    return name


def _first_line(exc: BaseException) -> str:
    lines = [line.strip(" x|`->") for line in str(exc).splitlines() if line.strip(" x|`->")]
    return lines[0] if lines else type(exc).__name__


def _not_writable(location: str, exc: OSError) -> AnnotationStoreError:
    """The store cannot be created or written where it is (e.g. beside a read-only dataset root)."""
    reason = exc.strerror or type(exc).__name__
    msg = f"annotation store {location} cannot be written ({reason}: {exc.filename or location})."
    return AnnotationStoreError(
        msg,
        "Save corrections to a writable place: serve with `thalia-viewer serve ROOT --store PATH` or set "
        "THALIA_STORE=PATH (a folder, or s3://BUCKET/PREFIX).",
    )
