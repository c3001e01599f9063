"""The train mode in a browser: start a short fine-tune, watch it progress, find the new model in Predict."""

from __future__ import annotations

import pytest

from tests.browser.conftest import BROWSER_MODEL
from tests.browser.pages import open_app, shows, wait_stable, wait_until

pytestmark = pytest.mark.browser

NEW_MODEL = "browser-ft"


def set_number(page, label: str, value: int) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Enter")


def test_a_short_fine_tune_shows_progress_and_reaches_predict(page, annotate_url):
    open_app(page, annotate_url.replace("mode=annotate", "mode=train"))
    page.locator(f"select:has(option:text-is('{BROWSER_MODEL}'))").first.select_option(label=BROWSER_MODEL)
    name = page.get_by_label("New model name", exact=True)
    name.fill(NEW_MODEL)
    name.press("Enter")
    for label, value in (("Epochs", 1), ("Crop (px)", 64), ("Batch size", 2)):
        set_number(page, label, value)
    wait_stable(page)
    page.get_by_role("button", name="Start fine-tune", exact=True).click()
    wait_until(lambda: shows(page, "epoch 1/1"), "the run to report its first epoch", timeout=180)
    wait_until(lambda: shows(page, f"{NEW_MODEL} is in the zoo"), "the run to finish", timeout=600)
    listed = page.locator(f"select option:text-is('{NEW_MODEL}')")
    wait_until(lambda: listed.count() > 0, "Predict to list the new model")
    assert shows(page, "Before / after")
    assert not page.console_errors
