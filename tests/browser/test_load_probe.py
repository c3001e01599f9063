"""The load benchmark's probe (``bench/bench_load.py``): what it times in a real page, on a served app.

The benchmark's figures are only as good as its probe: a step is timed in the page's own clock, from the
``keydown`` to the first frame painted after the address named the new pair, with one round trip a step.
"""

from __future__ import annotations

import asyncio
import math
import threading

import pytest

from bench.bench_load import MEASURES, one_session
from bench.common import CHROMIUM, FLAGS

pytestmark = pytest.mark.browser

STEPS = 3


def _session(url: str, scenario: str) -> dict[str, list]:
    """One benchmark session of ``STEPS`` steps, in a thread of its own (Playwright's sync browser of the
    other tests holds this thread's event loop)."""
    from playwright.async_api import async_playwright

    out: dict[str, list] = {m: [] for m in MEASURES} | {"errors": [], "page_ms": []}

    async def run() -> None:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
            try:
                await one_session(browser, url, "explore", STEPS, scenario, 0, out)
            finally:
                await browser.close()

    failure: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(run())
        except BaseException as exc:  # re-raised in the test's thread
            failure.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(300)
    assert not thread.is_alive(), "the benchmark session did not finish"
    if failure:
        raise failure[0]
    return out


def test_every_step_is_timed_in_the_page_from_the_key_to_the_frame_after_the_new_address(app_url):
    out = _session(app_url, "closed")
    assert out["errors"] == []
    assert len(out["load_s"]) == 1
    for measure in ("step_s", "driver_s", "url_s", "settled_s"):
        values = out[measure]
        assert len(values) == STEPS, (measure, values)
        assert all(v is not None and math.isfinite(v) and v >= 0 for v in values), (measure, values)
    for step, url, driver in zip(out["step_s"], out["url_s"], out["driver_s"], strict=True):
        assert url <= step, "the frame is painted after the address changed"
        assert 0 < step < driver + 0.05, "the page's own clock sees less than the driver's round trip"
    assert {name for name, _ in out["page_ms"]} >= {"TaskDuration", "ScriptDuration"}
