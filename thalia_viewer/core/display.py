"""How the library's objects show themselves in a notebook: the figure renderer hook and small HTML helpers.

The core never imports the rendering layer (an import contract); a pair's figure is drawn by a renderer
that a higher layer registers with :func:`register_renderer`. Importing :mod:`thalia_viewer` registers
:func:`thalia_viewer.viz.png.render_view` (imported on the first figure, so Datashader loads only then).
"""

from __future__ import annotations

import html
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from .errors import ThaliaError

if TYPE_CHECKING:  # this module stays light: ``import thalia_viewer`` imports it
    import xarray as xr


class Image(Protocol):
    """What a renderer returns: a PIL image (anything with ``save(fp, format=...)``, ``width``, ``height``)."""

    width: int
    height: int

    def save(self, fp: Any, format: str | None = None, **params: Any) -> None: ...


class Renderer(Protocol):
    """``render(arrays, keys, width=..., x_range=..., y_range=...)``: a figure of 2-D layers keyed by layer key
    (``schema.LAYERS``), one panel per non-class layer of ``keys``, class layers overlaid; ``width`` px per panel."""

    def __call__(
        self,
        arrays: Mapping[str, xr.DataArray],
        keys: Sequence[str],
        width: int = ...,
        x_range: tuple[float, float] | None = ...,
        y_range: tuple[float, float] | None = ...,
    ) -> Image: ...


class NoRendererError(ThaliaError, RuntimeError):
    """A figure was asked for, but no renderer is registered (the rendering layer is not installed)."""


_renderer: Renderer | None = None


def register_renderer(renderer: Renderer | None) -> Renderer | None:
    """Make ``renderer`` draw every figure of a pair (``None``: none); returns the one it replaces."""
    global _renderer
    previous, _renderer = _renderer, renderer
    return previous


def renderer() -> Renderer:
    """The registered renderer; :class:`NoRendererError` when there is none."""
    if _renderer is None:
        msg = "no figure renderer is registered, so a pair cannot be drawn."
        raise NoRendererError(msg, "Import thalia_viewer (it registers thalia_viewer.viz.png.render_view).")
    return _renderer


def png_bytes(image: Image) -> bytes:
    """``image`` encoded as PNG."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def facts_table(facts: Iterable[tuple[str, object]], css_class: str = "thalia-facts") -> str:
    """An HTML table of (name, value) rows; every text is escaped."""
    rows = "".join(
        f"<tr><th style='text-align:left;vertical-align:top;padding-right:1em;white-space:nowrap'>"
        f"{html.escape(str(k))}</th><td style='text-align:left'>{html.escape(str(v))}</td></tr>"
        for k, v in facts
    )
    return f"<table class='{html.escape(css_class)}'>{rows}</table>"


def grid_table(
    header: Sequence[str], rows: Iterable[Sequence[object]], css_class: str = "thalia-table"
) -> str:
    """An HTML table with a header row; every text is escaped."""
    head = "".join(f"<th style='text-align:left'>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td style='text-align:left'>{html.escape(str(c))}</td>" for c in row) + "</tr>"
        for row in rows
    )
    return (
        f"<table class='{html.escape(css_class)}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def date_range(dates: Sequence[str]) -> str:
    """``YYYY-MM-DD … YYYY-MM-DD`` of sorted ``YYYYMMDD`` dates (``""`` when there are none)."""
    if not dates:
        return ""
    first, last = (f"{d[:4]}-{d[4:6]}-{d[6:8]}" for d in (dates[0], dates[-1]))
    return first if first == last else f"{first} … {last}"


def error_html(exc: ThaliaError) -> str:
    """An error as a short escaped paragraph (shown instead of a figure that cannot be drawn)."""
    return f"<p style='color:#b42318'>{html.escape(str(exc))}</p>"
