"""The annotate mode's tool box: tool, brush radius, class, undo / redo / clear, and their shortcuts."""

from __future__ import annotations

from typing import Any, ClassVar, Final

import panel as pn
import param
from panel.viewable import Viewer

from thalia_viewer.app.messages import escape
from thalia_viewer.app.session.annotate import ACTIVITY_NAMES, TOOLS, VOLCANIC_LEVELS, EditSession
from thalia_viewer.app.session.state import AppState
from thalia_viewer.app.shortcuts import KeyboardShortcuts, Shortcut, dispatcher, help_html
from thalia_viewer.core import schema

RADIUS_STEP: Final = 2  # px per + / - press
#: Shortcuts of the annotate mode (the explore ones stay active too).
EDIT_SHORTCUTS: Final = (
    Shortcut(("b",), "brush", "tool_brush"),
    Shortcut(("e",), "eraser", "tool_eraser"),
    Shortcut(("l",), "lasso", "tool_lasso"),
    Shortcut(
        ("p",),
        "polygon (click vertices, drag them, Backspace removes the last, double-click closes, Escape drops)",
        "tool_polygon",
    ),
    Shortcut(("f",), "fill the region under a click", "tool_fill"),
    Shortcut(("h",), "pan / zoom", "tool_pan"),
    Shortcut(("+", "-"), "brush radius", "radius"),
    *(
        Shortcut((str(c.code),), f"class {c.name}", f"activity_{c.code}")
        for c in schema.ACTIVITY_TYPES
        if c.code
    ),
    Shortcut(("q", "w", "r"), "intensity Low, Medium, High", "intensity"),
    Shortcut(("z", "Ctrl+z"), "undo", "undo"),
    Shortcut(("y", "Ctrl+y", "Ctrl+Shift+z"), "redo", "redo"),
    Shortcut(("s",), "save", "save"),
)
INTENSITY_KEYS: Final = dict(zip(("q", "w", "r"), VOLCANIC_LEVELS, strict=True))


class EditTools(Viewer):
    """Pick the tool and the class it paints; undo, redo, clear."""

    view_type: ClassVar[str] = "edit_tools"  # name in layouts/*.yaml
    needs_edit: ClassVar[bool] = True  # shown only where an annotation store is open
    section_title: ClassVar[str | None] = "Mask tools"

    state = param.ClassSelector(class_=AppState, doc="The session's state")
    edit = param.ClassSelector(class_=EditSession, doc="The annotate session")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        e = self.edit
        undo = pn.widgets.Button(
            label="↶ Undo", description="Undo the last edit (z or Ctrl+Z)", sizing_mode="stretch_width"
        )
        redo = pn.widgets.Button(
            label="↷ Redo", description="Redo (y or Ctrl+Y)", sizing_mode="stretch_width"
        )
        clear = pn.widgets.Button(
            label="Clear",
            description="Remove every mask pixel of this pair (undoable)",
            color="danger",
            variant="outline",
            sizing_mode="stretch_width",
        )
        undo.on_click(lambda _: e.undo())
        redo.on_click(lambda _: e.redo())
        clear.on_click(lambda _: e.clear())
        self.keyboard = KeyboardShortcuts(
            on_key=self._on_key, keys=[k for s in EDIT_SHORTCUTS for k in s.keys], height=0, width=0, margin=0
        )
        self._status = pn.pane.HTML(
            "", sizing_mode="stretch_width", margin=(0, 10), css_classes=["thalia-muted"]
        )
        e.param.watch(lambda *_: self._update_status(), ["status", "dirty"])
        self._update_status()
        self._layout = pn.Column(
            pn.widgets.RadioButtonGroup.from_param(
                e.param.tool,
                label="",
                variant="outline",
                color="primary",
                sizing_mode="stretch_width",
                css_classes=["thalia-tools"],
            ),
            pn.widgets.IntSlider.from_param(e.param.radius, sizing_mode="stretch_width"),
            pn.widgets.Select.from_param(e.param.activity, sizing_mode="stretch_width"),
            pn.widgets.Select.from_param(e.param.intensity, sizing_mode="stretch_width"),
            pn.Row(undo, redo, clear, sizing_mode="stretch_width"),
            self._status,
            pn.Card(
                pn.pane.HTML(help_html(EDIT_SHORTCUTS), margin=(0, 6)),
                title="Shortcuts",
                collapsed=True,
                sizing_mode="stretch_width",
                margin=(4, 4),
            ),
            self.keyboard,
            sizing_mode="stretch_width",
        )

    def _update_status(self) -> None:
        e = self.edit
        state = "<b>unsaved edits</b>" if e.dirty else "no unsaved edits"
        self._status.object = f"{state}{' · ' + escape(e.status) if e.status else ''}"

    def _on_key(self, key: str) -> None:
        e = self.edit
        actions = {
            **{f"tool_{t}": (lambda t=t: setattr(e, "tool", t)) for t in TOOLS.values()},
            **{
                f"activity_{c.code}": (lambda c=c: setattr(e, "activity", c.name))
                for c in schema.ACTIVITY_TYPES
                if c.code
            },
            "undo": e.undo,
            "redo": e.redo,
            "save": e.save,
        }
        if key in ("+", "-"):
            e.radius = max(1, min(200, e.radius + (RADIUS_STEP if key == "+" else -RADIUS_STEP)))
        elif key in INTENSITY_KEYS:
            e.intensity = INTENSITY_KEYS[key]
        else:
            dispatcher(actions, EDIT_SHORTCUTS)(key)

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout


__all__ = ["ACTIVITY_NAMES", "EDIT_SHORTCUTS", "EditTools"]
