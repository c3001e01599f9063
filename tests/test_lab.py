"""The lab server without a browser: roles and identity on every write, logged events, drafts, accept keeps classes."""

from __future__ import annotations

import numpy as np
import pytest

from thalia_viewer.app.session.annotate import EditSession
from thalia_viewer.app.session.state import AppState
from thalia_viewer.app.spec import MODES
from thalia_viewer.core import schema
from thalia_viewer.core.annotations import AnnotationStore, Kind
from thalia_viewer.core.dataset import ThaliaDataset
from thalia_viewer.core.editing import MaskClass
from thalia_viewer.core.editing.accept import accepted_masks, record_class
from thalia_viewer.core.editing.drafts import MAX_DRAFT_CHARS, DraftError, decode_draft, encode_draft
from thalia_viewer.core.roles import (
    LOCAL,
    Action,
    Identity,
    PermissionDenied,
    Role,
    RolesConfig,
    RolesError,
    groups_from_claims,
    identify,
    load_roles,
)

ROLES_YAML = """
default: viewer
users:
  ana: annotator
  ben: reviewer
  tom: trainer
  root: admin
groups:
  correctors: {role: annotator, members: [dan, eve]}
  ml-team: trainer
"""
UNIDENTIFIED = schema.UNIDENTIFIED_ACTIVITY
SILL = schema.class_by_name(schema.ACTIVITY_TYPES, "Sill").code
LOW, HIGH = 1, 3


@pytest.fixture
def roles(tmp_path) -> RolesConfig:
    path = tmp_path / "roles.yaml"
    path.write_text(ROLES_YAML)
    return load_roles(path)


def session_as(tiny_root, store_path, identity: Identity, **params) -> EditSession:
    state = AppState(str(tiny_root))
    store = AnnotationStore(store_path, dataset=ThaliaDataset(tiny_root))
    return EditSession(state, store, identity=identity, **params)


def paint(edit: EditSession) -> None:
    """A stroke of the picked class across the middle of the pair on screen."""
    rows, cols = edit.state.frame_obj.shape
    edit.editor.brush(
        np.array([[rows // 2, c] for c in range(10, cols - 10, 4)]), 3, MaskClass.from_names("Dyke", "High")
    )
    edit._changed()


# ------------------------------------------------------------------------------------------ roles
def test_roles_file_gives_users_groups_and_default_their_roles(roles):
    assert roles.role_of("ana") is Role.ANNOTATOR
    assert roles.role_of("dan") is Role.ANNOTATOR  # member of a group listed in the file
    assert roles.role_of("zoe", groups=["ml-team"]) is Role.TRAINER  # a group the login provider reports
    assert roles.role_of("ana", groups=["ml-team"]) is Role.ANNOTATOR  # a user's own entry wins
    assert roles.role_of("stranger") is Role.VIEWER
    assert (
        roles.role_of(None) is Role.VIEWER
    )  # no login with a roles file: names typed in a page prove nothing


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.VIEWER, set()),
        (Role.ANNOTATOR, {Action.SAVE, Action.REVERT}),
        (Role.REVIEWER, {Action.SAVE, Action.REVERT, Action.TAG}),
        (Role.TRAINER, set(Action)),
        (Role.ADMIN, set(Action)),
    ],
)
def test_each_role_may_do_what_the_ladder_says(role, allowed):
    who = Identity("someone", role)
    assert {a for a in Action if who.can(a)} == allowed
    for action in set(Action) - allowed:
        with pytest.raises(PermissionDenied, match=action.value):
            who.require(action)


def test_without_login_or_roles_file_the_local_user_may_do_everything():
    assert identify(None) == LOCAL and all(LOCAL.can(a) for a in Action)
    assert identify("ana").role is Role.ADMIN  # a login without a roles file: identity only, every right
    assert LOCAL.author("  Ada ") == "Ada"
    assert Identity("ana", Role.ANNOTATOR).author("mallory") == "ana"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("users: {ana: anotator}", "Did you mean 'annotator'"),
        ("default: boss", "unknown role 'boss'"),
        ("groups: {g: {members: [a]}}", "needs a role"),
        ("people: {}", "unknown key 'people'"),
        ("users: [ana]", "map names"),
        ("users: {ana: viewer\n", "not valid YAML"),
    ],
)
def test_bad_roles_files_say_what_is_wrong(tmp_path, text, message):
    path = tmp_path / "roles.yaml"
    path.write_text(text)
    with pytest.raises(RolesError, match=message):
        load_roles(path)
    with pytest.raises(RolesError, match="cannot be read"):
        load_roles(tmp_path / "missing.yaml")


def test_groups_come_from_oauth_claims():
    assert groups_from_claims({"groups": ["a", "b"], "roles": "c d"}) == ["a", "b", "c", "d"]
    assert groups_from_claims(None) == []


# --------------------------------------------------------------------------- writes on the server
def test_a_viewers_save_is_refused_by_the_server(tiny_root, tmp_path, roles):
    edit = session_as(tiny_root, tmp_path / "store", identify("vic", (), roles), author="vic")
    paint(edit)
    assert edit.dirty
    assert (
        edit.save() is False
    )  # the server-side path itself, as a hidden button's click or a forged event reaches it
    assert edit.state.message.level == "error" and "may not save corrections" in edit.state.message.text
    assert edit.store.history() == [] and edit.store.events() == []
    assert edit.revert("0" * 20) is None and "may not revert" in edit.state.message.text
    assert edit.tag_release("v1") is None and edit.store.tags() == {}


def test_the_author_is_the_login_whatever_the_page_sends(tiny_root, tmp_path, roles):
    edit = session_as(tiny_root, tmp_path / "store", identify("ana", (), roles))
    assert edit.author == "ana"
    edit.author = "mallory"  # what a page's name box (or its console) sends
    assert edit.author == "ana"
    paint(edit)
    assert edit.save()
    (version,) = edit.store.history()
    assert version.author == "ana"
    assert edit.store.events()[0].author == "ana"


def test_an_annotator_cannot_tag_and_a_reviewers_tag_is_logged(tiny_root, tmp_path, roles):
    store = tmp_path / "store"
    annotator = session_as(tiny_root, store, identify("ana", (), roles))
    paint(annotator)
    assert annotator.save()
    assert annotator.tag_release("labels-v1") is None and annotator.store.tags() == {}
    reviewer = session_as(tiny_root, store, identify("ben", (), roles), author="someone else")
    snapshot = reviewer.tag_release("labels-v1")
    assert snapshot is not None and reviewer.store.tags() == {"labels-v1": snapshot}
    events = AnnotationStore(store, create=False).events()  # who did what, when: every write
    assert [(e.kind, e.author) for e in events] == [(Kind.TAG, "ben"), (Kind.SAVE, "ana")]
    assert events[0].details["tag"] == "labels-v1" and events[0].details["snapshot"] == snapshot
    assert events[1].details["pair"] == annotator.pair.key and events[0].time >= events[1].time


def test_a_fine_tune_needs_the_trainer_role(tiny_root, roles):
    from thalia_viewer.app.session.train import TrainSession

    state = AppState(str(tiny_root))
    train = TrainSession(state, identity=identify("ben", (), roles))
    train.start()
    assert not train.running and "may not fine-tune models" in state.message.text
    assert TrainSession(state, identity=identify("tom", (), roles)).author() == "tom"


def test_revert_asks_before_dropping_unsaved_edits(tiny_root, tmp_path):
    edit = session_as(tiny_root, tmp_path / "store", LOCAL, author="Ada")
    paint(edit)
    assert edit.save()
    first = edit.store.pair_version(edit.pair)
    edit.editor.clear()
    edit._changed()
    assert edit.save()
    paint(edit)  # unsaved edits on top of the second version
    assert edit.revert(first) is None  # nothing done yet: the session asks
    assert edit.pending_revert == first and edit.dirty and len(edit.store.history()) == 2
    new = edit.revert(first, confirmed=True)
    assert new is not None and not edit.dirty and edit.pending_revert == ""
    assert edit.store.history()[0].reverted_to == first


# ---------------------------------------------------------------------------------------- accept
def test_accept_keeps_the_classes_of_the_mask_each_pixel_overlaps_or_is_nearest_to():
    activity = np.zeros((40, 60), np.uint8)
    intensity = np.zeros((40, 60), np.uint8)
    activity[5:15, 5:15], intensity[5:15, 5:15] = UNIDENTIFIED, LOW
    activity[5:15, 40:50], intensity[5:15, 40:50] = SILL, HIGH
    mask = np.zeros((40, 60), bool)
    mask[8:20, 8:20] = True  # overlaps and extends the Unidentified / Low pattern
    mask[30:35, 45:55] = True  # outside: nearest is the Sill / High pattern
    a, i, how = accepted_masks(mask, activity, intensity, {"activity_type": ["Mogi"]})
    assert (a[8:20, 8:20] == UNIDENTIFIED).all() and (i[8:20, 8:20] == LOW).all()
    assert (a[30:35, 45:55] == SILL).all() and (i[30:35, 45:55] == HIGH).all()
    assert not a[~mask].any() and "keeping the pair's classes" in how
    chosen = MaskClass.from_names("Dyke", "Medium")
    a2, i2, how2 = accepted_masks(mask, activity, intensity, None, chosen=chosen)
    assert set(np.unique(a2[mask])) == {chosen.activity} and set(np.unique(i2[mask])) == {chosen.intensity}
    assert "you picked" in how2


def test_accept_on_an_unlabelled_pair_takes_the_records_class_else_unidentified():
    blank = np.zeros((20, 20), np.uint8)
    mask = np.zeros((20, 20), bool)
    mask[2:6, 2:6] = True
    a, i, how = accepted_masks(
        mask, blank, blank, {"activity_type": ["Sill", "Dyke"], "intensity_level": ["High", "Low"]}
    )
    assert set(np.unique(a[mask])) == {SILL} and set(np.unique(i[mask])) == {HIGH} and "record" in how
    a, i, _ = accepted_masks(mask, blank, blank, {"activity_type": []})
    assert set(np.unique(a[mask])) == {UNIDENTIFIED}
    assert record_class({"activity_type": ["Earthquake"], "intensity_level": ["None"]}) == MaskClass(
        schema.EARTHQUAKE_ACTIVITY
    )


def test_accepting_a_prediction_in_the_session_keeps_the_pairs_classes(tiny_root, tmp_path):
    edit = session_as(tiny_root, tmp_path / "store", LOCAL, author="Ada")
    rows, cols = edit.state.frame_obj.shape
    activity = np.zeros((rows, cols), np.uint8)
    intensity = np.zeros((rows, cols), np.uint8)
    activity[20:40, 20:40], intensity[20:40, 20:40] = UNIDENTIFIED, LOW
    edit.replace(activity, intensity, "set up an Unidentified / Low pair")
    prediction = np.zeros((rows, cols), np.uint8)
    prediction[25:50, 25:50] = 1
    assert edit.activity == "Mogi" and not edit.class_chosen  # the picker's default was not chosen
    edit.accept_mask(prediction, "model mask")
    masks = edit.editor.masks
    assert set(np.unique(masks[schema.ACTIVITY_MASK][prediction > 0])) == {UNIDENTIFIED}
    assert set(np.unique(masks[schema.INTENSITY_MASK][prediction > 0])) == {LOW}
    assert "keeping the pair's classes" in edit.status
    record, _ = edit.derived_record()
    assert record["activity_type"] == ["Unidentified"] and record["intensity_level"] == ["Low"]
    edit.activity = "Dyke"  # the user picks a class on purpose: it wins
    edit.accept_mask(prediction, "model mask")
    assert set(np.unique(edit.editor.masks[schema.ACTIVITY_MASK][prediction > 0])) == {2}


# ---------------------------------------------------------------------------------------- drafts
def test_a_draft_round_trips_and_refuses_another_pair_or_size():
    activity = np.zeros((30, 50), np.uint8)
    intensity = np.zeros((30, 50), np.uint8)
    activity[3:9, 4:20], intensity[3:9, 4:20] = SILL, HIGH
    masks = {schema.ACTIVITY_MASK: activity, schema.INTENSITY_MASK: intensity}
    draft = encode_draft("F/20200101_20200113", masks, {"caption": "x"}, "ABC", "msg")
    a, i = decode_draft(draft, "F/20200101_20200113", (30, 50))
    assert np.array_equal(a, activity) and np.array_equal(i, intensity)
    assert len(draft["masks"]) < 200 and draft["base"] == "ABC"
    with pytest.raises(DraftError, match="not a draft of this pair"):
        decode_draft(draft, "F/20200101_20200125", (30, 50))
    with pytest.raises(DraftError, match="another version"):
        decode_draft(draft, "F/20200101_20200113", (31, 50))
    with pytest.raises(DraftError, match="damaged"):
        decode_draft({**draft, "masks": "@@@"}, "F/20200101_20200113", (30, 50))
    assert MAX_DRAFT_CHARS < 5_000_000  # a browser keeps ~5 MB per site


def test_a_draft_restores_unsaved_edits_in_a_new_session_and_keeps_conflicts(tiny_root, tmp_path):
    store = tmp_path / "store"
    edit = session_as(tiny_root, store, LOCAL, author="Ada")
    paint(edit)
    edit.set_field("caption", "a dyke, drawn before the reload")
    draft = edit.draft()
    assert draft is not None and draft["base"] is None
    reloaded = session_as(tiny_root, store, LOCAL, author="Ada")  # the page reloaded: a new session
    assert not reloaded.dirty
    assert reloaded.restore_draft(draft)
    assert reloaded.dirty and reloaded.unsaved
    assert np.array_equal(
        reloaded.editor.masks[schema.ACTIVITY_MASK], edit.editor.masks[schema.ACTIVITY_MASK]
    )
    assert reloaded.record(reloaded.pair)["caption"] == "a dyke, drawn before the reload"
    assert "Restored your unsaved edits" in reloaded.state.message.text
    assert not reloaded.restore_draft(draft)  # edits of this session are newer than any draft
    other = session_as(tiny_root, store, LOCAL, author="Bob")  # someone saves the pair meanwhile
    paint(other)
    other.editor.clear()
    other._changed()
    assert other.save()
    again = session_as(tiny_root, store, LOCAL, author="Ada")
    assert again.restore_draft(draft)
    assert "saved by someone else" in again.state.message.text
    assert not again.save() and again.conflict is not None  # the draft's base makes the conflict visible


def test_the_browser_keeper_writes_restores_and_removes_drafts(tiny_root, tmp_path):
    from thalia_viewer.app.keeper import BrowserKeeper

    store = tmp_path / "store"
    edit = session_as(tiny_root, store, LOCAL)
    keeper = BrowserKeeper(edit)
    keeper._handle_msg({"type": "hello", "author": "Ada", "drafts": []})
    assert edit.author == "Ada"  # the name typed on an earlier visit (no login)
    paint(edit)  # outside a served session the draft is written at once
    assert keeper.sent[-1] == {"type": "put", "pair": edit.pair.key} and keeper.unsaved
    draft = edit.draft()
    reloaded = session_as(tiny_root, store, LOCAL)
    keeper2 = BrowserKeeper(reloaded)
    keeper2._handle_msg({"type": "hello", "author": None, "drafts": [reloaded.pair.key]})
    assert keeper2.sent[-1] == {"type": "get", "pair": reloaded.pair.key}
    keeper2._handle_msg({"type": "draft", "pair": reloaded.pair.key, "draft": draft})
    assert reloaded.dirty and keeper2.unsaved
    reloaded.author = "Ada"
    assert keeper2.sent[-1] == {"type": "author", "value": "Ada"}
    assert reloaded.save()
    assert keeper2.sent[-1] == {"type": "remove", "pair": reloaded.pair.key} and not keeper2.unsaved
    signed_in = session_as(tiny_root, store, Identity("ana", Role.ANNOTATOR))
    keeper3 = BrowserKeeper(signed_in)
    assert (
        not keeper3.remember_author and keeper3.scope != keeper2.scope
    )  # another user's drafts are not offered


# ------------------------------------------------------------------------------- many sessions
def test_aggregates_are_shared_by_sessions_within_a_byte_budget():
    import xarray as xr

    from thalia_viewer.app.aggregates import AggregateCache, SharedAggregates

    shared = SharedAggregates(budget_bytes=3 * 800)  # three 10 x 10 float64 arrays
    a, b = AggregateCache(shared), AggregateCache(shared)
    calls = []

    def compute(k):
        calls.append(k)
        return xr.DataArray(np.full((10, 10), float(k)))

    assert float(a.get(1, lambda: compute(1))[0, 0]) == 1.0
    assert float(b.get(1, lambda: compute(1))[0, 0]) == 1.0 and calls == [1]  # the second session reuses it
    assert b.hits == 1 and a.misses == 1
    for k in (2, 3, 4):
        a.get(k, lambda k=k: compute(k))
    assert shared.nbytes <= shared.budget_bytes and 1 not in a  # least recently used went first
    assert 4 in b
    b.get(4, lambda: compute(4))
    b.clear()  # a session's clear drops what it used (4), not the whole process's cache
    assert 4 not in a and 3 in a


def test_each_sessions_unsaved_edits_have_their_own_cache_identity(tiny_root, tmp_path):
    one = session_as(tiny_root, tmp_path / "store", LOCAL)
    two = session_as(tiny_root, tmp_path / "store", LOCAL)
    paint(one)
    paint(two)
    one.revision = two.revision = 7  # same counters, different edits
    assert one.version(one.pair) != two.version(two.pair)
    assert one.state.layer_identity("activity") != two.state.layer_identity("activity")


def test_an_annotate_session_keeps_only_the_pair_on_screen_and_unsaved_work(tiny_root, tmp_path):
    edit = session_as(tiny_root, tmp_path / "store", LOCAL)
    first = edit.pair
    edit.state.step(1)
    edit.state.step(1)
    assert set(edit.workspace) == {edit.pair}
    edit.state.go(first)
    paint(edit)
    edit.state.step(1)
    assert set(edit.workspace) == {first, edit.pair} and edit.unsaved  # the edited pair stays


@pytest.mark.parametrize("mode", list(MODES))
def test_every_panel_extension_a_mode_renders_is_loaded_for_every_session(
    mode, tiny_root, tmp_path, monkeypatch
):
    from thalia_viewer.app.explorer import ExplorerApp
    from thalia_viewer.app.extensions import PANEL_EXTENSIONS, needed_extensions
    from thalia_viewer.core.annotations import STORE_ENV

    monkeypatch.setenv(STORE_ENV, str(tmp_path / "store"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    app = ExplorerApp(str(tiny_root), mode)
    needed = needed_extensions(app.template())
    assert needed <= set(PANEL_EXTENSIONS), (
        f"{mode} renders {needed - set(PANEL_EXTENSIONS)}: add them to PANEL_EXTENSIONS"
    )
    if mode == "review":
        assert "tabulator" in needed
