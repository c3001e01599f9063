"""Annotation store: round trip, history, revert, tags, conflicts, concurrent writers, kills, bad input."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import time
from pathlib import Path

import icechunk
import numpy as np
import pytest
import zarr

from thalia_viewer.cli import main
from thalia_viewer.core import schema
from thalia_viewer.core.annotations import AnnotationStore, PairAnnotation, default_store_path
from thalia_viewer.core.annotations import store as store_module
from thalia_viewer.core.annotations.chunks import CHUNK_PX
from thalia_viewer.core.dataset import ThaliaDataset
from thalia_viewer.core.errors import (
    AnnotationStoreError,
    ConflictError,
    InvalidEditError,
    PairNotFoundError,
    ThaliaError,
)
from thalia_viewer.core.pairs import Pair

DEF, ACT, INT = schema.DEFORMATION_MASK, schema.ACTIVITY_MASK, schema.INTENSITY_MASK
SPAWN = mp.get_context("spawn")


def paint(
    masks: dict[str, np.ndarray], rows: slice, cols: slice, activity: int = 1, intensity: int = 2
) -> dict[str, np.ndarray]:
    """A consistent edit: ``activity`` (and the deformation it implies) and ``intensity`` over a box."""
    out = {k: v.copy() for k, v in masks.items()}
    out[ACT][rows, cols] = activity
    out[INT][rows, cols] = (
        schema.EARTHQUAKE_INTENSITY if activity == schema.EARTHQUAKE_ACTIVITY else intensity
    )
    out[DEF] = schema.deformation_from_activity(out[ACT])
    return out


def erase(masks: dict[str, np.ndarray], rows: slice, cols: slice) -> dict[str, np.ndarray]:
    out = {k: v.copy() for k, v in masks.items()}
    for k in out:
        out[k][rows, cols] = 0
    return out


def same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return set(a) == set(b) and all(a[k].dtype == np.uint8 and np.array_equal(a[k], b[k]) for k in a)


@pytest.fixture
def dataset(tiny_root) -> ThaliaDataset:
    return ThaliaDataset(tiny_root)


@pytest.fixture
def store(tmp_path, dataset) -> AnnotationStore:
    return AnnotationStore(tmp_path / "store", dataset=dataset)


@pytest.fixture
def pairs(dataset) -> list[Pair]:
    frame = dataset.frame(dataset.frames[0])
    return frame.positives[:2] + [p for p in frame.pairs if p not in frame.positives][:1]


def test_default_store_path_is_under_the_root(tmp_path):
    assert Path(default_store_path(tmp_path / "root")) == tmp_path / "root" / ".thalia" / "annotations"


def test_save_and_read_back_exactly(store, pairs):
    pair, other = pairs[0], pairs[1]
    start = store.read_merged(pair)
    assert start.source and start.version is None and store.read_pair(pair) is None
    masks = paint(start.masks, slice(10, 40), slice(20, 70), activity=2, intensity=3)
    record = {**start.record, "caption": "a dyke, corrected", "confidence": 0.9, "activity_type": ["Dyke"]}
    stale = {**record, "segmentation_mask": [[0, 0, 1, 0, 1, 1]]}  # derived from the masks: not stored
    version = store.save_pair(pair, masks, stale, author="ana", message="dyke outline", base=start.version)
    got = store.read_pair(pair)
    assert got is not None and not got.source
    assert same(got.masks, masks) and got.record == record
    assert got.version == version == store.pair_version(pair)
    assert (got.author, got.message) == ("ana", "dyke outline")
    assert store.read_pair(other) is None and store.pair_version(other) is None
    reopened = AnnotationStore(store.location, create=False)  # another session, no dataset
    assert same(reopened.read_pair(pair).masks, masks)


def test_history_newest_first_with_authors_filtered_by_pair(store, pairs):
    a, b = pairs[0], pairs[1]
    ids = []
    for pair, author, message in ((a, "ana", "first"), (b, "bob", "other pair"), (a, "carl", "second")):
        ann = store.read_merged(pair)
        ids.append(
            store.save_pair(
                pair,
                paint(ann.masks, slice(0, 5), slice(0, 5)),
                ann.record,
                author,
                message,
                base=ann.version,
            )
        )
    history = store.history()
    assert [v.id for v in history] == ids[::-1]
    assert [(v.author, v.message, v.pair) for v in history] == [
        ("carl", "second", a),
        ("bob", "other pair", b),
        ("ana", "first", a),
    ]
    assert all(v.time.utcoffset().total_seconds() == 0 for v in history)
    assert history[0].time >= history[1].time >= history[2].time
    assert [v.id for v in store.history(pair=a)] == [ids[2], ids[0]]
    assert [v.id for v in store.history(frame=a.frame)] == ids[::-1]
    assert store.history(frame="999A_00000_000000") == []
    assert store.edited_pairs() == sorted([a, b]) and store.edited_pairs(frame="999A_00000_000000") == []
    assert store.edited_pairs(version=ids[0]) == [a]
    assert store.pair_version(a) == ids[2] and store.pair_version(b) == ids[1]


def test_a_save_writes_only_the_changed_chunks(tmp_path, pairs, dataset):
    pair = pairs[0]
    record = dataset.annotation(pair)
    store = AnnotationStore(tmp_path / "big")  # no dataset: the frame's shape comes from its first save
    c = CHUNK_PX
    shape = (c + 76, c + 276)  # a 2 x 2 chunk grid with partial edge chunks
    zeros = {m: np.zeros(shape, np.uint8) for m in schema.MASKS}
    v1 = store.save_pair(
        pair, paint(zeros, slice(0, 600), slice(0, 10)), record, "ana", "one chunk", base=None
    )
    edited = paint(store.read_pair(pair).masks, slice(c + 50, c + 60), slice(c + 250, c + 260), activity=5)
    v2 = store.save_pair(pair, edited, record, "ana", "corner", base=v1)
    diff = store._repo.diff(from_snapshot_id=v1, to_snapshot_id=v2)
    path = f"/{pair.frame}/{pair.name}"
    assert {k: sorted(v) for k, v in diff.updated_chunks.items()} == {
        f"{path}/{m}": [[1, 1]] for m in schema.MASKS
    }
    assert same(AnnotationStore(store.location, cache_pairs=0).read_pair(pair).masks, edited)
    plain = zarr.open_group(store._repo.readonly_session(branch="main").store, mode="r")[path.lstrip("/")]
    assert same({m: plain[m][:] for m in schema.MASKS}, edited)  # chunks as zarr itself reads them
    cleared = erase(edited, slice(0, shape[0]), slice(0, shape[1]))
    v3 = store.save_pair(pair, cleared, record, "ana", "erase all", base=v2)
    assert same(AnnotationStore(store.location, cache_pairs=0).read_pair(pair).masks, cleared)
    assert same(store.read_pair(pair, v2).masks, edited)
    assert store.pair_version(pair) == v3
    with pytest.raises(InvalidEditError, match=rf"differ from the frame's \({shape[0]}, {shape[1]}\)"):
        store.save_pair(
            pair, {m: np.zeros((100, 100), np.uint8) for m in schema.MASKS}, record, "ana", "x", base=v3
        )


def test_revert_restores_the_older_masks_with_a_new_commit(store, pairs):
    pair = pairs[0]
    ann = store.read_merged(pair)
    first = paint(ann.masks, slice(0, 30), slice(0, 30))
    v1 = store.save_pair(pair, first, {**ann.record, "caption": "v1"}, "ana", "v1", base=None)
    v2 = store.save_pair(
        pair,
        erase(first, slice(0, 160), slice(0, 192)),
        {**ann.record, "caption": "v2"},
        "bob",
        "v2",
        base=v1,
    )
    v3 = store.revert(pair, v1, author="carl", message="back to v1")
    assert v3 not in (v1, v2)
    got = store.read_pair(pair)
    assert same(got.masks, first) and got.record["caption"] == "v1" and got.version == v3
    history = store.history(pair=pair)
    assert [v.id for v in history] == [v3, v2, v1]
    assert history[0].kind == "revert" and history[0].reverted_to == v1 and history[0].author == "carl"
    assert same(store.read_pair(pair, v2).masks, erase(first, slice(0, 160), slice(0, 192)))  # still there


def test_revert_to_before_the_first_edit_shows_the_source(store, pairs):
    pair = pairs[0]
    source = store.read_merged(pair)
    before = store.resolve()  # the tip before the pair's first edit
    store.save_pair(
        pair, paint(source.masks, slice(0, 9), slice(0, 9)), source.record, "ana", "edit", base=None
    )
    undo = store.revert(pair, before, "ana", "undo everything")
    assert store.read_pair(pair) is None
    merged = store.read_merged(pair)
    assert merged.source and same(merged.masks, source.masks) and merged.version == undo
    with pytest.raises(AnnotationStoreError, match="nothing to revert"):
        store.revert(pair, before, "ana", "again")


def test_diff_gives_added_and_removed_pixels(store, pairs):
    pair = pairs[0]
    source = store.read_merged(pair)
    before = store.resolve()
    added = paint(source.masks, slice(0, 10), slice(0, 10), activity=5)
    v1 = store.save_pair(pair, added, {**source.record, "caption": "quake"}, "ana", "add", base=None)
    removed = erase(added, slice(0, 5), slice(0, 10))
    v2 = store.save_pair(pair, removed, {**source.record, "caption": "quake"}, "ana", "trim", base=v1)
    d = store.diff(pair, before, v1)  # before the first edit: the source
    assert d.masks[DEF].n_added == np.count_nonzero(added[DEF] != source.masks[DEF])
    assert d.record == {"caption": (source.record["caption"], "quake")}
    from_source = store.diff(
        pair, None, v1
    )  # None is the source, not the tip (what the app's "Changes" sends)
    assert from_source.masks[DEF].n_added == d.masks[DEF].n_added and from_source.record == d.record
    d = store.diff(pair, v1, v2)
    assert d.masks[DEF].n_removed == 50 and d.masks[DEF].n_added == 0
    assert d.masks[DEF].removed[:5, :10].all() and not d.masks[DEF].removed[5:].any()
    assert d.record == {} and store.diff(pair, v2, None).empty
    explicit = store.diff(pair, before, v2, source=PairAnnotation(pair, source.masks, source.record))
    assert explicit.masks[ACT].n_added == np.count_nonzero(removed[ACT] != source.masks[ACT])


def test_tags_label_releases_and_read_back(store, pairs):
    pair = pairs[0]
    ann = store.read_merged(pair)
    v1 = store.save_pair(pair, paint(ann.masks, slice(0, 9), slice(0, 9)), ann.record, "ana", "v1", base=None)
    assert store.tag("labels-v1") == v1
    v2 = store.save_pair(
        pair,
        erase(store.read_pair(pair).masks, slice(0, 160), slice(0, 192)),
        ann.record,
        "ana",
        "v2",
        base=v1,
    )
    assert store.tag("old", version=v1[:6]) == v1  # a unique id prefix, as `history` prints it
    assert store.tags() == {"labels-v1": v1, "old": v1}
    assert same(store.read_pair(pair, "labels-v1").masks, paint(ann.masks, slice(0, 9), slice(0, 9)))
    assert store.read_pair(pair, "main").version == v2
    with pytest.raises(AnnotationStoreError, match="tag 'labels-v1' already exists"):
        store.tag("labels-v1")
    with pytest.raises(AnnotationStoreError, match="no version 'nope'"):
        store.read_pair(pair, "nope")
    with pytest.raises(AnnotationStoreError, match="cannot name a tag"):
        store.tag("main")


def test_second_writer_on_one_pair_gets_a_conflict_naming_the_first(store, pairs):
    pair = pairs[0]
    other_session = AnnotationStore(store.location, dataset=store.dataset)
    mine, theirs = store.read_merged(pair), other_session.read_merged(pair)
    v1 = other_session.save_pair(
        pair,
        paint(theirs.masks, slice(0, 9), slice(0, 9)),
        theirs.record,
        "bob",
        "bob's fix",
        base=theirs.version,
    )
    my_masks = paint(mine.masks, slice(50, 60), slice(50, 60), activity=4)
    with pytest.raises(ConflictError, match=r"saved by bob .*bob's fix") as info:
        store.save_pair(pair, my_masks, mine.record, "ana", "ana's fix", base=mine.version)
    assert info.value.author == "bob" and info.value.version == v1 and "force" in str(info.value)
    assert [v.id for v in store.history()] == [v1]  # nothing written
    forced = store.save_pair(pair, my_masks, mine.record, "ana", "ana's fix", base=mine.version, force=True)
    assert same(other_session.read_pair(pair).masks, my_masks)
    assert [v.author for v in store.history(pair=pair)] == ["ana", "bob"] and store.pair_version(
        pair
    ) == forced


def meanwhile(monkeypatch, action) -> None:
    """Run ``action`` once, after the next save wrote its chunks, before it commits (a concurrent writer)."""
    real = store_module.commit_lock
    pending = [action]

    @contextlib.contextmanager
    def racing(folder):
        while pending:
            pending.pop()()
        with real(folder):
            yield

    monkeypatch.setattr(store_module, "commit_lock", racing)


def test_two_sessions_from_one_base_on_different_pairs_both_land(store, pairs, monkeypatch):
    a, b = pairs[0], pairs[1]
    other = AnnotationStore(store.location, dataset=store.dataset)
    ann_a, ann_b = store.read_merged(a), other.read_merged(b)
    masks_a, masks_b = (
        paint(ann_a.masks, slice(0, 9), slice(0, 9)),
        paint(ann_b.masks, slice(9, 19), slice(9, 19)),
    )
    meanwhile(monkeypatch, lambda: other.save_pair(b, masks_b, ann_b.record, "bob", "b", base=None))
    store.save_pair(a, masks_a, ann_a.record, "ana", "a", base=None)  # both create the frame group: retried
    assert {v.author for v in store.history()} == {"ana", "bob"}
    assert same(store.read_pair(a).masks, masks_a) and same(store.read_pair(b).masks, masks_b)


def test_a_save_racing_on_the_same_pair_is_a_conflict(store, pairs, monkeypatch):
    pair = pairs[0]
    other = AnnotationStore(store.location, dataset=store.dataset)
    ann = store.read_merged(pair)
    theirs = paint(ann.masks, slice(0, 9), slice(0, 9))
    meanwhile(monkeypatch, lambda: other.save_pair(pair, theirs, ann.record, "bob", "first in", base=None))
    with pytest.raises(ConflictError, match="saved by bob"):
        store.save_pair(
            pair, paint(ann.masks, slice(20, 29), slice(0, 9)), ann.record, "ana", "late", base=None
        )
    assert [v.author for v in store.history()] == ["bob"] and same(store.read_pair(pair).masks, theirs)


def _save_in_child(
    location: str, root: str, keys: list[str], author: str, ready: str = "", go: str = ""
) -> list[str]:
    """Child process: open the store, prepare edits of ``keys``; say ``ready``, wait for ``go``; save them."""
    store = AnnotationStore(location, dataset=ThaliaDataset(root))
    edits = []
    for key in keys:
        ann = store.read_merged(Pair.parse(key))
        edits.append((ann, paint(ann.masks, slice(0, 40), slice(0, 40))))
    if ready:
        Path(ready).touch()
        while not Path(go).exists():
            time.sleep(0.001)
    return [
        store.save_pair(ann.pair, masks, ann.record, author, f"edit of {ann.pair}", base=ann.version)
        for ann, masks in edits
    ]


def test_processes_writing_different_pairs_at_once_all_land(store, dataset, tiny_root, tmp_path):
    pairs = dataset.pairs()[:6]
    work = {"ana": pairs[0::2], "bob": pairs[1::2]}  # one process each, three saves each, interleaved
    ready = {author: tmp_path / f"ready-{author}" for author in work}
    go = tmp_path / "go"
    with SPAWN.Pool(len(work)) as pool:
        jobs = [
            pool.apply_async(
                _save_in_child,
                (store.location, str(tiny_root), [p.key for p in todo], author, str(ready[author]), str(go)),
            )
            for author, todo in work.items()
        ]
        deadline = time.time() + 120
        while not all(r.exists() for r in ready.values()) and time.time() < deadline:
            time.sleep(0.01)
        go.touch()  # both processes have their edits ready: they save at once
        ids = [i for job in jobs for i in job.get(timeout=120)]
    history = store.history()
    assert sorted(v.id for v in history) == sorted(ids) and len(set(ids)) == len(pairs)
    assert {v.pair for v in history} == set(pairs)
    assert {v.author for v in history if v.pair in work["bob"]} == {"bob"}
    for pair in pairs:
        assert store.read_pair(pair).masks[DEF][:40, :40].all()


def _killable_save(location: str, root: str, key: str, flag: str, where: str) -> None:
    """Child process: save, but stop (to be killed) after writing chunks, or while holding the commit lock."""
    if where == "chunks":
        real_write = store_module.write_blocks

        def slow_write(writes):
            real_write(writes)
            Path(flag).touch()
            time.sleep(120)

        store_module.write_blocks = slow_write
    else:
        real_lock = store_module.commit_lock

        @contextlib.contextmanager
        def slow_lock(folder):
            with real_lock(folder):
                Path(flag).touch()
                time.sleep(120)
                yield

        store_module.commit_lock = slow_lock
    _save_in_child(location, root, [key], "victim")


@pytest.mark.parametrize("where", ["chunks", "commit"])
def test_a_writer_killed_mid_save_leaves_every_version_intact(store, pairs, tiny_root, tmp_path, where):
    pair = pairs[0]
    ann = store.read_merged(pair)
    saved = {}
    masks = ann.masks
    for k in range(2):
        masks = paint(masks, slice(k * 10, k * 10 + 10), slice(0, 10))
        saved[store.save_pair(pair, masks, ann.record, "ana", f"v{k}", base=store.pair_version(pair))] = masks
    flag = tmp_path / "started"
    child = SPAWN.Process(
        target=_killable_save, args=(store.location, str(tiny_root), pair.key, str(flag), where)
    )
    child.start()
    deadline = time.time() + 60
    while not flag.exists() and child.is_alive() and time.time() < deadline:
        time.sleep(0.02)
    assert flag.exists(), "the child never reached the save"
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    reopened = AnnotationStore(store.location, dataset=store.dataset, create=False)
    assert [v.id for v in reopened.history()] == list(saved)[::-1]
    for version, expected in saved.items():
        assert same(reopened.read_pair(pair, version).masks, expected)
    after = paint(masks, slice(100, 110), slice(0, 10))
    new = reopened.save_pair(
        pair, after, ann.record, "ana", "after the crash", base=reopened.pair_version(pair)
    )
    assert same(reopened.read_pair(pair).masks, after) and reopened.pair_version(pair) == new


def test_bad_input_is_refused_and_nothing_written(store, pairs, dataset):
    pair = pairs[0]
    ann = store.read_merged(pair)
    good = paint(ann.masks, slice(0, 9), slice(0, 9))
    unknown_code = {**good, ACT: np.where(good[ACT] == 1, 9, good[ACT]).astype(np.uint8)}
    inconsistent = {**good, DEF: np.zeros_like(good[DEF])}
    stray = {**good, INT: np.full_like(good[INT], 1)}
    cases = {
        "wrong shape": (
            {m: a[:-1] for m, a in good.items()},
            ann.record,
            r"differ from the frame's \(160, 192\)",
        ),
        "unknown class code": (
            unknown_code,
            ann.record,
            r"activity_type_mask holds unknown class code\(s\) \[9\]",
        ),
        "masks disagree": (inconsistent, ann.record, "deformation_mask disagrees with activity_type_mask"),
        "intensity without deformation": (stray, ann.record, "intensity_level_mask is set at"),
        "missing mask": ({DEF: good[DEF]}, ann.record, "missing"),
        "float fractions": ({**good, DEF: good[DEF] + 0.5}, ann.record, "unknown class code"),
        "bad confidence": (
            good,
            {**ann.record, "confidence": 3},
            r"confidence=3 is not a number in \[0, 1\]",
        ),
        "bad label": (good, {**ann.record, "label": ["Volcano"]}, "label value 'Volcano'"),
        "other pair's record": (good, {**ann.record, "secondary_date": "20991231"}, "does not match pair"),
        "new uniqueID": (good, {**ann.record, "uniqueID": 99999}, "differs from the source record"),
        "not JSON": (good, {**ann.record, "caption": object()}, "not plain JSON"),
    }
    for name, (masks, record, expected) in cases.items():
        with pytest.raises(InvalidEditError, match=expected):
            store.save_pair(pair, masks, record, "ana", name, base=None)
    with pytest.raises(InvalidEditError, match="author"):
        store.save_pair(pair, good, ann.record, "  ", "no author", base=None)
    with pytest.raises(PairNotFoundError):
        store.save_pair(
            Pair(pair.frame, "20000101", "20000113"), good, ann.record, "ana", "no such pair", base=None
        )
    assert store.history() == [] and store.read_pair(pair) is None
    assert len(list(store._repo.ancestry(branch="main"))) == 2  # initial + store creation: nothing else


def test_bad_store_locations_are_clear_errors(tmp_path):
    with pytest.raises(AnnotationStoreError, match="does not exist"):
        AnnotationStore(tmp_path / "missing", create=False)
    assert not (tmp_path / "missing").exists()
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "notes.txt").write_text("hello")
    with pytest.raises(AnnotationStoreError, match="not an annotation store"):
        AnnotationStore(tmp_path / "junk")
    with pytest.raises(AnnotationStoreError, match="not supported"):
        AnnotationStore("gopher://host/store")
    icechunk.Repository.create(icechunk.local_filesystem_storage(str(tmp_path / "bare")))
    assert AnnotationStore(tmp_path / "bare").history() == []  # created, killed before its first commit
    foreign = icechunk.Repository.create(icechunk.local_filesystem_storage(str(tmp_path / "foreign")))
    session = foreign.writable_session("main")
    zarr.open_group(session.store, mode="w").attrs["other"] = 1
    session.commit("someone else's data")
    with pytest.raises(AnnotationStoreError, match="not a thalia-viewer annotation store"):
        AnnotationStore(tmp_path / "foreign")


def test_cli_history_and_tag(capsys, store, pairs):
    a, b = pairs[0], pairs[1]
    for pair, author in ((a, "ana"), (b, "bob")):
        ann = store.read_merged(pair)
        store.save_pair(
            pair,
            paint(ann.masks, slice(0, 9), slice(0, 9)),
            ann.record,
            author,
            f"fix by {author}",
            base=None,
        )
    newest = store.history()[0]
    assert main(["history", store.location]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["time", "(UTC)", "author", "pair", "message", "id"]
    assert (
        "bob" in lines[1] and b.key in lines[1] and "fix by bob" in lines[1] and newest.short_id in lines[1]
    )
    assert "ana" in lines[2] and "2 version(s)" in out
    assert (
        main(
            [
                "history",
                store.location,
                "--frame",
                a.frame,
                "--primary",
                a.primary,
                "--secondary",
                a.secondary,
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "fix by ana" in out and "fix by bob" not in out
    assert main(["tag", store.location, "release-1"]) == 0
    assert newest.id in capsys.readouterr().out and store.tags() == {"release-1": newest.id}
    for argv, expected in (
        (["tag", store.location, "release-1"], "already exists"),
        (["tag", store.location, "r2", "--version", "NOPE"], "no version 'NOPE'"),
        (["history", str(Path(store.location).parent / "nowhere")], "does not exist"),
        (["history", store.location, "--primary", a.primary], "--frame, --primary and --secondary together"),
    ):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert expected in err and "Traceback" not in err


def test_errors_are_thalia_errors():
    assert issubclass(ConflictError, ThaliaError) and issubclass(InvalidEditError, ValueError)
