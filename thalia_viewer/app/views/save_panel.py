"""Save with author and message, resolve a conflict, and the pair's history: who, when, what; revert; tag.

What a role may not do is not shown (a viewer sees the history, no Save; an annotator no release tag); the
edit session refuses it on the server anyway. Under a login the name box shows the login, read-only.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final

import panel as pn
import param
from panel.viewable import Viewer

from thalia_viewer.app.messages import escape, escape_markdown
from thalia_viewer.app.session.annotate import EditSession
from thalia_viewer.app.session.state import AppState
from thalia_viewer.core.roles import Action

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
        who = e.identity
        author = pn.widgets.TextInput.from_param(
            e.param.author,
            name="Your name",
            placeholder="saved with every version",
            disabled=who.authenticated,
            sizing_mode="stretch_width",
            css_classes=["thalia-author"],
        )
        message = pn.widgets.TextInput.from_param(
            e.param.message,
            name="What changed",
            placeholder="e.g. trim the dyke mask",
            sizing_mode="stretch_width",
        )
        self._save = pn.widgets.Button(
            label="Save version",
            color="primary",
            description="Commit this pair (s)",
            sizing_mode="stretch_width",
        )
        self._save.on_click(lambda _: e.save())
        theirs = pn.widgets.Button(label="Reload theirs", color="default", sizing_mode="stretch_width")
        overwrite = pn.widgets.Button(label="Overwrite theirs", color="danger", sizing_mode="stretch_width")
        keep = pn.widgets.Button(label="Keep editing", sizing_mode="stretch_width")
        theirs.on_click(lambda _: e.reload())
        overwrite.on_click(lambda _: e.save(force=True))
        keep.on_click(lambda _: setattr(e, "conflict", None))
        self._conflict_text = pn.pane.Alert("", alert_type="warning", sizing_mode="stretch_width")
        self._conflict = pn.Column(
            self._conflict_text, pn.Row(theirs, overwrite, keep), visible=False, sizing_mode="stretch_width"
        )
        self._history = pn.Column(sizing_mode="stretch_width", css_classes=["thalia-history"])
        self._viewing = pn.pane.Alert("", alert_type="info", sizing_mode="stretch_width", margin=(2, 10))
        back = pn.widgets.Button(
            label="Back to editing", color="primary", variant="outline", sizing_mode="stretch_width"
        )
        back.on_click(lambda _: e.back_to_edits())
        self._banner = pn.Column(self._viewing, back, visible=False, sizing_mode="stretch_width")
        self._old = pn.widgets.Select(label="Compare", sizing_mode="stretch_width", margin=(2, 4))
        self._new = pn.widgets.Select(label="with", sizing_mode="stretch_width", margin=(2, 4))
        compare = pn.widgets.Button(
            label="Show diff", variant="outline", align="end", width=90, margin=(2, 4)
        )
        compare.on_click(lambda _: e.compare(self._old.value or None, self._new.value or None))
        self._compare = pn.Row(self._old, self._new, compare, sizing_mode="stretch_width", visible=False)
        e.param.watch(lambda *_: self._update_banner(), ["preview", "comparison"])
        e.param.watch(lambda *_: self._update_conflict(), "conflict")
        e.param.watch(lambda *_: self._update_save(), ["dirty", "author"])
        e.param.watch(lambda *_: self._update_history(), "record_revision")
        self.state.watch(lambda *_: self._update_history(), "pair", "the history of this pair")
        self._confirm_text = pn.pane.Alert("", alert_type="warning", sizing_mode="stretch_width")
        drop = pn.widgets.Button(
            label="Revert and drop my edits", color="danger", sizing_mode="stretch_width"
        )
        drop.on_click(lambda _: e.revert(e.pending_revert, confirmed=True))
        cancel = pn.widgets.Button(label="Cancel", sizing_mode="stretch_width")
        cancel.on_click(lambda _: setattr(e, "pending_revert", ""))
        self._confirm = pn.Column(
            self._confirm_text,
            pn.Row(drop, cancel),
            visible=False,
            sizing_mode="stretch_width",
            css_classes=["thalia-confirm-revert"],
        )
        e.param.watch(lambda *_: self._update_confirm(), "pending_revert")
        self._update_save()
        self._update_history()
        head = pn.pane.HTML("<div class='thalia-subhead'>History of this pair</div>", margin=(8, 10, 0, 10))
        role = pn.pane.HTML(
            role_html(e), margin=(2, 10), sizing_mode="stretch_width", css_classes=["thalia-role"]
        )
        writing = [author, message, self._save, self._conflict] if who.can(Action.SAVE) else []
        self._layout = pn.Column(
            role,
            *writing,
            self._confirm,
            head,
            self._banner,
            self._history,
            self._compare,
            *([self._release_row()] if who.can(Action.TAG) else []),
            sizing_mode="stretch_width",
        )

    def _release_row(self) -> pn.viewable.Viewable:
        """Tag the store's latest version as a label release (reviewers and up)."""
        name = pn.widgets.TextInput(
            label="Release tag", placeholder="e.g. labels-v2", sizing_mode="stretch_width"
        )
        button = pn.widgets.Button(label="Tag release", variant="outline", align="end", width=110)

        def tag(_: Any) -> None:
            if self.edit.tag_release(name.value) is not None:
                name.value = ""

        button.on_click(tag)
        return pn.Column(
            pn.pane.HTML("<div class='thalia-subhead'>Label release</div>", margin=(8, 10, 0, 10)),
            pn.Row(name, button, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
            css_classes=["thalia-release"],
        )

    def _update_confirm(self) -> None:
        version = self.edit.pending_revert
        self._confirm.visible = bool(version)
        if version:
            self._confirm_text.object = (
                f"Reverting to <code>{escape(version[:8])}</code> drops your unsaved "
                "edits of this pair. Revert anyway?"
            )

    def _revert(self, version: str) -> None:
        """Revert the pair on screen to ``version`` (asks first when there are unsaved edits)."""
        self.edit.revert(version)

    def _update_save(self) -> None:
        e = self.edit
        self._save.disabled = not e.dirty
        self._save.label = "Save version" if e.author.strip() else "Save version (set your name)"

    def _update_conflict(self) -> None:
        conflict = self.edit.conflict
        self._conflict.visible = conflict is not None
        if conflict is not None:
            self._conflict_text.object = escape_markdown(
                conflict.text
            )  # a Markdown pane: names and messages are data

    def _update_history(self) -> None:
        pair = self.state.pair
        rows: list[Any] = []
        try:
            versions = self.edit.store.history(pair=pair)[:HISTORY_ROWS] if pair is not None else []
        except Exception as exc:  # the store went away: an empty history, and the user is told
            versions = []
            self.state.report(exc, f"reading the history of {pair}")
        for i, v in enumerate(versions):
            previous = versions[i + 1].id if i + 1 < len(versions) else ""
            buttons = []
            actions = [
                (
                    "Show",
                    f"Show version {v.short_id} on the map, read-only",
                    lambda _, vid=v.id: self.edit.show_version(vid),
                ),
                (
                    "Changes",
                    "Pixels this save added (green) and removed (red) on the map",
                    lambda _, a=previous, b=v.id: self.edit.compare(a or None, b),
                ),
            ]
            if self.edit.identity.can(Action.REVERT):
                actions.append(
                    (
                        "Revert",
                        f"A new version of this pair restoring {v.short_id}",
                        lambda _, vid=v.id: self.edit.revert(vid),
                    )
                )
            for name, tip, action in actions:
                button = pn.widgets.Button(
                    label=name, variant="outline", width=74, margin=(2, 2), description=tip
                )
                button.on_click(action)
                buttons.append(button)
            text = (
                f"<b>{escape(v.author)}</b> · {v.time:%Y-%m-%d %H:%M} UTC · <code>{escape(v.short_id)}</code><br>"
                f"{escape(v.message)}"
            )
            rows.append(
                pn.Column(
                    pn.pane.HTML(text, sizing_mode="stretch_width", margin=(2, 6)),
                    pn.Row(*buttons),
                    sizing_mode="stretch_width",
                    css_classes=["thalia-version"],
                )
            )
        options = {"source": ""} | {
            f"{v.short_id} · {v.author} · {v.time:%m-%d %H:%M}": v.id for v in versions
        }
        self._old.options, self._new.options = options, options
        if versions:  # default: what the latest save changed
            self._new.value = versions[0].id
            self._old.value = versions[1].id if len(versions) > 1 else ""
        self._compare.visible = bool(versions)
        if not rows:
            rows = [
                pn.pane.HTML(
                    "<span class='thalia-muted'>Never corrected: the masks are the source's.</span>",
                    margin=(2, 10),
                )
            ]
        self._history.objects = rows

    def _update_banner(self) -> None:
        e = self.edit
        if e.preview is not None:
            text = f"Showing version {escape_markdown(e.preview.version[:8])} read-only; your edits are kept."
        elif e.comparison is not None:
            text = escape_markdown(e.comparison.summary())  # a Markdown pane
        else:
            text = ""
        self._viewing.object = text
        self._banner.visible = bool(text)

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout


def role_html(edit: EditSession) -> str:
    """Who is signed in and what their role allows here (empty for the local single user with every right)."""
    who = edit.identity
    if not who.authenticated and who.can(Action.TRAIN):
        return ""
    role = escape(who.role.value)
    # a roles file without a login: every page has the default role
    name = f"<b>{escape(who.user or '')}</b>" if who.authenticated else "nobody (no login on this server)"
    if not who.can(Action.SAVE):
        return (
            f"<div class='thalia-muted'>Signed in as {name} ({role}): you can look at every version but "
            "not save, revert or tag. Ask an admin for the annotator role to correct labels.</div>"
        )
    allowed = [a.value for a in (Action.SAVE, Action.REVERT, Action.TAG) if who.can(a)]
    may = ", ".join(allowed[:-1]) + f" and {allowed[-1]}" if len(allowed) > 1 else allowed[0]
    return (
        f"<div class='thalia-muted'>Signed in as {name} ({role}): you may {may}. Every version "
        "records your login.</div>"
    )
