"""Frame and date pickers, pair stepping buttons, the keyboard shortcuts and their help."""

from __future__ import annotations

from typing import Any, ClassVar

import panel as pn
import param
from panel.viewable import Viewer

from thalia_viewer.app.messages import escape
from thalia_viewer.app.session.state import AppState
from thalia_viewer.app.shortcuts import DISPLAY_SHORTCUTS, KeyboardShortcuts, dispatcher, help_html
from thalia_viewer.viz.elements import MaskStyle, pretty_date


class Navigator(Viewer):
    """Pick a frame, a primary date and one of its secondary dates (only valid pairs are offered)."""

    view_type: ClassVar[str] = "navigator"  # name in layouts/*.yaml
    section_title: ClassVar[str | None] = "Pair"  # card title in the app (None: no card)

    state = param.ClassSelector(class_=AppState, doc="The session's state")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        s = self.state
        self._summary = pn.pane.HTML(
            "", sizing_mode="stretch_width", margin=(0, 10), css_classes=["thalia-summary"]
        )
        buttons = [
            ("◀ pair", "Previous pair (k or ←)", lambda _: s.step(-1)),
            ("pair ▶", "Next pair (j or →)", lambda _: s.step(1)),
            ("◀ primary", "Previous primary date ([)", lambda _: s.step_primary(-1)),
            ("primary ▶", "Next primary date (])", lambda _: s.step_primary(1)),
        ]
        row = []
        for label, tip, action in buttons:
            b = pn.widgets.Button(label=label, description=tip, sizing_mode="stretch_width", margin=(5, 3))
            b.on_click(action)
            row.append(b)
        self._layout = pn.Column(
            pn.widgets.Select.from_param(s.param.frame, label="Frame (volcano)", sizing_mode="stretch_width"),
            pn.widgets.Select.from_param(s.param.primary, sizing_mode="stretch_width"),
            pn.widgets.Select.from_param(s.param.secondary, sizing_mode="stretch_width"),
            pn.Row(*row[:2], sizing_mode="stretch_width"),
            pn.Row(*row[2:], sizing_mode="stretch_width"),
            self._summary,
            sizing_mode="stretch_width",
        )
        s.watch(lambda *_: self._update(), ["pair", "frame"], "the pair summary")
        self._update()

    def _update(self) -> None:
        s, cur = self.state, self.state.pair
        if cur is None:
            self._summary.object = "<span class='thalia-muted'>No pair selected.</span>"
            return
        pairs = s.pairs
        index = pairs.index(cur) + 1 if cur in pairs else 0
        split = cur.split.value if cur.split else "outside the benchmark splits"
        self._summary.object = (
            f"<b>{escape(pretty_date(cur.primary))} → {escape(pretty_date(cur.secondary))}</b><br>"
            f"{cur.baseline_days} days · pair {index} of {len(pairs)} · split <i>{escape(split)}</i>"
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout


class Shortcuts(Viewer):
    """The display shortcuts (listening on the whole page) and a card that documents every shortcut.

    The navigation keys (``j`` / ``k`` / ``[`` / ``]``) are the app's own, in every mode (``app.navigation``).
    """

    view_type: ClassVar[str] = "shortcuts"  # name in layouts/*.yaml
    section_title: ClassVar[str | None] = "Keyboard shortcuts"  # card title in the app (None: no card)

    state = param.ClassSelector(class_=AppState, doc="The session's state")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        s = self.state
        styles = [m.value for m in MaskStyle]

        def toggle_masks() -> None:
            s.masks = [] if s.masks else list(self._last_masks or ["deformation"])

        def cycle_style() -> None:
            s.mask_style = styles[(styles.index(s.mask_style) + 1) % len(styles)]

        self._last_masks = list(s.masks)
        s.param.watch(lambda e: setattr(self, "_last_masks", list(e.new)) if e.new else None, "masks")
        actions = {"toggle_masks": toggle_masks, "cycle_mask_style": cycle_style}
        self.keyboard = KeyboardShortcuts(
            on_key=s.guarded(dispatcher(actions, DISPLAY_SHORTCUTS), "the display shortcut"),
            keys=[k for sc in DISPLAY_SHORTCUTS for k in sc.keys],
            height=0,
            width=0,
            margin=0,
        )
        self._layout = pn.Column(
            pn.pane.HTML(help_html(), sizing_mode="stretch_width", margin=(0, 10)),
            self.keyboard,
            sizing_mode="stretch_width",
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
