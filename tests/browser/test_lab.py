"""The lab server in a browser: nothing unsaved is lost on a reload; logins, roles and who saves.

- annotate without a login: a stroke is kept as a draft in the browser; leaving the page warns; after a
  reload the edit is back, with a notice, unsaved; the typed name is remembered;
- ``--basic-auth`` with a roles file: an annotator's saves carry the login even when the page's name box is
  changed from the console; a viewer's save panel offers no save (and screenshots of both panels).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.browser.conftest import VIEWPORT, served
from tests.browser.pages import (
    LOAD_TIMEOUT_MS,
    map_pixels,
    open_app,
    shows,
    wait_for_new_map,
    wait_stable,
    wait_until,
)
from tests.browser.test_annotate import current_pair, drag
from thalia_viewer.app.keeper import DRAFT_PREFIX
from thalia_viewer.core.annotations import STORE_ENV, AnnotationStore
from thalia_viewer.core.roles import ROLES_ENV

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "shots"
USERS = {"ana": "ana-pw", "vic": "vic-pw"}
ROLES = "default: viewer\nusers:\n  ana: annotator\n  vic: viewer\n"
DRAFTS = f"() => Object.keys(localStorage).filter(k => k.startsWith({json.dumps(DRAFT_PREFIX)})).length"


def test_unsaved_edits_survive_a_reload_with_a_notice(page, annotate_url):
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.type), d.accept()))
    open_app(page, annotate_url)
    name = page.get_by_label("Your name", exact=True)
    name.fill("Grace Hopper")
    name.press("Enter")
    wait_stable(page)
    pair = current_pair(page)
    before = map_pixels(page)
    drag(page, [(0.3, 0.35), (0.45, 0.4), (0.6, 0.45)])
    painted = wait_for_new_map(page, before)
    wait_until(lambda: page.evaluate(DRAFTS) > 0, "the browser to keep a draft of the stroke")
    page.reload(timeout=LOAD_TIMEOUT_MS)  # the page warns first (beforeunload), the test accepts
    assert "beforeunload" in dialogs
    page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0", timeout=LOAD_TIMEOUT_MS)
    open_app(page, page.url)
    assert current_pair(page) == pair
    wait_until(lambda: shows(page, "Restored your unsaved edits"), "the notice that the draft was restored")
    restored = map_pixels(page)
    assert restored.shape == painted.shape and float((restored != painted).any(axis=-1).mean()) < 0.02
    assert page.get_by_label("Your name", exact=True).input_value() == "Grace Hopper"  # remembered (no login)
    assert page.get_by_role("button", name="Save version", exact=True).is_enabled()  # restored as unsaved
    assert not page.console_errors


@pytest.fixture(scope="module")
def auth_url(tiny_root, tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """The app behind --basic-auth with a roles file (ana: annotator, vic: viewer); yields (URL, store)."""
    folder = tmp_path_factory.mktemp("auth")
    (folder / "users.json").write_text(json.dumps(USERS))
    (folder / "roles.yaml").write_text(ROLES)
    store = folder / "store"
    env = {STORE_ENV: str(store), ROLES_ENV: str(folder / "roles.yaml")}
    extra = ["--basic-auth", str(folder / "users.json"), "--cookie-secret", "thalia-test-secret"]
    with served(str(tiny_root), folder / "panel.log", env, extra) as url:
        yield url, store


def log_in(browser, url: str, user: str):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.console_errors = []  # type: ignore[attr-defined]
    page.on("console", lambda m: page.console_errors.append(m.text) if m.type == "error" else None)  # type: ignore[attr-defined]
    page.goto(url, timeout=LOAD_TIMEOUT_MS)
    page.locator("input[name=username]").fill(user)
    page.locator("input[name=password]").fill(USERS[user])
    page.locator("button[type=submit]").click()
    page.wait_for_url("**/main**", timeout=LOAD_TIMEOUT_MS)
    page.console_errors.clear()  # type: ignore[attr-defined]  # Panel's login page asks a CDN for its fonts
    return context, page


def test_an_annotators_save_carries_the_login_whatever_the_page_sends(browser, auth_url):
    url, store = auth_url
    context, page = log_in(browser, f"{url}?mode=annotate", "ana")
    try:
        open_app(page, f"{url}?mode=annotate")
        assert shows(page, "Signed in as") and shows(page, "ana (annotator)")
        box = page.get_by_label("Your name", exact=True)
        assert box.input_value() == "ana" and box.is_disabled()
        SHOTS.mkdir(exist_ok=True)
        page.locator(".thalia-section-save").first.screenshot(path=str(SHOTS / "save-panel-annotator.png"))
        # what a user could do from the console: set the name box's model to another login
        page.evaluate("""() => { for (const m of Bokeh.documents[0]._all_models.values()) {
                                   if (m.title === 'Your name') { m.disabled = false; m.value = 'vic'; } } }""")
        wait_stable(page)
        before = map_pixels(page)
        drag(page, [(0.3, 0.6), (0.5, 0.62), (0.65, 0.64)])
        wait_for_new_map(page, before)
        page.get_by_role("button", name="Save version", exact=True).click()
        pair = current_pair(page)
        wait_until(lambda: shows(page, f"Saved {pair.key} as version"), "the save to be confirmed")
        versions = AnnotationStore(store, create=False).history(pair=pair)
        assert versions and versions[0].author == "ana"
    finally:
        context.close()


def test_a_viewers_save_panel_offers_no_save(browser, auth_url):
    url, _ = auth_url
    context, page = log_in(browser, f"{url}?mode=annotate", "vic")
    try:
        open_app(page, f"{url}?mode=annotate")
        wait_until(lambda: shows(page, "not save, revert or tag"), "the viewer's note")
        assert page.get_by_role("button", name="Save version", exact=True).count() == 0
        assert page.get_by_role("button", name="Revert", exact=True).count() == 0
        SHOTS.mkdir(exist_ok=True)
        page.locator(".thalia-section-save").first.screenshot(path=str(SHOTS / "save-panel-viewer.png"))
        assert not page.console_errors
        rgb = map_pixels(page)
        assert len(np.unique(rgb.reshape(-1, 3), axis=0)) > 50  # the viewer still sees the map
    finally:
        context.close()
