"""Every mode works as the second and third session of a running server, whatever mode opened first.

Each test starts its own server, opens the explore mode first (the first session of the process loads only
what explore needs), then the mode under test twice, and checks each page is complete: the mode's main
widgets are there, its plot is drawn (many colours, not a blank canvas) and the console has no error (a
Panel extension loaded lazily by the first session only gives ``ReferenceError: Tabulator is not defined``
and a page with only the header).
"""

from __future__ import annotations

import time

import pytest

from tests.browser.conftest import BROWSER_MODEL, IDLE, served
from tests.browser.pages import (
    LOAD_TIMEOUT_MS,
    MIN_PLOT_COLOURS,
    distinct_colours,
    element_pixels,
    shows,
    wait_stable,
)
from thalia_viewer.core.annotations import STORE_ENV
from thalia_viewer.ml.zoo import ZOO_ENV

pytestmark = pytest.mark.browser

#: mode -> (texts its page must show, CSS selector of the element holding its main plot)
MODES = {
    "explore": (("Wrapped phase", "Label card", "Time series", "Dates matrix"), ".thalia-map"),
    "annotate": (("Save version", "Brush", "History of this pair", "Labels"), ".thalia-map"),
    "review": (
        ("Run review", "Pairs ranked by disagreement", "Annotator | model", BROWSER_MODEL),
        ".thalia-section-sides",
    ),
    "train": (("Start fine-tune", "Loss and metrics", "Before / after"), ".thalia-map"),
}


def open_mode(browser, url: str, texts: tuple[str, ...], plot: str) -> list[str]:
    """Open ``url`` in a new context (a new session), check it is complete; returns its console errors."""
    context = browser.new_context(viewport={"width": 1500, "height": 1100})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(url, timeout=LOAD_TIMEOUT_MS)
        deadline = time.monotonic() + LOAD_TIMEOUT_MS / 1000
        while not page.evaluate(IDLE):  # idle, or an error that means it never will be
            assert not errors, (
                f"{url}: console errors while loading: {[e.splitlines()[0] for e in errors[:3]]}"
            )
            assert time.monotonic() < deadline, f"{url}: the page did not finish loading"
            page.wait_for_timeout(250)
        page.locator(f"{plot} canvas").first.wait_for(timeout=LOAD_TIMEOUT_MS)
        wait_stable(page)
        missing = [t for t in texts if not shows(page, t)]
        assert not missing, f"{url}: the page lacks {missing} (console: {errors[:3]})"
        colours = distinct_colours(element_pixels(page, plot))
        assert colours >= MIN_PLOT_COLOURS, f"{url}: the plot in {plot} looks blank ({colours} colours)"
    finally:
        context.close()
    return errors


@pytest.mark.parametrize("mode", list(MODES))
def test_a_mode_opened_as_second_and_third_session_is_complete(
    browser, mode, tiny_root, browser_zoo, tmp_path
):
    env = {STORE_ENV: str(tmp_path / "store"), ZOO_ENV: str(browser_zoo)}
    with served(str(tiny_root), tmp_path / "panel.log", env=env) as url:
        first = open_mode(browser, url, *MODES["explore"])
        assert not first, f"first session (explore): {first}"
        for n in (2, 3):
            errors = open_mode(browser, f"{url}?mode={mode}", *MODES[mode])
            assert not errors, f"session {n} ({mode}): console errors {errors}"


def test_a_multi_process_server_serves_every_page_from_itself(browser, tiny_root, browser_zoo, tmp_path):
    """Under ``--num-procs 2`` every stylesheet and script comes from the server, none from a CDN (an offline
    lab's pages were unstyled: Panel pointed some models' stylesheets at cdn.holoviz.org)."""
    env = {STORE_ENV: str(tmp_path / "store"), ZOO_ENV: str(browser_zoo)}
    with served(str(tiny_root), tmp_path / "panel.log", env=env, extra=["--num-procs", "2"]) as url:
        host = url.split("/main")[0]
        for mode in (
            "explore",
            "review",
            "explore",
            "annotate",
        ):  # several sessions: both processes serve some
            context = browser.new_context(viewport={"width": 1500, "height": 1100})
            page = context.new_page()
            elsewhere: list[str] = []
            page.on(
                "request",
                lambda r, seen=elsewhere: (
                    seen.append(r.url) if not r.url.startswith((host, "data:", "blob:")) else None
                ),
            )
            try:
                page.goto(f"{url}?mode={mode}", timeout=LOAD_TIMEOUT_MS)
                page.locator(".thalia-map canvas, .thalia-section-sides canvas").first.wait_for(
                    timeout=LOAD_TIMEOUT_MS
                )
                wait_stable(page)
            finally:
                context.close()
            assert not elsewhere, f"{mode}: requests outside the server: {sorted(set(elsewhere))[:5]}"
