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
from panel.io.resources import LOCAL_DIST
from panel.template.base import BaseTemplate
from panel.viewable import Viewable

from thalia_viewer.app import theme
from thalia_viewer.app.panel_fixes import fix_write_queue

#: Every Panel extension a view of any mode (layouts/*.yaml) needs; ``tabulator``: the review and search tables.
PANEL_EXTENSIONS: Final = ("tabulator",)


def load_extensions() -> None:
    """``pn.extension`` with every mode's extensions and the app's settings: at the top of a served page
    (``app/main.py``, any ``panel serve`` script) and in Jupyter before the app is shown (``tv.app``)."""
    fix_write_queue()
    serve_local_stylesheets()
    pn.extension(
        *PANEL_EXTENSIONS,  # every mode's, for every session: a later session cannot load one lazily
        notifications=True,
        raw_css=[theme.css()],
        design=theme.OfflineFast,
        throttled=True,  # sliders report on release: re-rendering follows the hand, not every pixel of a drag
        disconnect_notification="Connection to the server lost: reload the page.",
    )


def serve_local_stylesheets() -> None:
    """Make the stylesheets of every model this session builds point at the server's own copies.

    Panel resolves a component's stylesheet URL from the session document's ``dist_url``, which it only sets
    when it renders the page, after the app is built; until then it falls back to cdn.holoviz.org and
    relies on patching the page's models afterwards. Under ``panel serve --num-procs N`` some of those models
    (the design's theme, Tabulator, font-awesome) reached the browser still pointing at the CDN, so an
    offline lab got unstyled pages. Setting ``dist_url`` first, as Panel itself will, avoids the detour.
    Outside a served session: nothing to do.
    """
    doc = pn.state.curdoc
    if doc is None or doc.session_context is None:
        return
    rel = pn.state.rel_path
    doc._template_variables.setdefault("dist_url", f"{rel}/{LOCAL_DIST}" if rel else LOCAL_DIST)


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
