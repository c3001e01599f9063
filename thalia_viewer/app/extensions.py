"""The Panel extensions the app's modes use, loaded by ``pn.extension`` for EVERY session.

Panel loads an extension's JavaScript (Tabulator, ...) into the page only if ``pn.extension`` named it when
the server process started serving, or lazily for the session that first builds such a widget: a later
session of another process state then gets ``ReferenceError: Tabulator is not defined`` and a blank page.
So the app names every extension any mode needs, whatever mode a process serves first.
:func:`needed_extensions` finds the extensions a built page actually uses (a test checks they are all here).
"""

from __future__ import annotations

from typing import Final

import panel as pn
from panel.viewable import Viewable

#: Every Panel extension a view of any mode (layouts/*.yaml) needs; ``tabulator``: the review table.
PANEL_EXTENSIONS: Final = ("tabulator",)


def needed_extensions(page: Viewable) -> set[str]:
    """Names of the Panel extensions whose Bokeh models ``page`` renders to (it is rendered once, offline)."""
    from bokeh.document import Document

    modules = {module: name for name, module in pn.extension._imports.items()}
    root = page.get_root(Document())
    try:
        return {modules[m.__module__] for m in root.references() if m.__module__ in modules}
    finally:
        page._cleanup(root)
