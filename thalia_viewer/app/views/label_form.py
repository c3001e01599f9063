"""The annotate mode's label form: every field of the pair's record, each limited to its valid values.

Flags, phase, crowd and label pick from the format's own values (``schema``); confidence is a 0-1 slider;
the per-pattern lists (activity types, intensity levels) are typed as comma-separated names and refused
unless every name is valid. Above the fields: how the record's patterns were placed on the pixels, and,
live, what a save will change in the record, field by field, with the reason (a stroke, a typed value); what
keeps it from being saved; notes (``core.record``). Nothing the person did not change is written.
"""

from __future__ import annotations

import html
from typing import Any, ClassVar, Final

import panel as pn
import param
from panel.viewable import Viewer

from thalia_viewer.app.messages import escape_markdown
from thalia_viewer.app.session.annotate import ACTIVITY_NAMES, EditSession
from thalia_viewer.app.session.state import AppState
from thalia_viewer.app.views.label_card import field_title
from thalia_viewer.core import schema
from thalia_viewer.core.record import RecordUpdate

LABELS: Final = [label.value for label in schema.Label]
PHASES: Final = [phase.value for phase in schema.Phase]
INTENSITY_NAMES: Final = [c.name for c in schema.INTENSITY_LEVELS if c.code]
LIST_FIELDS: Final = {"activity_type": ACTIVITY_NAMES, "intensity_level": INTENSITY_NAMES}
YES_NO: Final = {"no": 0, "yes": 1}


def parse_names(text: str, valid: list[str]) -> list[str]:
    """Comma-separated names -> list, each matched to ``valid`` case-insensitively; raises ``ValueError``
    naming the first unknown one."""
    lookup = {v.lower(): v for v in valid}
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [n for n in names if n.lower() not in lookup]
    if unknown:
        msg = f"{unknown[0]!r} is not one of {', '.join(valid)}"
        raise ValueError(msg)
    return [lookup[n.lower()] for n in names]


_VALUE_CHARS: Final = 90  # longer values (captions) are cut in the preview


def _value(value: Any) -> str:
    text = (
        "—"
        if value is None or value == []
        else ", ".join(map(str, value))
        if isinstance(value, list)
        else str(value)
    )
    return html.escape(text if len(text) <= _VALUE_CHARS else text[: _VALUE_CHARS - 1] + "…")


def changes_html(update: RecordUpdate | None, placement: str = "") -> str:
    """How the patterns were placed, what a save changes in the record (field, now, after, why), what keeps
    it from being saved and notes, as one HTML block."""
    parts = []
    if placement:
        parts.append(
            f"<div class='thalia-placement' style='font-size:12px;color:#555'><b>Patterns:</b> "
            f"{html.escape(placement)}</div>"
        )
    if update is None:
        return "".join(parts)
    if update.changes:
        rows = "".join(
            "<div style='margin:3px 0;padding:2px 6px;border-left:3px solid #2563eb;background:#f3f6fd'>"
            f"<div><b>{html.escape(field_title(c.field))}</b>"
            f"{f' <span style=color:#555>· {html.escape(c.why)}</span>' if c.why else ''}</div>"
            f"<div><span style='color:#777;text-decoration:line-through'>{_value(c.old)}</span> → <b>{_value(c.new)}</b></div>"
            "</div>"
            for c in update.changes
        )
        parts.append(
            f"<div class='thalia-record-changes' style='font-size:12px'><b>A save will change in the record:</b>{rows}</div>"
        )
    else:
        parts.append(
            "<div class='thalia-record-changes' style='font-size:12px'>"
            "A save changes nothing in the record.</div>"
        )
    for items, color, title in (
        (update.problems, "#b42318", "Not saved until fixed:"),
        (update.notes, "#9a6700", "Note:"),
    ):
        if items:
            lis = "".join(f"<li>{html.escape(t)}</li>" for t in items)
            parts.append(
                f"<div style='font-size:12px;color:{color}'><b>{title}</b><ul style='margin:2px 0;padding-left:18px'>{lis}</ul></div>"
            )
    return "".join(parts)


class LabelForm(Viewer):
    """Edit the label record of the pair on screen (saved with the masks by the save panel)."""

    view_type: ClassVar[str] = "label_form"  # name in layouts/*.yaml
    needs_edit: ClassVar[bool] = True
    section_title: ClassVar[str | None] = "Labels and caption"

    state = param.ClassSelector(class_=AppState, doc="The session's state")
    edit = param.ClassSelector(class_=EditSession, doc="The annotate session")
    width = param.Integer(default=340, bounds=(240, 800), doc="Form width, px")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._loading = False
        w = {"sizing_mode": "stretch_width", "margin": (2, 10)}
        self._widgets: dict[str, pn.widgets.Widget] = {
            "label": pn.widgets.MultiChoice(label="Label", options=LABELS, **w),
            "activity_type": pn.widgets.TextInput(
                label="Activity types (one per pattern)", placeholder=", ".join(ACTIVITY_NAMES[:3]), **w
            ),
            "intensity_level": pn.widgets.TextInput(
                label="Intensity levels (one per pattern)", placeholder="Low, Medium, High, None", **w
            ),
            "phase": pn.widgets.Select(label="Phase", options=PHASES, **w),
            "confidence": pn.widgets.FloatSlider(label="Confidence", start=0, end=1, step=0.05, **w),
            "is_crowd": pn.widgets.Select(label="Is crowd", options=YES_NO, **w),
            **{
                field: pn.widgets.Select(
                    label=field_title(field), options={v: k for k, v in names.items()}, **w
                )
                for field, names in schema.FLAG_FIELDS.items()
            },
            "caption": pn.widgets.TextAreaInput(label="Caption", auto_grow=True, rows=4, **w),
        }
        for field, widget in self._widgets.items():
            widget.param.watch(lambda event, f=field: self._changed(f, event.new), "value")
        self._derived = pn.pane.HTML("", sizing_mode="stretch_width", margin=(4, 10))
        self._error = pn.pane.Alert(
            "", alert_type="danger", visible=False, sizing_mode="stretch_width", margin=(2, 10)
        )
        self.edit.param.watch(lambda *_: self._load(), "record_revision")
        self.edit.param.watch(lambda *_: self._update_derived(), "revision")
        self.state.watch(lambda *_: self._load(), "pair", "the label form")
        order = [
            "label",
            "activity_type",
            "intensity_level",
            "phase",
            "confidence",
            "is_crowd",
            *schema.FLAG_FIELDS,
        ]
        self._layout = pn.Column(
            self._derived,
            self._error,
            *(self._widgets[f] for f in order),
            self._widgets["caption"],
            width=self.width,
            css_classes=["thalia-label-form"],
        )
        self._load()

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    # ------------------------------------------------------------------------------------- record
    def _load(self) -> None:
        """Show the record of the pair on screen (as edited in this session, else as stored)."""
        pair = self.state.pair
        record = (self.edit.record(pair) or self.state.record(pair) or {}) if pair is not None else {}
        self._loading = True
        try:
            for field, widget in self._widgets.items():
                widget.value = self._widget_value(field, widget, record.get(field))
        finally:
            self._loading = False
        self._error.visible = False
        self._update_derived()

    @staticmethod
    def _widget_value(field: str, widget: pn.widgets.Widget, value: Any) -> Any:
        if field in LIST_FIELDS:
            return ", ".join(str(v) for v in (value or []))
        if field == "label":
            return [v for v in (value or []) if v in LABELS]
        if field == "confidence":
            try:
                return min(max(float(value), 0.0), 1.0)
            except (TypeError, ValueError):
                return 0.0
        if field == "caption":
            return str(value or "")
        options = list(widget.options.values()) if isinstance(widget.options, dict) else list(widget.options)
        if field in schema.FLAG_FIELDS or field == "is_crowd":
            try:
                value = int(value)
            except (TypeError, ValueError):
                value = None
        return value if value in options else options[0]

    def _changed(self, field: str, value: Any) -> None:
        if self._loading:
            return
        if field in LIST_FIELDS:
            try:
                value = parse_names(str(value), LIST_FIELDS[field])
            except ValueError as exc:
                self._error.object = escape_markdown(
                    f"{field_title(field)}: {exc}. Not changed."
                )  # a Markdown pane
                self._error.visible = True
                return
        self._error.visible = False
        self.edit.set_field(field, value)
        self._update_derived()

    def _update_derived(self) -> None:
        """Refresh what a save will change (after every stroke and every typed value)."""
        if self.state.pair is None or self.edit.editor is None:
            self._derived.object = ""
            return
        self._derived.object = changes_html(self.edit.pending(), self.edit.placement_text())
