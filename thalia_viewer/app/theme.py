"""The app's look: the CSS and the logo in ``assets/``, inlined so any ``panel serve`` finds them."""

from __future__ import annotations

import base64
from functools import cache
from typing import Final

from panel.io.resources import CDN_DIST
from panel.theme.fast import Fast

from thalia_viewer.resources import data_dir

#: Folder of the CSS and icons (``assets/`` at the repository root; package data ``thalia_viewer.assets``).
ASSETS_DIR: Final = data_dir("assets")
HEADER_BACKGROUND: Final = "#13283d"  # the logo's slate
ACCENT: Final = "#1f6feb"
APP_NAME: Final = "Thalia viewer"
FAVICON: Final = "logo-64.png"  # logo.svg as a PNG: see favicon()
#: URL route of ``assets/`` when the server publishes it (``thalia-viewer serve`` passes ``--static-dirs``).
STATIC_ROUTE: Final = "thalia-assets"


@cache
def css() -> str:
    """The app's stylesheet (``assets/thalia.css``), or ``""`` when the assets are not installed."""
    path = ASSETS_DIR / "thalia.css"
    return path.read_text(encoding="utf-8") if path.exists() else ""


@cache
def logo_uri() -> str:
    """``assets/logo.svg`` as a data URI (used for the header logo and the favicon)."""
    path = ASSETS_DIR / "logo.svg"
    if not path.exists():
        return ""
    return "data:image/svg+xml;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def favicon() -> str:
    """The favicon for Panel's template: ``assets/logo-64.png``'s path (Panel embeds a file as a data URI), or
    ``""`` when the assets are not installed (Panel's own icon).

    Chromium loads a page's favicon again after every change of its address, so after every pair step. From a
    URL, each of those loads (a request, its IPC, decoding) cost a page about 10 to 20 ms of CPU a step (its
    processes' CPU over 16 paced steps, with and without an icon); from a data URI it costs nearly nothing. A PNG,
    not ``logo.svg``: an SVG icon is parsed into a document each time. ``logo-64.png`` is ``logo.svg`` drawn by
    headless Chromium; ``tests/browser/test_favicon.py`` checks that they still agree.
    """
    path = ASSETS_DIR / FAVICON
    return str(path) if path.is_file() else ""


class OfflineFast(Fast):
    """Panel's Fast design without its web font (fonts.googleapis.com): labs often serve without internet.

    Relative resources resolve by class name, so the design script is named by its bundled path.
    """

    _resources = {  # noqa: RUF012  (same shape as the parent's)
        **Fast._resources,
        "font": {},
        "js_modules": {
            **Fast._resources["js_modules"],
            "fast-design": f"{CDN_DIST}bundled/fast/js/fast_design.js",
        },
    }
