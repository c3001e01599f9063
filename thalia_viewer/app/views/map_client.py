"""The map's browser side as a Panel ``JSComponent`` (``map_client.js``): image pool, layer shows, drawing.

The server sends images once (compact encodings of :mod:`thalia_viewer.viz.encode`), then tells which
image each renderer shows; the browser applies colour maps, opacity and visibility itself. The client
answers ``ready`` when mounted and ``missing`` for images its pool lost; drawing gestures arrive as
``stroke`` / ``polygon`` / ``fill`` messages (map coordinates) and go to ``on_gesture``.

The pool is first-in first-out by decoded bytes, on both sides: :class:`ClientPool` mirrors it here, so an
image is sent again only when the browser has dropped it (and ``missing`` covers any disagreement).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Final

import param
from panel.custom import JSComponent

from thalia_viewer.viz.encode import Encoded

#: Decoded bytes the browser's pool keeps (each image counted as ``Encoded.decoded_nbytes``).
POOL_BYTES: Final = 96_000_000


class ClientPool:
    """What the browser's image pool holds, as far as the server knows (same budget, same order)."""

    def __init__(self, budget: int = POOL_BYTES) -> None:
        self.budget = budget
        self._items: OrderedDict[str, int] = OrderedDict()
        self._bytes = 0

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def add(self, key: str, nbytes: int) -> None:
        if key in self._items:
            return
        self._items[key] = nbytes
        self._bytes += nbytes
        while self._bytes > self.budget and self._items:
            _, old = self._items.popitem(last=False)
            self._bytes -= old

    def discard(self, keys: Iterable[str]) -> None:
        for key in keys:
            nbytes = self._items.pop(key, None)
            if nbytes is not None:
                self._bytes -= nbytes

    def clear(self) -> None:
        self._items.clear()
        self._bytes = 0


def put_item(key: str, encoded: Encoded, bounds: tuple[float, float, float, float]) -> dict[str, Any]:
    """One image of a ``put`` message; ``bounds`` = (x0, y0, x1, y1) of the image's outer pixel edges."""
    x0, y0, x1, y1 = bounds
    return {
        "key": key,
        "kind": encoded.kind,
        "shape": list(encoded.shape),
        "data": encoded.data,
        "v0": encoded.v0,
        "v1": encoded.v1,
        "x": x0,
        "y": y0,
        "dw": x1 - x0,
        "dh": y1 - y0,
    }


class MapClient(JSComponent):
    """The browser side of one map figure (no visible element of its own)."""

    figure_id = param.String(default="", doc="Bokeh id of the map figure")
    pool_bytes = param.Integer(default=POOL_BYTES, doc="Decoded bytes of images the browser keeps")
    ids = param.Dict(
        default={}, doc="Renderer name -> Bokeh ids of its renderer, source, glyph and colour mapper"
    )
    palettes = param.Dict(default={}, doc="Colour map name -> colours, low to high")
    neighbours = param.Dict(
        default={},
        doc="Shows the browser holds the images of (next / previous pair, masks "
        "toggled) and which key leads to which",
    )
    brush = param.Dict(
        default={}, doc="Drawing tool, brush radius (data px), pixel size (data units), colour"
    )
    tool_keys = param.Dict(default={}, doc="Shortcut key -> drawing tool (the browser draws with it at once)")
    tool_labels = param.Dict(default={}, doc="Tool button label -> drawing tool, in the buttons' order")

    _esm = Path(__file__).with_name("map_client.js")

    def __init__(
        self,
        on_ready: Callable[[], None] | None = None,
        on_missing: Callable[[list[str]], None] | None = None,
        on_gesture: Callable[[dict], None] | None = None,
        **params: Any,
    ) -> None:
        super().__init__(**params)
        self.pool = ClientPool(self.pool_bytes)
        self.on_ready, self.on_missing, self.on_gesture = on_ready, on_missing, on_gesture
        self.sent: list[dict] = []  # the last messages, for tests and benchmarks (not sent anywhere)

    def send(self, msg: dict) -> None:
        """Send a message to the browser (dropped before the page is connected: ``ready`` then resends)."""
        self.sent = [*self.sent[-31:], msg]
        self._send_msg(msg)

    def _handle_msg(self, msg: Any) -> None:
        if not isinstance(msg, dict):
            return
        op = msg.get("op")
        if op == "ready":
            self.pool.clear()
            if self.on_ready is not None:
                self.on_ready()
        elif op == "missing":
            keys = [k for k in msg.get("keys", []) if isinstance(k, str)]
            self.pool.discard(keys)
            if self.on_missing is not None:
                self.on_missing(keys)
        elif op in ("stroke", "polygon", "fill") and self.on_gesture is not None:
            self.on_gesture(msg)
