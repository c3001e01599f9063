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
import panel as pn
import param
from bokeh.models import FreehandDrawTool, PanTool

STROKE_COLOR: Final = "#111111"
POLYGON_COLOR: Final = "#0969da"
FREEHAND_TOOLS: Final = ("brush", "eraser", "lasso")


class MapDrawing(param.Parameterized):
    """Draw streams bound to one :class:`~thalia_viewer.app.annotate.EditSession`.

    Its elements go inside the map's own overlay (:meth:`elements`), not on top of it: an overlay of the
    map's ``DynamicMap`` with other elements would drop the map's plot options (toolbar, active tools, hooks).
    """

    vertices = param.List(default=[], doc="Map points of the polygon being clicked, (x, y) each")

    def __init__(self, edit: Any, **params: Any) -> None:
        super().__init__(**params)
        self.edit = edit
        self.stroke = hv.Path([], label="stroke").opts(color=STROKE_COLOR, line_width=2, alpha=0.8)
        self.freehand = hv.streams.FreehandDraw(source=self.stroke, num_objects=1)
        self.freehand.add_subscriber(self._on_stroke)
        self.tap = hv.streams.Tap(source=self.stroke, transient=True)
        self.double_tap = hv.streams.DoubleTap(source=self.stroke, transient=True)
        self.tap.add_subscriber(self._on_tap)
        self.double_tap.add_subscriber(self._on_double_tap)
        self._figure: Any = None
        edit.param.watch(lambda *_: self._activate(), "tool")
        edit.state.watch(lambda *_: self._reset_polygon(), "pair", "the polygon tool")

    def elements(self, vertices: list | None = None) -> list[hv.Element]:
        """What the map draws on top of its layers: the stroke being drawn and the polygon being clicked."""
        outline = hv.Path([list(vertices)] if vertices else [], label="outline").opts(
            color=POLYGON_COLOR, line_width=2, line_dash="dashed"
        )
        return [self.stroke, outline]

    # ------------------------------------------------------------------------------------ figure
    def attach(self, figure: Any) -> None:
        """Remember the map's figure and make the session's tool the active drag (from the plot hook, after
        every update: HoloViews resets the active drag to its ``active_tools`` on each one)."""
        self._figure = figure
        self._activate()

    def _activate(self) -> None:
        fig = self._figure
        if fig is None:
            return
        drawing = self.edit.tool in FREEHAND_TOOLS
        if drawing or isinstance(fig.toolbar.active_drag, FreehandDrawTool):  # else keep the user's zoom / pan
            tool_type = FreehandDrawTool if drawing else PanTool
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
        if xs and len(xs[-1]):
            after_event(lambda: self._stroke(list(xs[-1]), list(ys[-1])))

    def _stroke(self, xs: list[float], ys: list[float]) -> None:
        if self.edit.tool in FREEHAND_TOOLS:
            self.edit.stroke(xs, ys)
        self._clear_stroke()

    def _on_tap(self, x: float | None = None, y: float | None = None, **_: Any) -> None:
        if x is not None and y is not None:
            after_event(lambda: self._tap(x, y))

    def _tap(self, x: float, y: float) -> None:
        if self.edit.tool == "fill":
            self.edit.fill_at(x, y)
        elif self.edit.tool == "polygon":
            self.vertices = [*self.vertices, (x, y)]

    def _on_double_tap(self, x: float | None = None, y: float | None = None, **_: Any) -> None:
        if x is not None and y is not None:
            after_event(lambda: self._double_tap(x, y))

    def _double_tap(self, x: float, y: float) -> None:
        if self.edit.tool != "polygon":
            return
        points = [*self.vertices, (x, y)]
        self._reset_polygon()
        if len(points) >= 3:
            xs, ys = zip(*points, strict=True)
            self.edit.polygon(list(xs), list(ys))

    def _reset_polygon(self) -> None:
        if self.vertices:
            self.vertices = []


def after_event(callback: Any) -> None:
    """Run ``callback`` with the document locked, once the browser event being handled is done.

    Draw and tap streams call back outside Bokeh's document lock: changing the figure or the map's streams
    there fails (or is never sent), so the work goes to the next tick, through Panel so that the session's
    document is current. Outside a served session: at once.
    """
    doc = pn.state.curdoc
    if doc is not None and doc.session_context is not None:
        pn.state.execute(callback, schedule=True)
    else:
        callback()
