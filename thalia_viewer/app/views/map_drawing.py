"""The annotate mode's gestures on the map: drawn live in the browser, rasterised by the server on release.

The browser side (``map_client.js``) draws while the user drags: the brush footprint under the cursor (an
ellipse of the brush's real radius in data pixels, whatever the zoom), the stroke at that width, the lasso's
path, the polygon's vertices (clicked, dragged and removed with Backspace until a double click closes
them; another pair on the map drops an unclosed polygon). On release it sends the gesture in map
coordinates; :meth:`MapDrawing.handle` hands it to the :class:`~thalia_viewer.app.session.annotate.EditSession`,
which rasterises it at native resolution into the masks; the map then shows the new mask and acknowledges
the gesture, and the browser drops its live drawing.

Which tool drags is set on the figure from Python when the session's tool changes: the drawing tools take
the drag (the map does not pan under the brush), pan and fill leave it to panning.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import numpy as np
import param
from bokeh.models import ColumnDataSource, Ellipse, MultiLine, PanTool, Scatter

from thalia_viewer.app.messages import Level
from thalia_viewer.app.session.annotate import TOOLS, Tool
from thalia_viewer.app.views.edit_tools import EDIT_SHORTCUTS
from thalia_viewer.core import schema

POLYGON_COLOR: Final = "#0969da"
CURSOR_COLOR: Final = "#1f2328"
LIVE_ALPHA: Final = 0.8  # the stroke being drawn, in the class colour, until the server's mask replaces it
EDGE_COLOR: Final = "#ffffff"  # around the live stroke and the brush footprint, as around the masks' regions
EDGE_ALPHA: Final = 0.9
CURSOR_FILL_ALPHA: Final = 0.3
FREEHAND_TOOLS: Final = (Tool.BRUSH, Tool.ERASER, Tool.LASSO)
DRAWING_TOOLS: Final = (*FREEHAND_TOOLS, Tool.POLYGON)  # tools that take the drag from panning


class MapDrawing(param.Parameterized):
    """Gestures from the map's browser side -> the :class:`~thalia_viewer.app.session.annotate.EditSession`."""

    def __init__(
        self,
        edit: Any,
        client: Any = None,
        figure: Any = None,
        on_done: Callable[[int], None] | None = None,
        on_start: Callable[[int], None] | None = None,
        **params: Any,
    ) -> None:
        super().__init__(**params)
        self.edit, self.client, self.figure = edit, client, figure
        self.on_start, self.on_done = on_start, on_done  # called with a gesture's seq before / after the edit
        edit.param.watch(
            edit.state.guarded(lambda *_: self.sync_brush(), "the brush"), ["tool", "radius", "activity"]
        )
        if client is not None:  # the browser switches tools on these at once (the server follows)
            client.param.update(
                tool_labels={label: tool.value for label, tool in TOOLS.items()},
                tool_keys={
                    k: s.action.removeprefix("tool_")
                    for s in EDIT_SHORTCUTS
                    if s.action.startswith("tool_")
                    for k in s.keys
                },
            )
        self.sync_brush()

    @staticmethod
    def renderers(fig: Any) -> dict[str, dict[str, str | None]]:
        """Add the drawing renderers to a map figure; their Bokeh ids by name (the browser fills them)."""
        live = ColumnDataSource({"xs": [], "ys": []})
        lasso = ColumnDataSource({"xs": [], "ys": []})
        polygon = ColumnDataSource({"x": [], "y": []})
        cursor = ColumnDataSource({"x": [], "y": [], "w": [], "h": []})
        r_edge = fig.add_glyph(
            live,
            MultiLine(
                xs="xs",
                ys="ys",
                line_color=EDGE_COLOR,
                line_alpha=EDGE_ALPHA,
                line_width=4,
                line_cap="round",
                line_join="round",
            ),
        )
        r_live = fig.add_glyph(
            live,
            MultiLine(
                xs="xs",
                ys="ys",
                line_color=CURSOR_COLOR,
                line_alpha=LIVE_ALPHA,
                line_width=2,
                line_cap="round",
                line_join="round",
            ),
        )
        r_lasso = fig.add_glyph(
            lasso, MultiLine(xs="xs", ys="ys", line_color=CURSOR_COLOR, line_width=2, line_dash="dashed")
        )
        fig.line(x="x", y="y", source=polygon, line_color=POLYGON_COLOR, line_width=2, line_dash="dashed")
        r_vertices = fig.add_glyph(
            polygon, Scatter(x="x", y="y", size=9, fill_color="white", line_color=POLYGON_COLOR, line_width=2)
        )
        r_cursor = fig.add_glyph(
            cursor,
            Ellipse(
                x="x",
                y="y",
                width="w",
                height="h",
                fill_color=CURSOR_COLOR,
                fill_alpha=CURSOR_FILL_ALPHA,
                line_color=EDGE_COLOR,
                line_width=1.5,
            ),
        )
        return {
            name: {"renderer": r.id, "source": r.data_source.id, "glyph": r.glyph.id, "mapper": None}
            for name, r in (
                ("live", r_live),
                ("live_edge", r_edge),
                ("lasso", r_lasso),
                ("polygon", r_vertices),
                ("cursor", r_cursor),
            )
        }

    # ------------------------------------------------------------------------------------ browser
    def brush_state(self) -> dict[str, Any]:
        """What the browser draws with: the tool, the brush radius (data px), a pixel's size (map units),
        the class colour."""
        frame = self.edit.state.frame_obj
        dx = dy = 1.0
        if frame is not None:
            xs, ys = frame.x, frame.y
            dx = abs(float(xs[-1] - xs[0])) / max(len(xs) - 1, 1) or 1.0
            dy = abs(float(ys[-1] - ys[0])) / max(len(ys) - 1, 1) or 1.0
        color = schema.class_by_name(schema.ACTIVITY_TYPES, self.edit.activity).color[:7]
        return {
            "tool": str(self.edit.tool),
            "radius": float(self.edit.radius),
            "dx": dx,
            "dy": dy,
            "color": color,
        }

    def sync_brush(self) -> None:
        """Tell the browser the tool and brush; give the drag to drawing or to panning."""
        if self.client is not None:
            self.client.brush = self.brush_state()
        fig = self.figure
        if fig is None:
            return
        pan = next((t for t in fig.toolbar.tools if isinstance(t, PanTool)), None)
        active = None if self.edit.tool in DRAWING_TOOLS else pan
        if fig.toolbar.active_drag is not active:
            fig.toolbar.active_drag = active

    # ----------------------------------------------------------------------------------- gestures
    def handle(self, msg: dict) -> None:
        """One gesture from the browser: ``stroke`` (brush, eraser or lasso path), ``polygon`` (closed by a
        double click) or ``fill`` (a click), in map coordinates; acknowledged by its ``seq``."""
        op, edit = msg.get("op"), self.edit
        seq = msg.get("seq")
        if self.on_start is not None and isinstance(seq, int):
            self.on_start(seq)  # the mask the edit draws replaces this gesture's live drawing
        try:
            if op == "stroke" and msg.get("tool") == edit.tool and edit.tool in FREEHAND_TOOLS:
                xs, ys = _coords(msg)
                if xs.size:
                    edit.stroke(xs, ys)
            elif op == "polygon" and edit.tool == Tool.POLYGON:
                xs, ys = _coords(msg)
                if xs.size >= 3:
                    edit.polygon(xs, ys)
            elif op == "fill" and edit.tool == Tool.FILL:
                edit.fill_at(float(msg["x"]), float(msg["y"]))
        except (KeyError, TypeError, ValueError):
            edit.state.notify(
                Level.WARNING, f"a {op} gesture from the browser could not be read; draw it again."
            )
        finally:
            if self.on_done is not None and isinstance(seq, int):
                self.on_done(seq)


def _coords(msg: dict) -> tuple[np.ndarray, np.ndarray]:
    xs = np.asarray(msg.get("xs") or [], dtype=np.float64)
    ys = np.asarray(msg.get("ys") or [], dtype=np.float64)
    if xs.shape != ys.shape:
        msg_ = f"{xs.size} x but {ys.size} y coordinates"
        raise ValueError(msg_)
    keep = np.isfinite(xs) & np.isfinite(ys)
    return xs[keep], ys[keep]
