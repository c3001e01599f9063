"""Staged edits without the app: a ``core`` workspace of per-pair editors, records and base versions."""

from __future__ import annotations

import numpy as np
import pytest

from thalia_viewer.core import schema
from thalia_viewer.core.annotations import AnnotationStore
from thalia_viewer.core.dataset import ThaliaDataset
from thalia_viewer.core.editing import MaskClass
from thalia_viewer.core.editing.workspace import Workspace
from thalia_viewer.core.errors import ConflictError, InvalidEditError, ThaliaError

MOGI = MaskClass.from_names("Mogi", "Medium")


@pytest.fixture
def ws(tiny_root, tmp_path) -> Workspace:
    return Workspace(AnnotationStore(tmp_path / "store", dataset=ThaliaDataset(tiny_root)))


@pytest.fixture
def pairs(tiny_root):
    ds = ThaliaDataset(tiny_root)
    return ds.frame(ds.frames[0]).pairs


def paint(ws: Workspace, pair, row: int = 20) -> None:
    ws.editor(pair).brush(np.array([[row, c] for c in range(10, 30)], float), 3, MOGI)


def test_pairs_open_on_first_use_and_keep_their_edits(ws, pairs):
    a, b = pairs[0], pairs[1]
    assert a not in ws and not ws.unsaved
    paint(ws, a)
    assert a in ws and ws.dirty(a) and ws.unsaved and ws.base(a) is None  # opened from the source
    ws.editor(b)  # another pair opened, not edited
    ws.drop_clean(keep=None)
    assert a in ws and b not in ws and ws.unsaved_pairs() == [a]  # the unsaved work stays
    assert (ws.editor(a).masks[schema.ACTIVITY_MASK][20, 10:30] == MOGI.activity).all()


def test_save_makes_a_version_against_the_base_and_clears_the_edits(ws, pairs):
    pair = pairs[0]
    paint(ws, pair)
    assert ws.set_field(pair, "caption", "a painted pattern") and not ws.set_field(pairs[5], "caption", "x")
    pending = ws.pending(pair)
    assert pending is not None and not pending.problems and pending.record["caption"] == "a painted pattern"
    saved = ws.save(pair, author="Ada", message="paint")
    assert not ws.dirty(pair) and ws.base(pair) == saved.version
    assert ws.store.history(pair=pair)[0].author == "Ada"
    stored = ws.store.read_merged(pair)
    assert stored.record["caption"] == "a painted pattern"
    assert np.array_equal(stored.masks[schema.ACTIVITY_MASK], ws.editor(pair).masks[schema.ACTIVITY_MASK])
    with pytest.raises(InvalidEditError, match="not open"):
        ws.save(pairs[6], author="Ada", message="nothing open")


def test_a_save_of_someone_else_since_opening_is_a_conflict_then_reload_or_force(ws, pairs):
    pair = pairs[0]
    paint(ws, pair, row=20)
    theirs = Workspace(ws.store)
    paint(theirs, pair, row=40)
    version = theirs.save(pair, author="Grace", message="theirs").version
    with pytest.raises(ConflictError):
        ws.save(pair, author="Ada", message="mine")
    assert ws.dirty(pair) and ws.store.history(pair=pair)[0].id == version  # nothing written, edits kept
    ws.reload(pair)  # theirs, as stored now
    assert not ws.dirty(pair) and ws.base(pair) == version
    assert (ws.editor(pair).masks[schema.ACTIVITY_MASK][40, 10:30] == MOGI.activity).all()
    paint(theirs, pair, row=60)
    theirs.save(pair, author="Grace", message="again")
    paint(ws, pair, row=70)
    assert ws.save(pair, author="Ada", message="overwrite", force=True).version != version


def test_a_record_with_problems_is_refused_and_nothing_is_written(ws, pairs):
    pair = pairs[0]
    paint(ws, pair)
    ws.set_field(pair, "label", ["Non_Deformation"])  # typed, and the masks now show deformation
    assert ws.pending(pair).problems
    with pytest.raises(InvalidEditError, match="label"):
        ws.save(pair, author="Ada", message="bad")
    assert ws.dirty(pair) and ws.store.history(pair=pair) == []


def test_drafts_round_trip_into_another_workspace(ws, pairs, tmp_path):
    pair = pairs[0]
    paint(ws, pair)
    ws.set_field(pair, "caption", "draft caption")
    draft = ws.draft(pair, message="wip")
    assert draft is not None and ws.draft(pairs[1]) is None
    other = Workspace(ws.store)
    shape = ws.editor(pair).masks[schema.ACTIVITY_MASK].shape
    restored = other.restore_draft(pair, draft, shape)
    assert restored is not None and restored.record_changed and restored.base is None
    assert other.dirty(pair) and other.record(pair)["caption"] == "draft caption"
    assert np.array_equal(
        other.editor(pair).masks[schema.ACTIVITY_MASK], ws.editor(pair).masks[schema.ACTIVITY_MASK]
    )
    assert other.restore_draft(pair, draft, shape) is None  # its own edits are newer now
    assert Workspace(ws.store).restore_draft(pairs[1], draft, shape) is None  # another pair's draft
    with pytest.raises(ThaliaError):
        Workspace(ws.store).restore_draft(pair, draft, (shape[0] + 1, shape[1]))
