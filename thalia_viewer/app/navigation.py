"""One navigation in every mode: the pair keys, and the browser's address bar and Back / Forward buttons.

- Keys: ``j`` / ``k`` (or the arrows) step pairs, ``[`` / ``]`` primary dates, in explore, annotate, review
  and train alike (review steps along its ranked table while it has rows), whatever the mode's layout.
- Address: ``?frame=...&pair=P_S`` (plus ``mode``, what views keep there through ``AppState.address``, such
  as the search's ``q``, and anything else the URL carried) follows the pair on screen. Every pair change pushes a history entry, so Back / Forward move between the visited pairs;
  the page's first address is replaced, not pushed. A Back / Forward comes to Python, which shows that pair.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from typing import Any, Final

import param
from panel.custom import JSComponent

from thalia_viewer.app.later import batched
from thalia_viewer.app.messages import Level
from thalia_viewer.app.session.state import AppState
from thalia_viewer.app.shortcuts import NAVIGATION_SHORTCUTS, KeyboardShortcuts, dispatcher
from thalia_viewer.core.errors import ThaliaError
from thalia_viewer.core.pairs import Pair

URL_PARAMETERS: Final = {"frame": "frame", "pair": "pair"}  # AppState parameter -> query parameter
MODE_PARAMETER: Final = "mode"


def parse_query(search: str) -> dict[str, str]:
    """``?a=1&b=2`` -> ``{"a": "1", "b": "2"}`` (read raw: Panel's own parser turns ``P_S`` into a number)."""
    return dict(urllib.parse.parse_qsl((search or "").lstrip("?"), keep_blank_values=True))


def query_string(query: dict[str, str]) -> str:
    """``{"a": "1"}`` -> ``?a=1`` (every value percent-encoded)."""
    return "?" + urllib.parse.urlencode(query)


class BrowserHistory(JSComponent):
    """The page's address (``search``, set from Python) and its Back / Forward (sent to Python).

    A new ``search`` pushes a history entry (the first one replaces the page's address). A Back / Forward
    sends ``{"search": ..., "seq": n}``; Python answers with ``ack = n`` before it moves, so addresses it
    computed before it saw that Back are never pushed over the one the user went back to.
    """

    search = param.String(default="", doc="Query string the address bar shows, with its '?'")
    ack = param.Integer(default=0, doc="The last Back / Forward the server has handled")

    _esm = """
    export function render({ model }) {
      let pops = 0;
      let first = true;
      function apply() {
        const want = model.search;
        if (!want || model.ack < pops) { return; }  // a newer Back / Forward is on its way to the server
        if (want !== window.location.search) {
          const url = window.location.pathname + want + window.location.hash;
          if (first) { window.history.replaceState(window.history.state, '', url); }
          else { window.history.pushState({thalia: true}, '', url); }
        }
        first = false;
      }
      function popped() {
        pops += 1;
        model.send_msg({search: window.location.search, seq: pops});
      }
      window.addEventListener('popstate', popped);
      model.on('search', apply);
      model.on('remove', () => window.removeEventListener('popstate', popped));
      apply();
      const el = document.createElement('span');
      el.className = 'thalia-history';
      return el;
    }
    """

    def __init__(self, on_pop: Callable[[str], None] | None = None, **params: Any) -> None:
        super().__init__(**params)
        self.on_pop = on_pop  # called with the query string the browser went back / forward to

    def _handle_msg(self, msg: Any) -> None:
        if not isinstance(msg, dict) or not isinstance(msg.get("search"), str):
            return
        try:
            self.ack = max(self.ack, int(msg.get("seq", 0)))
        except (TypeError, ValueError):
            return
        if self.on_pop is not None:
            self.on_pop(msg["search"])


class Navigation:
    """The app's pair keys and address bar for one session (``review``: step along its table)."""

    def __init__(self, state: AppState, mode: str, review: Any = None) -> None:
        self.state = state
        self.mode = mode
        self.review = review
        s = state
        actions = {
            "next_pair": lambda: self.step(1),
            "previous_pair": lambda: self.step(-1),
            "next_primary": lambda: s.step_primary(1),
            "previous_primary": lambda: s.step_primary(-1),
        }
        # one patch for the step's own updates (the rest follows on the next tick: app/later.py)
        on_key = batched(s.guarded(dispatcher(actions, NAVIGATION_SHORTCUTS), "the step to another pair"))
        keys = [k for sc in NAVIGATION_SHORTCUTS for k in sc.keys]
        self.keys = KeyboardShortcuts(on_key=on_key, keys=keys, height=0, width=0, margin=0)
        self.history = BrowserHistory(
            on_pop=batched(s.guarded(self.read, "going back to a visited pair")), height=0, width=0, margin=0
        )
        self._query: dict[str, str] = {}  # what the page's URL carried besides frame and pair

    def step(self, n: int) -> None:
        """Next (``n`` > 0) or previous pair: along review's ranked table while it has rows, else the frame's."""
        review = self.review
        if review is not None and getattr(review, "rows", None) and review.step(n):
            return
        self.state.step(n)

    # ------------------------------------------------------------------------------------ address
    def read(self, search: str) -> None:
        """Show the frame and pair of a query string (the page's URL, or where Back / Forward went)."""
        query = parse_query(search)
        self._query = {k: v for k, v in query.items() if k not in URL_PARAMETERS.values()}
        updates = {p: query[q] for p, q in URL_PARAMETERS.items() if query.get(q)}
        dataset = self.state.dataset
        # a frame that is not there, or cannot be opened, is refused before it is set (a frame refused after
        # it was set would stay in the frame picker: the picker hears of the change after the state undid it)
        if "frame" in updates and dataset is not None and updates["frame"] not in dataset.frames:
            self.state.notify(
                Level.ERROR,
                f"no frame {updates.pop('frame')!r} in {dataset.root} "
                f"(frames: {', '.join(dataset.frames)}): showing {self.state.frame}.",
            )
        elif "frame" in updates and self.state.open_frame(updates["frame"]) is None:  # reported by open_frame
            updates.pop("frame")
        if "pair" in updates:  # P_S of the frame asked for (or the one on screen)
            try:
                updates["pair"] = Pair.parse(updates["pair"], frame=updates.get("frame", self.state.frame))
            except (ThaliaError, ValueError) as exc:
                self.state.notify(Level.ERROR, str(exc))
                updates.pop("pair")
        if updates:
            self.state.param.update(**updates)

    def search(self, base: str | None = None) -> str:
        """The query string of the view on screen: the URL's other parameters, the mode, the frame and pair."""
        query = parse_query(base) if base is not None else dict(self._query)
        if MODE_PARAMETER in query or self.mode != "explore":
            query[MODE_PARAMETER] = self.mode  # an unknown mode in the URL is replaced by the one shown
        for name, value in self.state.address.items():  # what views keep there (the search)
            if value:
                query[name] = str(value)
            else:
                query.pop(name, None)
        pair = self.state.pair
        query.update(
            {
                URL_PARAMETERS["frame"]: str(self.state.frame or ""),
                URL_PARAMETERS["pair"]: pair.name if pair is not None else "",
            }
        )
        return query_string(query)

    def write(self) -> None:
        """Put the view on screen in the address bar (a new history entry when it changed)."""
        if self.state.dataset is None:
            return
        search = self.search()
        if self.history.search != search:
            self.history.search = search

    def components(self) -> list[Any]:
        """What the page must hold for the keys and the address bar to work (both invisible)."""
        return [self.keys, self.history]
