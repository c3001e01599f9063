"""Browsing never writes: the annotation store is created by the first save, a root that cannot be written
serves every mode, and saving there says where corrections can go instead."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from thalia_viewer.app.explorer import ExplorerApp
from thalia_viewer.app.session.annotate import EditSession
from thalia_viewer.app.session.overlay import open_store
from thalia_viewer.app.session.state import AppState
from thalia_viewer.app.spec import MODES
from thalia_viewer.core import schema
from thalia_viewer.core.annotations import STORE_ENV, AnnotationStore, default_store_path, store_location
from thalia_viewer.core.annotations.store import ON_SAVE
from thalia_viewer.core.dataset import ThaliaDataset
from thalia_viewer.core.errors import AnnotationStoreError

MOGI = schema.class_by_name(schema.ACTIVITY_TYPES, "Mogi").code


def files_under(root) -> dict[str, float]:
    """Every path under ``root`` with its modification time."""
    return {str(p.relative_to(root)): p.stat().st_mtime for p in root.rglob("*")}


@pytest.fixture
def root_copy(tiny_root, tmp_path):
    """A private copy of the tiny root (the app may be asked to write beside it)."""
    root = tmp_path / "root"
    shutil.copytree(tiny_root, root)
    return root


def stroke(edit: EditSession) -> None:
    frame = edit.state.frame_obj
    edit.stroke([float(frame.x[c]) for c in range(20, 60)], [float(frame.y[40])] * 40)


def test_an_on_save_store_reads_as_empty_and_is_created_by_the_first_save(root_copy):
    location = default_store_path(root_copy)
    dataset = ThaliaDataset(root_copy)
    store = AnnotationStore(location, dataset=dataset, create=ON_SAVE)
    pair = dataset.frame(dataset.frames[0]).pairs[0]
    assert not (root_copy / ".thalia").exists() and not store.exists
    assert store.pair_version(pair) is None and store.history() == [] and store.read_pair(pair) is None
    assert store.edited_pairs() == [] and store.tags() == {}
    merged = store.read_merged(pair)
    assert merged.version is None
    np.testing.assert_array_equal(
        merged.masks[schema.DEFORMATION_MASK],
        dataset.frame(pair.frame).read(pair, ["deformation"])["deformation"],
    )
    assert not (root_copy / ".thalia").exists()

    masks = {m: a.copy() for m, a in merged.masks.items()}
    masks[schema.ACTIVITY_MASK][:5, :5] = MOGI
    masks[schema.DEFORMATION_MASK] = schema.deformation_from_activity(masks[schema.ACTIVITY_MASK])
    version = store.save_pair(pair, masks, merged.record, author="Ada", message="first", base=merged.version)
    assert store.exists and (root_copy / ".thalia" / "annotations").is_dir()
    assert store.pair_version(pair) == version
    reopened = AnnotationStore(location, dataset=dataset, create=False)
    assert reopened.read_pair(pair).masks[schema.ACTIVITY_MASK][0, 0] == MOGI


def test_an_on_save_store_sees_a_store_another_process_created(root_copy):
    location = root_copy / "shared-store"
    dataset = ThaliaDataset(root_copy)
    waiting = AnnotationStore(location, dataset=dataset, create=ON_SAVE)
    pair = dataset.frame(dataset.frames[0]).pairs[1]
    writer = AnnotationStore(location, dataset=dataset)  # another server process saves first
    ann = writer.read_merged(pair)
    version = writer.save_pair(
        pair, ann.masks, {**ann.record, "caption": "seen"}, author="Grace", message="m", base=None
    )
    assert waiting.exists
    assert waiting.pair_version(pair) == version
    assert waiting.read_pair(pair).record["caption"] == "seen"


def test_saving_where_the_store_cannot_be_created_says_where_corrections_can_go(root_copy):
    blocker = root_copy / "not-a-folder"
    blocker.write_text("a file where the store's parent folder would be")
    dataset = ThaliaDataset(root_copy)
    store = AnnotationStore(blocker / "annotations", dataset=dataset, create=ON_SAVE)
    pair = dataset.frame(dataset.frames[0]).pairs[0]
    ann = store.read_merged(pair)
    with pytest.raises(AnnotationStoreError) as err:
        store.save_pair(pair, ann.masks, ann.record, author="Ada", message="m", base=None)
    text = str(err.value)
    assert "cannot be written" in text and "--store" in text and "THALIA_STORE" in text
    with pytest.raises(AnnotationStoreError, match="--store"):
        store.tag("labels-v1")
    assert blocker.is_file()


@pytest.mark.parametrize("mode", MODES)
def test_opening_every_mode_writes_nothing_into_the_root(root_copy, monkeypatch, mode):
    monkeypatch.delenv(STORE_ENV, raising=False)
    before = files_under(root_copy)
    app = ExplorerApp(str(root_copy), spec=mode, opener=ThaliaDataset)
    assert app.state.dataset is not None and app.state.pair is not None
    assert app.state.message is None or app.state.message.level != "error", app.state.message
    app.state.step(1)
    assert files_under(root_copy) == before
    if mode == "annotate":
        assert app.edit is not None  # editing is on: the first save will create the store


def test_the_first_save_of_a_session_creates_the_default_store(root_copy, monkeypatch):
    monkeypatch.delenv(STORE_ENV, raising=False)
    location = store_location(str(root_copy))
    store = open_store(location, str(root_copy))
    edit = EditSession(AppState(str(root_copy)), store, author="Ada")
    assert not (root_copy / ".thalia").exists()
    stroke(edit)
    assert edit.save()
    assert (root_copy / ".thalia" / "annotations").is_dir()
    assert store.history(pair=edit.pair)[0].author == "Ada"


def test_a_session_on_an_unwritable_store_notifies_and_keeps_the_edit(root_copy):
    blocker = root_copy / "blocked"
    blocker.write_text("")
    store = AnnotationStore(blocker / "store", dataset=ThaliaDataset(root_copy), create=ON_SAVE)
    edit = EditSession(AppState(str(root_copy)), store, author="Ada")
    stroke(edit)
    assert not edit.save()
    message = edit.state.message
    assert message.level == "error" and "--store" in message.text and "THALIA_STORE" in message.text
    assert edit.dirty  # nothing lost: the edit waits for a store that can be written


def test_the_overlay_answers_a_frame_from_one_tip_lookup_and_sees_saves(root_copy, monkeypatch):
    from thalia_viewer.app.session import overlay

    dataset = ThaliaDataset(root_copy)
    store = AnnotationStore(root_copy / "store", dataset=dataset)
    state = AppState(str(root_copy))
    saved = overlay.StoreOverlay(state, store)
    lookups = []
    resolve = store.resolve
    monkeypatch.setattr(store, "resolve", lambda *a: lookups.append(a) or resolve(*a))
    pairs = state.pairs
    assert all(saved.version(p) is None for p in pairs)
    assert len(lookups) == 1  # not one per pair
    ann = store.read_merged(pairs[0])
    mine = store.save_pair(pairs[0], ann.masks, ann.record, author="Ada", message="m", base=None)
    assert saved.version(pairs[0]) == mine  # a save through the same store shows at once
    other = AnnotationStore(root_copy / "store", dataset=dataset)  # another process
    ann = other.read_merged(pairs[1])
    theirs = other.save_pair(pairs[1], ann.masks, ann.record, author="Grace", message="m", base=None)
    monkeypatch.setattr(overlay, "TIP_TTL_S", 0.0)
    assert saved.version(pairs[1]) == theirs  # and another process's once the tip is looked up again
