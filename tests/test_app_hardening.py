"""The app without a browser, under attack and under damage: escaped messages, local errors, failed saves,
one state change per step, the address bar's history. (The browser tests check the same in a real page.)"""

from __future__ import annotations

import errno
import shutil
from html.parser import HTMLParser

import icechunk
import markdown_it
import pytest
import zarr.errors

from tests.app_roots import (
    BOGUS_FRAME,
    PAYLOAD,
    PAYLOADS,
    add_non_zarr_store,
    break_annotations,
    copy_root,
    corrupt_chunk,
    hostile_record,
    write_codes,
)
from thalia_viewer.app import messages
from thalia_viewer.app.data import AppDataset
from thalia_viewer.app.explorer import ExplorerApp
from thalia_viewer.app.messages import Message, describe, escape, escape_markdown, placeholder_html
from thalia_viewer.app.navigation import BrowserHistory, Navigation, parse_query
from thalia_viewer.app.session.annotate import Conflict, EditSession
from thalia_viewer.app.session.overlay import forget_stores, open_store
from thalia_viewer.app.session.state import AppState
from thalia_viewer.app.views.label_card import card_html
from thalia_viewer.app.views.layer_map import LayerMap, value_slot
from thalia_viewer.app.views.save_panel import SavePanel
from thalia_viewer.core import schema
from thalia_viewer.core.annotations import AnnotationStore
from thalia_viewer.core.dataset import ThaliaDataset
from thalia_viewer.core.errors import AnnotationStoreError, ConflictError, InvalidEditError
from thalia_viewer.core.pairs import Pair

#: Tags our own markup uses; a payload rendered as markup adds others (img, script, svg, iframe, a) or handlers.
OWN_TAGS = {"div", "b", "br", "p", "span", "table", "tr", "th", "td", "code", "i", "ul", "li"}


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        bad = [name for name, _ in attrs if name.startswith("on") or name in ("href", "src", "srcdoc")]
        if tag not in OWN_TAGS or bad:
            self.found.append(f"<{tag} {' '.join(bad)}>")


def no_markup(html: str) -> None:
    """``html`` holds no element or attribute that came from data (a browser would parse it the same way)."""
    parser = _Tags()
    parser.feed(html)
    assert not parser.found, f"markup from data reached the page: {parser.found} in {html[:300]}"


# ------------------------------------------------------------------------------------- messages
@pytest.mark.parametrize("payload", PAYLOADS)
def test_every_payload_is_escaped_for_html_and_for_markdown(payload):
    no_markup(escape(payload))
    no_markup(Message("error", payload, 1).html)
    no_markup(placeholder_html(payload, payload))
    rendered = markdown_it.MarkdownIt("commonmark").render(escape_markdown(payload))
    no_markup(rendered)


def test_the_notification_sink_gets_escaped_text_only():
    shown = []

    class Notifications:
        def error(self, text, duration):
            shown.append(("error", text, duration))

        def warning(self, text, duration):
            shown.append(("warning", text, duration))

        def info(self, text, duration):
            shown.append(("info", text, duration))

    messages.show(Message("error", PAYLOAD, 1), Notifications())
    messages.show(Message("info", "line one\nline two", 2), Notifications())
    (level, text, duration), (_, two, _) = shown
    assert level == "error" and duration == 0  # errors stay until closed
    no_markup(text)
    assert "&lt;img src=x onerror=" in text
    assert two == "line one<br>line two"


def test_describe_says_what_failed_why_and_what_to_do():
    assert "read-only" in describe(
        PermissionError(errno.EACCES, "Permission denied", "/data/store"), "saving p"
    )
    full = describe(OSError(errno.ENOSPC, "No space left on device"), "saving p")
    assert full.startswith("saving p failed: No space left on device") and "free some space" in full
    assert describe(icechunk.IcechunkError("  x ref not found `main`\n  | context"), "reading") == (
        "reading failed: IcechunkError: ref not found `main`."
    )
    assert describe(InvalidEditError("bad label.", "Fix it."), "saving p") == "saving p: bad label. Fix it."
    assert len(describe(RuntimeError("x" * 5000))) <= messages.MAX_CHARS


def test_the_label_card_and_the_conflict_text_show_hostile_records_as_text(tiny_root, tmp_path):
    ds = ThaliaDataset(tiny_root)
    pair = ds.frame(ds.frames[0]).pairs[0]
    html = card_html(pair, hostile_record(ds.annotation(pair)))
    no_markup(html)
    assert "&lt;script&gt;window.__pwned=2" in html
    state = AppState(str(tiny_root))
    edit = EditSession(state, AnnotationStore(tmp_path / "store", dataset=ds), author="ana")
    panel = SavePanel(state=state, edit=edit)
    edit.conflict = Conflict(pair, str(ConflictError(f"saved by {PAYLOAD}", PAYLOAD)))
    rendered = markdown_it.MarkdownIt("commonmark").render(panel._conflict_text.object)
    no_markup(rendered)
    assert "[click me](javascript:" in rendered.replace("&quot;", '"')


# ----------------------------------------------------------------------------------- local errors
@pytest.fixture
def damaged(tiny_root, tmp_path):
    root = copy_root(tiny_root, tmp_path / "root")
    ds = ThaliaDataset(root)
    pairs = ds.frame(ds.frames[0]).pairs
    corrupt_chunk(root, pairs[3])
    write_codes(root, pairs[6])
    add_non_zarr_store(root)
    return root, pairs


def test_a_damaged_frame_is_skipped_and_a_damaged_pair_is_named_above_the_map(damaged, monkeypatch, tmp_path):
    root, pairs = damaged
    monkeypatch.setenv("THALIA_STORE", str(tmp_path / "store"))
    app = ExplorerApp(str(root))
    state = app.state
    assert state.frame == pairs[0].frame  # the broken first frame is reported and skipped
    assert state.dataset.frames[0] == BOGUS_FRAME
    state.frame = BOGUS_FRAME  # picked by hand: refused, the view stays
    assert state.frame == pairs[0].frame and f"opening frame {BOGUS_FRAME}" in state.message.text
    picker = app.views["navigator"]._layout[0]
    app.navigation.read(f"?frame={BOGUS_FRAME}&pair={pairs[1].name}")  # a shared link
    assert picker.value == state.frame == pairs[0].frame and state.pair == pairs[1]
    view: LayerMap = app.views["map"]
    messages = []  # the map and the strip's thumbnail both tell: the map's error is one of them
    state.param.watch(lambda e: messages.append(e.new), "message")
    state.go(pairs[3])
    assert "wrapped phase cannot be read" in view._failures[value_slot(0)]
    assert view._problem.visible and str(pairs[3]) in view._problem.object
    assert any(m.level == "error" and "wrapped phase" in m.text and "blosc" in m.text for m in messages), (
        messages
    )
    label = app.views["label"]._pane.object
    assert "thalia-caption" in label  # the card still shows the pair's labels
    items = {it["key"]: it for it in app.views["timeseries"].strip.items}
    strip = app.views["timeseries"].strip
    assert pairs[3].name in items  # listed, with its labels
    assert pairs[3].name in strip.failed  # its thumbnail says it cannot be read
    assert pairs[4].name not in strip.failed
    state.step(1)  # the next pair draws, the line goes
    assert not view._problem.visible and not view._failures
    state.go(pairs[6])
    assert "deformation mask cannot be read" in view._problem.object and value_slot(0) not in view._failures


def test_a_frame_whose_grid_cannot_be_read_leaves_the_map_empty_with_its_line(tiny_root, monkeypatch):
    import thalia_viewer.app.views.layer_map as layer_map

    def broken(*_):
        raise ValueError("x is not monotonic")

    monkeypatch.setattr(layer_map, "grid_extent", broken)
    state = AppState(str(tiny_root))
    view = LayerMap(state=state)  # no exception: the rest of the page goes on
    assert "coordinates cannot be read" in view._problem.object and view._problem.visible
    assert all(image is None for image in view.shown().values())
    assert state.message.level == "error" and "not monotonic" in state.message.text
    monkeypatch.undo()
    state.frame = state.dataset.frames[1]  # a readable frame: the map draws, the line goes
    assert not view._problem.visible and view.shown()[value_slot(0)] is not None


def test_a_watcher_that_fails_never_stops_the_others(tiny_root):
    state = AppState(str(tiny_root))
    seen = []
    state.watch(lambda *_: 1 / 0, "pair", "a broken view")
    state.watch(lambda *_: seen.append(state.pair), "pair", "a good view")
    target = state.pairs[4]
    state.go(target)
    assert seen == [target]
    assert state.message.level == "error" and "a broken view" in state.message.text
    assert "ZeroDivisionError" in state.message.text


def test_a_malformed_annotations_file_still_browses_the_cubes(tiny_root, tmp_path):
    root = copy_root(tiny_root, tmp_path / "root")
    break_annotations(root)
    with pytest.raises(Exception, match="not valid JSON"):
        ThaliaDataset(root).frame(ThaliaDataset(root).frames[0])  # the core refuses, the app browses
    app = ExplorerApp(str(root), opener=AppDataset)
    state = app.state
    assert state.pair is not None and len(state.pairs) > 3
    assert isinstance(state.dataset, AppDataset) and state.dataset.json_errors
    state.step(2)
    assert "Labels cannot be read" in app.views["label"]._pane.object


def test_no_store_can_be_created_edits_are_kept_and_the_page_says_where_to_save(tiny_root, monkeypatch):
    monkeypatch.setenv("THALIA_STORE", "/sys/thalia-viewer-test-store")  # not creatable, even by root
    app = ExplorerApp(str(tiny_root), "annotate")
    message = app.state.message
    assert message.level == "warning" and "--store" in message.text and "THALIA_STORE" in message.text
    edit = (
        app.edit
    )  # editing stays on: the store would be created by the first save, which cannot happen here
    assert edit is not None and app.views["map"] is not None and app.state.pair is not None
    edit.author = "ana"
    edit.set_field("caption", "waits for a writable store")
    assert edit.save() is False
    message = app.state.message
    assert message.level == "error" and "--store" in message.text and "edits are kept" in message.text
    assert edit.dirty and edit.record(app.state.pair)["caption"] == "waits for a writable store"
    explore = ExplorerApp(str(tiny_root))  # browsing never creates a store, so it says nothing
    assert explore.editing_off == "" and explore.views


# ----------------------------------------------------------------------------------------- saves
@pytest.fixture
def editing(tiny_root, tmp_path, monkeypatch):
    monkeypatch.setenv("THALIA_STORE", str(tmp_path / "store"))
    forget_stores()
    app = ExplorerApp(str(tiny_root), "annotate")
    edit = app.edit
    edit.author = "ana"
    edit.set_field("caption", "kept through any failure")
    yield app, edit, tmp_path / "store"
    forget_stores()


@pytest.mark.parametrize(
    "error",
    [
        PermissionError(errno.EACCES, "Permission denied", "/store/.lock"),
        OSError(errno.ENOSPC, "No space left on device"),
        icechunk.IcechunkError("  x failed to write the manifest"),
        zarr.errors.ContainsArrayError("the path is an array"),
        InvalidEditError("a mask holds codes outside the schema.", "Clear them."),
        AnnotationStoreError("the store is locked.", "Try again."),
    ],
    ids=lambda e: type(e).__name__,
)
def test_every_kind_of_save_failure_is_a_notification_and_the_edits_stay(editing, monkeypatch, error):
    app, edit, _ = editing
    pair = app.state.pair

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(edit.store, "save_pair", fail)
    assert edit.save() is False
    text = app.state.message.text
    assert app.state.message.level == "error" and f"saving {pair}" in text and "edits are kept" in text
    assert edit.dirty and edit.record(pair)["caption"] == "kept through any failure"
    monkeypatch.undo()
    assert edit.save() is True and not edit.dirty  # once fixed, the same edits save


def test_a_store_that_disappears_is_reported_on_save_and_used_again_when_it_is_back(editing):
    app, edit, store = editing
    assert edit.save() is True  # the first save creates the store
    edit.set_field("caption", "edited again")
    away = store.with_name("away")
    shutil.move(store, away)
    assert edit.save() is False
    assert "is gone" in app.state.message.text and edit.dirty
    with pytest.raises(AnnotationStoreError, match="is gone"):  # a new page meanwhile: editing off, says why
        open_store(str(store), app.state.root)
    shutil.move(away, store)
    assert edit.save() is True and not edit.dirty
    assert edit.store.history(pair=app.state.pair)[0].author == "ana"


# ------------------------------------------------------------------------------------ navigation
def test_one_step_is_one_batch_that_every_view_sees_once(tiny_root):
    state = AppState(str(tiny_root))
    calls = []
    state.watch(
        lambda *events: calls.append(sorted(e.name for e in events)),
        ["frame", "primary", "secondary", "pair"],
        "a view",
    )
    other = state.dataset.frames[-1]
    target = state.dataset.frame(other).pairs[2]
    state.go(target)  # frame, dates and pair at once
    assert calls == [["frame", "pair", "primary", "secondary"]]
    calls.clear()
    assert state.go_frame(state.dataset.frames[0])
    assert len(calls) == 1


def test_the_address_bar_follows_each_pair_and_back_returns(tiny_root):
    app = ExplorerApp(str(tiny_root), "annotate")
    nav: Navigation = app.navigation
    nav.read("?mode=annotate&extra=1")
    first = nav.search()
    assert parse_query(first) == {
        "mode": "annotate",
        "extra": "1",
        "frame": app.state.frame,
        "pair": app.state.pair.name,
    }
    nav.write()
    assert nav.history.search == first
    nav.keys._handle_msg({"key": "j"})
    nav.write()
    second = nav.history.search
    assert second != first
    nav.history._handle_msg({"search": first, "seq": 1})  # Back
    assert nav.history.ack == 1 and app.state.pair == Pair.parse(
        f"{app.state.frame}/{parse_query(first)['pair']}"
    )
    assert nav.search() == first  # the page is already there: nothing pushed
    nav.history._handle_msg({"search": 42})  # junk from the page is ignored
    nav.read(f"?frame={PAYLOAD}")
    assert "no frame" in app.state.message.text and app.state.frame == parse_query(first)["frame"]


def test_review_steps_along_its_ranked_table(tiny_root):
    from thalia_viewer.app.session.review import ReviewSession
    from thalia_viewer.ml.review import ReviewRow

    state = AppState(str(tiny_root))
    review = ReviewSession(state)
    pairs = state.pairs
    review.rows = [ReviewRow(p, 1, i, 1, 0.5, 0.5, 0.5, 0.1 * i) for i, p in enumerate(pairs[:4])]
    ranked = [r.pair for r in review.ranked()]
    nav = Navigation(state, "review", review=review)
    state.go(ranked[0])
    nav.step(1)
    assert state.pair == ranked[1]
    nav.step(-1)
    nav.step(-1)  # stays at the first row, says so
    assert state.pair == ranked[0] and "first pair of the table" in state.message.text
    review.rows = []
    nav.step(1)  # an empty table: the frame's pairs
    assert state.pair == pairs[pairs.index(ranked[0]) + 1]


def test_the_history_component_takes_only_well_formed_messages():
    popped = []
    history = BrowserHistory(on_pop=popped.append)
    history._handle_msg("?frame=x")
    history._handle_msg({"search": "?a=1", "seq": "not a number"})
    history._handle_msg({"search": "?a=1", "seq": 3})
    assert popped == ["?a=1"] and history.ack == 3


def test_flags_of_a_damaged_record_show_nothing_rather_than_fail():
    record = {
        "orbital_fringes": "<script>alert(1)</script>",
        "atmospheric_fringes": 3,
        "low_coherence": None,
        "glacier_fringes": 10**400,
    }
    assert schema.flag_value(record, "orbital_fringes") == 0
    assert schema.flags_text(record) == "strat.+turb., glacier"
    assert schema.flags_text(None) == ""
