"""What each view of the page says is on screen, read from the browser; and a scan for injected markup.

Used by the navigation and hardening tests: after any sequence of steps, the address bar, the pickers, the
label card, the time-series strip and the dates matrix's marker must all name the same pair.
"""

from __future__ import annotations

import time
import urllib.parse
from typing import Any

import pytest

from tests.browser.conftest import IDLE
from tests.browser.pages import LOAD_TIMEOUT_MS, wait_stable
from thalia_viewer.core.pairs import Pair
from thalia_viewer.viz.elements import pretty_date

MARKER = "thalia-current-pair"  # app.views.dates_matrix.MARKER_NAME
CELLS = "thalia-matrix-cells"  # app.views.dates_matrix.CELLS_NAME
SETTLE_TIMEOUT_S = 120

_MARKER_JS = f"""() => {{
  const src = Bokeh.documents[0].get_model_by_name('{MARKER}');
  if (src == null) return null;
  const col = (name) => (src.data.get ? src.data.get(name) : src.data[name]);
  const p = col('primary'), s = col('secondary');
  return p.length ? String(p[0]) + ' ' + String(s[0]) : '';
}}"""

_CELL_JS = f"""(key) => {{
  const src = Bokeh.documents[0].get_model_by_name('{MARKER}');
  const cells = Bokeh.documents[0].get_model_by_name('{CELLS}');
  if (src == null || cells == null) return null;
  const col = (name) => (cells.data.get ? cells.data.get(name) : cells.data[name]);
  const i = Array.from(col('pair')).indexOf(key);
  if (i < 0) return null;
  const xf = col('x')[i], yf = col('y')[i];
  const pv = Bokeh.index.query_one((v) => Array.isArray(v.model.renderers) && v.frame != null
                                       && v.model.renderers.some((r) => r.data_source === src));
  if (pv == null) return null;
  pv.el.scrollIntoView({{block: 'center'}});
  const rect = pv.canvas_view.el.getBoundingClientRect();
  return [rect.left + pv.frame.x_scale.compute(xf), rect.top + pv.frame.y_scale.compute(yf)];
}}"""

#: Elements and attributes a payload would leave if some text reached the page as markup (shadow roots too).
_INJECTED_JS = """() => {
  const found = [];
  function walk(root) {
    for (const el of root.querySelectorAll('*')) {
      const tag = el.tagName.toLowerCase();
      if (tag === 'img' && (el.getAttribute('src') === 'x' || el.hasAttribute('onerror'))) found.push('img');
      if (tag === 'svg' && el.hasAttribute('onload')) found.push('svg[onload]');
      if (tag === 'iframe') found.push('iframe');
      if (tag === 'script' && /__pwned|alert\\(/.test(el.textContent)) found.push('script');
      if (tag === 'a' && /^\\s*javascript:/i.test(el.getAttribute('href') || '')) found.push('a[href=javascript:]');
      for (const a of el.attributes) {
        if (/^on/i.test(a.name) && /__pwned|alert/.test(a.value)) found.push(tag + '[' + a.name + ']');
      }
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  }
  walk(document);
  return {found: found, pwned: window.__pwned === undefined ? null : String(window.__pwned)};
}"""


def query(page: Any) -> dict[str, str]:
    """The page's query parameters as the browser has them now."""
    return dict(urllib.parse.parse_qsl(page.evaluate("() => window.location.search").lstrip("?")))


def views(page: Any) -> dict[str, str | None]:
    """The pair each view shows, as ``YYYY-MM-DD YYYY-MM-DD`` (primary, secondary); ``None``: view not found."""
    out: dict[str, str | None] = {}
    pair = query(page).get("pair", "")
    primary, _, secondary = pair.partition("_")
    try:
        out["url"] = f"{pretty_date(primary)} {pretty_date(secondary)}"
    except ValueError:
        out["url"] = pair
    pickers = page.locator(".thalia-section-navigator select")
    out["pickers"] = (
        f"{pickers.nth(1).input_value()[:10]} {pickers.nth(2).input_value()[:10]}"
        if pickers.count() >= 3
        else None
    )
    card = page.locator(".thalia-card-dates")
    out["card"] = card.first.inner_text().replace(" → ", " ").strip() if card.count() else None
    thumb = page.locator(".thumb.current")
    key = thumb.first.get_attribute("data-key") if thumb.count() else None
    out["strip"] = " ".join(pretty_date(d) for d in key.split("_")) if key else None
    out["marker"] = page.evaluate(_MARKER_JS)
    return out


def expected(pair: Pair) -> str:
    return f"{pretty_date(pair.primary)} {pretty_date(pair.secondary)}"


def wait_for_views(
    page: Any, pair: Pair, present: tuple[str, ...], timeout: float = SETTLE_TIMEOUT_S
) -> dict:
    """Wait until every view in ``present`` shows ``pair`` and the page is idle; fail with what each shows."""
    want = expected(pair)
    deadline = time.monotonic() + timeout
    seen: dict = {}
    while time.monotonic() < deadline:
        seen = views(page)
        if all(seen.get(v) == want for v in present) and page.evaluate(IDLE):
            time.sleep(0.5)  # nothing else on its way?
            seen = views(page)
            if all(seen.get(v) == want for v in present):
                return seen
        time.sleep(0.3)
    pytest.fail(f"the views do not agree on {want}: {seen}")


def click_matrix_cell(page: Any, pair: Pair) -> None:
    """Click the dates matrix's cell of ``pair`` (a real mouse click at the cell's centre)."""
    xy = page.evaluate(_CELL_JS, pair.name)
    assert xy is not None, "the dates matrix (with its marker) is not on the page"
    page.mouse.click(*xy)


def injected(page: Any) -> dict:
    """Elements and handlers a payload left in the page (``found``) and ``window.__pwned`` (``pwned``)."""
    return page.evaluate(_INJECTED_JS)


def open_page(page: Any, url: str) -> None:
    """Open ``url`` in any mode (review has no map): wait until the pickers are there and the page is idle."""
    page.goto(url, timeout=LOAD_TIMEOUT_MS)
    page.wait_for_function(IDLE, timeout=LOAD_TIMEOUT_MS)
    page.locator(".thalia-section-navigator select").first.wait_for(timeout=LOAD_TIMEOUT_MS)
    wait_stable(page)


def scroll_offsets(page: Any) -> int:
    """How far the page and its scrollable containers are scrolled, px (light DOM)."""
    return page.evaluate("""() => {
      let total = (document.scrollingElement || document.documentElement).scrollTop;
      for (const el of document.querySelectorAll('*')) { total += el.scrollTop || 0; }
      return total;
    }""")
