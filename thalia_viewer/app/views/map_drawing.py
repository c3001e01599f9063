"""The annotate mode's gestures on the map: freehand strokes, polygon clicks and fill clicks -> ``EditSession``.

- Brush, eraser, lasso: Bokeh's freehand draw tool; one stroke syncs to Python when the mouse is released
  (HoloViews ``FreehandDraw``), is rasterised at native resolution by the editor, and the drawn line is
  cleared: what stays is the edited mask, re-aggregated like any layer.
- Polygon: each click adds a vertex (drawn as a dashed line), a double click closes and fills it.
- Fill: a click flood-fills the region under it.

Which tool drags is set on the figure from Python when the session's tool changes, so the toolbar, the
buttons and the keyboard shortcuts stay one choice.
"""

from __future__ import annotations

from typing import Any, Final

import holoviews as hv
from bokeh.models import FreehandDrawTool, PanTool

STROKE_COLOR: Final = "#111111"
POLYGON_COLOR: Final = "#0969da"
FREEHAND_TOOLS: Final = ("brush", "eraser", "lasso")


class MapDrawing:
    """Draw streams bound to one :class:`~thalia_viewer.app.annotate.EditSession`."""

    def __init__(self, edit: Any) -> None:
        self.edit = edit
        self.stroke = hv.Path([]).opts(color=STROKE_COLOR, line_width=2, alpha=0.8)
        self.freehand = hv.streams.FreehandDraw(source=self.stroke, num_objects=1)
        self.freehand.add_subscriber(self._on_stroke)
        self._vertices: list[tuple[float, float]] = []
        self._outline = hv.streams.Pipe(data=[])
        self.outline = hv.DynamicMap(lambda data: hv.Path([data] if data else []), streams=[self._outline]).opts(
            hv.opts.Path(color=POLYGON_COLOR, line_width=2, line_dash="dashed")
        )
        self.tap = hv.streams.Tap(source=self.stroke, transient=True)
        self.double_tap = hv.streams.DoubleTap(source=self.stroke, transient=True)
        self.tap.add_subscriber(self._on_tap)
        self.double_tap.add_subscriber(self._on_double_tap)
        self._figure: Any = None
        edit.param.watch(lambda *_: self._activate(), "tool")
        edit.state.param.watch(lambda *_: self._reset_polygon(), "pair")

    def layers(self) -> hv.Overlay:
        """What the map overlays on its layers: the stroke being drawn and the polygon being clicked."""
        return self.stroke * self.outline

    # ------------------------------------------------------------------------------------ figure
    def attach(self, figure: Any) -> None:
        """Remember the map's figure (from a plot hook) and make the session's tool the active drag."""
        if figure is not self._figure:
            self._figure = figure
            self._activate()

    def _activate(self) -> None:
        fig = self._figure
        if fig is None:
            return
        tool_type = FreehandDrawTool if self.edit.tool in FREEHAND_TOOLS else PanTool
        tool = next((t for t in fig.toolbar.tools if isinstance(t, tool_type)), None)
        if tool is not None and fig.toolbar.active_drag is not tool:
            fig.toolbar.active_drag = tool
        if self.edit.tool != "polygon":
            self._reset_polygon()

    def _clear_stroke(self) -> None:
        fig = self._figure
        tool = next((t for t in fig.toolbar.tools if isinstance(t, FreehandDrawTool)), None) if fig else None
        for renderer in tool.renderers if tool is not None else []:
            source = renderer.data_source
            if any(len(v) for v in source.data.values()):
                source.data = {k: [] for k in source.data}

    # ---------------------------------------------------------------------------------- gestures
    def _on_stroke(self, data: dict | None = None, **_: Any) -> None:
        xs, ys = (data or {}).get("xs") or [], (data or {}).get("ys") or []
        if not xs or not len(xs[-1]):
            return
        if self.edit.tool in FREEHAND_TOOLS:
            self.edit.stroke(list(xs[-1]), list(ys[-1]))
        self._clear_stroke()

    def _on_tap(self, x: float | None = None, y: float | None = None, **_: Any) -> None:
        if x is None or y is None:
            return
        if self.edit.tool == "fill":
            self.edit.fill_at(x, y)
        elif self.edit.tool == "polygon":
            self._vertices.append((x, y))
            self._outline.send(list(self._vertices))

    def _on_double_tap(self, x: float | None = None, y: float | None = None, **_: Any) -> None:
        if self.edit.tool != "polygon" or x is None or y is None:
            return
        points = [*self._vertices, (x, y)]
        self._reset_polygon()
        if len(points) >= 3:
            xs, ys = zip(*points, strict=True)
            self.edit.polygon(list(xs), list(ys))

    def _reset_polygon(self) -> None:
        if self._vertices:
            self._vertices = []
            self._outline.send([])
