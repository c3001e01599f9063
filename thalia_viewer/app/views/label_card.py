"""The pair's label card: label, activity types, intensity, phase, confidence, every flag, and the caption."""

from __future__ import annotations

import html
from typing import Any, ClassVar, Final

import panel as pn
import param
from panel.viewable import Viewer

from thalia_viewer.app.later import later
from thalia_viewer.app.messages import placeholder_html
from thalia_viewer.app.session.state import AppState
from thalia_viewer.core import schema
from thalia_viewer.core.pairs import Pair
from thalia_viewer.viz.elements import STATUS_COLORS, PairStatus, pair_status, pretty_date

#: Fields shown in the header of the card rather than in the table.
HEADER_FIELDS: Final = ("uniqueID", "frameID", "primary_date", "secondary_date", "label", "caption")
LIST_FIELDS: Final = ("activity_type", "intensity_level")


def field_title(field: str) -> str:
    """A record field as a readable title: ``atmospheric_fringes`` -> ``Atmospheric fringes``."""
    return field.replace("_", " ").replace("uniqueID", "unique ID").capitalize()


def _value_html(field: str, value: Any) -> tuple[str, bool]:
    """(HTML of a field's value, whether it deserves attention)."""
    if field in schema.FLAG_FIELDS:
        names = schema.FLAG_FIELDS[field]
        try:
            code = int(value)
        except (TypeError, ValueError):
            return html.escape(str(value)), True
        return html.escape(f"{names.get(code, f'unknown code {code}')}"), code != 0
    if field in LIST_FIELDS:
        items = [str(v) for v in (value or [])]
        return (html.escape(", ".join(items)) if items else "<span class='thalia-muted'>—</span>"), False
    if field == "confidence":
        try:
            c = float(value)
        except (TypeError, ValueError):
            return html.escape(str(value)), True
        bar = (
            f"<span class='thalia-bar'><span style='width:{max(0.0, min(c, 1.0)) * 100:.0f}%'></span></span>"
        )
        return f"{bar} {c:.2f}", c < 0.5
    if field == "is_crowd":
        return ("yes (several patterns)" if value else "no"), False
    return html.escape(str(value)), False


def card_html(pair: Pair, record: dict | None, valid: bool = True) -> str:
    """The label card of ``pair`` as HTML (all fields of ``schema.ANNOTATION_FIELDS`` with readable values)."""
    status = pair_status(record, valid)
    color = STATUS_COLORS[status]
    split = pair.split.value if pair.split else "no split"
    head = (
        f"<div class='thalia-card-head'><span class='thalia-badge' style='background:{color}'>"
        f"{html.escape(status.value.replace('_', ' '))}</span>"
        f"<span class='thalia-card-dates'>{pretty_date(pair.primary)} → {pretty_date(pair.secondary)}</span>"
        f"<span class='thalia-muted'>{pair.baseline_days} days · {split}</span></div>"
    )
    if record is None:
        return head + "<p class='thalia-muted'>No annotation record for this pair.</p>"
    labels = ", ".join(str(v).replace("_", " ") for v in record.get("label", [])) or "—"
    rows = [f"<tr><th>Label</th><td>{html.escape(labels)}</td></tr>"]
    for field in schema.ANNOTATION_FIELDS:
        if field in HEADER_FIELDS or field not in record:
            continue
        value, attention = _value_html(field, record[field])
        cls = " class='thalia-flag-on'" if attention else ""
        rows.append(f"<tr{cls}><th>{field_title(field)}</th><td>{value}</td></tr>")
    caption = (
        html.escape(str(record.get("caption", "") or "")) or "<span class='thalia-muted'>no caption</span>"
    )
    uid = html.escape(str(record.get("uniqueID", "?")))
    return (
        head + f"<p class='thalia-caption'>{caption}</p>"
        f"<table class='thalia-record'>{''.join(rows)}</table>"
        f"<div class='thalia-muted thalia-uid'>uniqueID {uid} · {html.escape(pair.key)}</div>"
    )


class LabelCard(Viewer):
    """The label card and caption of the pair on screen."""

    view_type: ClassVar[str] = "label_card"  # name in layouts/*.yaml
    section_title: ClassVar[str | None] = "Label card"  # card title in the app (None: no card)

    state = param.ClassSelector(class_=AppState, doc="The session's state")
    width = param.Integer(default=340, bounds=(200, 800), doc="Card width, px")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._pane = pn.pane.HTML("", width=self.width, css_classes=["thalia-label-card"], margin=(5, 10))
        update = self.state.guarded(self._update, "the label card")
        # after the step's own patch (the map, the pickers, the address): app/later.py
        self.state.watch(lambda *_: later((self, "card"), update), ["pair", "frame"], "the label card")
        self._update()

    def _update(self) -> None:
        pair = self.state.pair
        if pair is None:
            self._pane.object = "<p class='thalia-muted'>No pair selected.</p>"
            return
        record = self.state.record(pair)
        errors = getattr(self.state.dataset, "json_errors", [])
        problem = placeholder_html(f"Labels cannot be read: {errors[0]}") if record is None and errors else ""
        self._pane.object = problem + card_html(pair, record)

    def __panel__(self) -> pn.viewable.Viewable:
        return self._pane


__all__ = ["LabelCard", "PairStatus", "card_html"]
