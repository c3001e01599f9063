"""The Panel app: ``AppState`` (what is shown), views (``Viewer``s), the layout spec reader and ``serve``.

Served with ``panel serve thalia_viewer/app/main.py --args ROOT`` or ``thalia-viewer serve ROOT``. Nothing
outside ``thalia_viewer.app`` imports Panel.

This package is also callable, as ``thalia_viewer.app(root, mode="review")``: the app as a Panel viewable to
show in Jupyter or ``.servable()`` (:func:`thalia_viewer.app.embed.app`). The public name ``tv.app`` and this
subpackage are one attribute of ``thalia_viewer``, so the package itself takes the call; importing it
imports no Panel.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from thalia_viewer.app.explorer import ExplorerApp


class _CallablePackage(ModuleType):
    def __call__(self, root: Any, mode: str | None = None) -> ExplorerApp:
        """The app of dataset root ``root`` in ``mode`` (explore, annotate, review, train, stats; ``None``: the
        page's ``?mode=`` when served, else explore): :func:`thalia_viewer.app.embed.app`."""
        from thalia_viewer.app.embed import app

        return app(root, mode)


sys.modules[__name__].__class__ = _CallablePackage
