"""Save with author and message, resolve a conflict, and the pair's history: who, when, what; revert."""

from __future__ import annotations

import html
from typing import Any, ClassVar, Final

import panel as pn
import param
from panel.viewable import Viewer

from thalia_viewer.app.annotate import EditSession
from thalia_viewer.app.state import AppState
from thalia_viewer.core.errors import ThaliaError

HISTORY_ROWS: Final = 12  # versions listed per pair, newest first


class SavePanel(Viewer):
    """Author, message, Save; the conflict choices when someone saved the pair meanwhile; the history."""

    view_type: ClassVar[str] = "save_panel"  # name in layouts/*.yaml
    needs_edit: ClassVar[bool] = True  # shown only where an annotation store is open
    section_title: ClassVar[str | None] = "Save and history"

    state = param.ClassSelector(class_=AppState, doc="The session's state")
    edit = param.ClassSelector(class_=EditSession, doc="The annotate session")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        e = self.edit
        user = pn.state.user if pn.state.curdoc is not None else None
        if user and not e.author:
            e.author = str(user)
        author = pn.widgets.TextInput.from_param(e.param.author, name="Your name", placeholder="saved with every version",
                                                 disabled=bool(user), sizing_mode="stretch_width")  # fmt: skip
        message = pn.widgets.TextInput.from_param(e.param.message, name="What changed", placeholder="e.g. trim the dyke mask",
                                                  sizing_mode="stretch_width")  # fmt: skip
        self._save = pn.widgets.Button(name="Save version", button_type="primary", description="Commit this pair (s)",
                                       sizing_mode="stretch_width")  # fmt: skip
        self._save.on_click(lambda _: e.save())
        theirs = pn.widgets.Button(name="Reload theirs", button_type="default", sizing_mode="stretch_width")
        overwrite = pn.widgets.Button(name="Overwrite theirs", button_type="danger", sizing_mode="stretch_width")
        keep = pn.widgets.Button(name="Keep editing", sizing_mode="stretch_width")
        theirs.on_click(lambda _: e.reload())
        overwrite.on_click(lambda _: e.save(force=True))
        keep.on_click(lambda _: setattr(e, "conflict", None))
        self._conflict_text = pn.pane.Alert("", alert_type="warning", sizing_mode="stretch_width")
        self._conflict = pn.Column(self._conflict_text, pn.Row(theirs, overwrite, keep), visible=False,
                                   sizing_mode="stretch_width")  # fmt: skip
        self._history = pn.Column(sizing_mode="stretch_width", css_classes=["thalia-history"])
        e.param.watch(lambda *_: self._update_conflict(), "conflict")
        e.param.watch(lambda *_: self._update_save(), ["dirty", "author"])
        e.param.watch(lambda *_: self._update_history(), "record_revision")
        self.state.param.watch(lambda *_: self._update_history(), "pair")
        self._update_save()
        self._update_history()
        self._layout = pn.Column(author, message, self._save, self._conflict, pn.pane.HTML(
            "<div class='thalia-subhead'>History of this pair</div>", margin=(8, 10, 0, 10)), self._history,
            sizing_mode="stretch_width")  # fmt: skip

    def _update_save(self) -> None:
        e = self.edit
        self._save.disabled = not e.dirty
        self._save.name = "Save version" if e.author.strip() else "Save version (set your name)"

    def _update_conflict(self) -> None:
        conflict = self.edit.conflict
        self._conflict.visible = conflict is not None
        if conflict is not None:
            self._conflict_text.object = html.escape(conflict.text)

    def _update_history(self) -> None:
        pair = self.state.current
        rows: list[Any] = []
        try:
            versions = self.edit.store.history(pair=pair)[:HISTORY_ROWS] if pair is not None else []
        except ThaliaError as exc:
            versions = []
            self.state.notify("error", str(exc))
        for v in versions:
            revert = pn.widgets.Button(name="Revert", button_style="outline", width=70, margin=(2, 4),
                                       description=f"A new version of this pair restoring {v.short_id}")  # fmt: skip
            revert.on_click(lambda _, vid=v.id: self._revert(vid))
            text = (f"<b>{html.escape(v.author)}</b> · {v.time:%Y-%m-%d %H:%M} UTC · <code>{v.short_id}</code><br>"
                    f"{html.escape(v.message)}")  # fmt: skip
            rows.append(pn.Row(pn.pane.HTML(text, sizing_mode="stretch_width", margin=(2, 6)), revert,
                               sizing_mode="stretch_width", css_classes=["thalia-version"]))  # fmt: skip
        if not rows:
            rows = [pn.pane.HTML("<span class='thalia-muted'>Never corrected: the masks are the source's.</span>",
                                 margin=(2, 10))]  # fmt: skip
        self._history.objects = rows

    def _revert(self, version: str) -> None:
        e, pair = self.edit, self.state.current
        if pair is None:
            return
        if not e.author.strip():
            self.state.notify("warning", "Set your name before reverting: every version says who made it.")
            return
        try:
            new = e.store.revert(pair, version, author=e.author, message=f"Revert to {version[:8]}")
        except ThaliaError as exc:
            self.state.notify("error", str(exc))
            return
        e.reload()
        self.state.notify("info", f"Reverted {pair.key} to {version[:8]} as version {new[:8]}.")

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
