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
from panel.template.base import BaseTemplate
from panel.viewable import Viewable

from thalia_viewer.app import theme

#: Every Panel extension a view of any mode (layouts/*.yaml) needs; ``tabulator``: the review and search tables.
PANEL_EXTENSIONS: Final = ("tabulator",)


def load_extensions() -> None:
    """``pn.extension`` with every mode's extensions and the app's settings: at the top of a served page
    (``app/main.py``, any ``panel serve`` script) and in Jupyter before the app is shown (``tv.app``)."""
    pn.extension(
        *PANEL_EXTENSIONS,  # every mode's, for every session: a later session cannot load one lazily
        notifications=True,
        raw_css=[theme.css()],
        design=theme.OfflineFast,
        throttled=True,  # sliders report on release: re-rendering follows the hand, not every pixel of a drag
        disconnect_notification="Connection to the server lost: reload the page.",
    )


def needed_extensions(page: Viewable | BaseTemplate) -> set[str]:
    """Names of the Panel extensions whose Bokeh models ``page`` (a viewable or a template) renders to; it is
    rendered once into a throw-away document."""
    from bokeh.document import Document

    modules = {module: name for name, module in pn.extension._imports.items()}
    doc = Document()
    if isinstance(page, BaseTemplate):
        page.server_doc(doc)
        models = {m for root in doc.roots for m in root.references()}
    else:
        root = page.get_root(doc)
        models = set(root.references())
        page._cleanup(root)
    return {modules[m.__module__] for m in models if m.__module__ in modules}
