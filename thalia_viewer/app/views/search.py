"""The search panel: a catalogue query, its results (sortable, paged, counts per facet), the pair keys walking them.

Type a query (``activity:Dyke intensity:High year:2018``, ``sill "near the summit"``; the syntax is under
"Query syntax") and press Enter: the results list the matching pairs of every frame; a click on a row opens
the pair, and ``j`` / ``k`` (or the pair buttons) step through the results while a search is on. The query
is in the page's URL (``?q=...``), so a search can be shared; a URL with ``q`` and no pair opens the first result.
"""

from __future__ import annotations

import html
import urllib.parse
from collections.abc import Callable
from typing import Any, ClassVar, Final

import numpy as np
import pandas as pd
import panel as pn
import param
from panel.viewable import Viewer

from thalia_viewer.app import background
from thalia_viewer.app.session.search import URL_PARAMETER, prepare_catalog, search_session
from thalia_viewer.app.session.state import AppState
from thalia_viewer.core import schema
from thalia_viewer.core.catalog import BOTH_LABELS, UNLABELLED
from thalia_viewer.core.pairs import Pair
from thalia_viewer.core.query import help_text
from thalia_viewer.viz.elements import STATUS_COLORS, PairStatus

PLACEHOLDER: Final = (
    'e.g. activity:Dyke intensity:High year:2018   or   sill "near the summit" flag:turbulent'
)
#: Label names of the results table: short text and the dates matrix's colour.
LABEL_STYLE: Final = {
    schema.Label.DEFORMATION: ("deformation", STATUS_COLORS[PairStatus.DEFORMATION]),
    schema.Label.EARTHQUAKE: ("earthquake", STATUS_COLORS[PairStatus.EARTHQUAKE]),
    BOTH_LABELS: ("def. + eq.", STATUS_COLORS[PairStatus.DEFORMATION]),
    schema.Label.NON_DEFORMATION: ("none", STATUS_COLORS[PairStatus.NON_DEFORMATION]),
    UNLABELLED: ("unlabelled", STATUS_COLORS[PairStatus.UNLABELLED]),
}
FACETS_SHOWN: Final = 6  # values per facet in the compact panel
TABLE_STYLES: Final = """
.tabulator, .tabulator .tabulator-row .tabulator-cell, .tabulator .tabulator-header .tabulator-col { font-size: 12px !important; }
.tabulator .tabulator-row .tabulator-cell { padding: 3px 4px !important; }
.tabulator .tabulator-header .tabulator-col .tabulator-col-content { padding: 3px 4px !important; }
"""
STYLES: Final = """
.thalia-search-status { font-size: 12.5px; color: #1f2328; line-height: 1.4; }
.thalia-search-status .err { color: #b42318; }
.thalia-search-status code { font-size: 11.5px; background: #f6f8fa; padding: 0 3px; border-radius: 3px; }
.thalia-search-status kbd { border: 1px solid #afb8c1; border-bottom-width: 2px; border-radius: 4px; padding: 0 3px;
                            font: 11px ui-monospace, monospace; background: #fff; }
.thalia-facets { font-size: 12px; color: #1f2328; }
.thalia-facets summary, .thalia-query-help summary { cursor: pointer; color: #57606a; font-size: 12px; }
.thalia-facets .f { margin: 2px 0; line-height: 1.45; }
.thalia-facets .f b { color: #57606a; font-weight: 600; margin-right: 4px; }
.thalia-facets .v { white-space: nowrap; margin-right: 8px; }
.thalia-facets .n { color: #57606a; }
.thalia-query-help pre { font-size: 11px; white-space: pre-wrap; background: #f6f8fa; padding: 6px; border-radius: 4px; }
"""


#: Label names of the compact (sidebar) table.
LABEL_SHORT: Final = {
    schema.Label.DEFORMATION: "def.",
    schema.Label.EARTHQUAKE: "eq.",
    BOTH_LABELS: "def.+eq.",
    schema.Label.NON_DEFORMATION: "neg.",
    UNLABELLED: "—",
}


def label_html(label: str, short: bool = False) -> str:
    text, color = LABEL_STYLE.get(label, (label, "#cccccc"))
    shown = LABEL_SHORT.get(label, text) if short else text
    return f"<span style='color:{color};font-size:14px' title='{html.escape(text)}'>●</span> {html.escape(shown)}"


def results_frame(t: pd.DataFrame, wide: bool, query: str = "") -> pd.DataFrame:
    """What the results table shows of catalogue rows ``t`` (compact: frame, primary date + baseline, label)."""
    if t.empty:
        cols = (
            ["frame", "primary", "label"]
            if not wide
            else ["frame", "volcano", "primary", "secondary", "days", "label"]
        )
        return pd.DataFrame(columns=cols)
    out = pd.DataFrame(
        {
            "frame": t["frame"].astype(str).to_numpy(),
            "primary": t["primary"].dt.strftime("%Y-%m-%d").to_numpy(),
            "days": t["baseline"].to_numpy(),
            "label": [label_html(v, short=not wide) for v in t["label"].astype(str)],
        }
    )
    if not wide:
        out["primary"] = [f"{p} +{d} d" for p, d in zip(out["primary"], out["days"], strict=True)]
        return out.drop(columns="days")
    out.insert(1, "volcano", t["volcano"].astype(str).str.split(",").str[0].to_numpy())
    out.insert(3, "secondary", t["secondary"].dt.strftime("%Y-%m-%d").to_numpy())
    out["split"] = t["split"].astype(str).to_numpy()
    out["activity"] = t["activity"].to_numpy()
    out["intensity"] = t["intensity"].to_numpy()
    out["phase"] = t["phase"].astype(str).to_numpy()
    out["flags"] = [schema.flags_text(r) for _, r in t.iterrows()]
    out["confidence"] = t["confidence"].to_numpy()
    out["corrected by"] = t["corrected_by"].astype(object).fillna("").astype(str).to_numpy()
    if "model_iou" in t:
        out["model IoU"] = t["model_iou"].to_numpy()
        out["model px"] = t["model_pixels"].to_numpy()
        out["disagree"] = np.where(t["disagree"].to_numpy(), "yes", "")
    links = []
    for key, valid in zip(t["key"], t["valid"], strict=True):
        pair = Pair.parse(key)
        href = "?" + urllib.parse.urlencode(
            {
                "mode": "explore",
                "frame": pair.frame,
                "pair": pair.name,
                **({URL_PARAMETER: query} if query else {}),
            }
        )
        links.append(
            f"<a href='{html.escape(href, quote=True)}'>open ↗</a>"
            if valid
            else "<span title='not a valid pair'>—</span>"
        )
    out.insert(0, "open", links)  # first: the table may scroll sideways
    return out


def facets_html(facets: dict[str, dict[str, int]], limit: int | None) -> str:
    """Counts per facet as compact lines (``limit`` values each; ``None``: all)."""
    lines = []
    for name, counts in facets.items():
        if not counts:
            continue
        items = list(counts.items())
        shown = items if limit is None else items[:limit]
        more = f" <span class='n'>+{len(items) - len(shown)} more</span>" if len(shown) < len(items) else ""
        values = " ".join(
            f"<span class='v'>{html.escape(str(k))} <span class='n'>{v:,}</span></span>" for k, v in shown
        )
        lines.append(f"<div class='f'><b>{html.escape(name)}</b>{values}{more}</div>")
    return "".join(lines)


def url_query(session_args: dict[str, list[bytes]] | None) -> tuple[str, bool]:
    """The ``q`` of a page's URL and whether it names a pair too."""
    args = session_args or {}
    values = args.get(URL_PARAMETER) or [b""]
    return values[0].decode(errors="replace").strip(), bool(args.get("pair"))


class SearchPanel(Viewer):
    """Search every pair of the catalogue; a click on a result opens it, the pair keys step through the results."""

    view_type: ClassVar[str] = "search_panel"  # name in layouts/*.yaml
    section_title: ClassVar[str | None] = "Search the catalogue"

    state = param.ClassSelector(class_=AppState, doc="The session's state")
    wide = param.Boolean(
        default=False, doc="Every column, all facets and an 'open in explore' link (for the main area)"
    )
    page_size = param.Integer(default=10, bounds=(5, 200), doc="Result rows per page")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.session = s = search_session(self.state)
        self.input = pn.widgets.TextInput(
            value=s.query,
            placeholder=PLACEHOLDER,
            sizing_mode="stretch_width",
            margin=(5, 5),
            css_classes=["thalia-search-input"],
        )
        self._quiet = False
        self.input.param.watch(lambda e: None if self._quiet else self.submit(e.new), "value")
        search = pn.widgets.Button(label="Search", color="primary", width=72, margin=(5, 2))
        search.on_click(lambda _: self.submit(self.input.value_input or self.input.value))
        clear = pn.widgets.Button(label="✕", description="Clear the search", width=34, margin=(5, 5, 5, 2))
        clear.on_click(lambda _: self.submit(""))
        steps = pn.widgets.Checkbox.from_param(s.param.step_results, margin=(0, 10))
        self.status = pn.pane.HTML(
            "",
            sizing_mode="stretch_width",
            margin=(0, 10),
            css_classes=["thalia-search-status"],
            stylesheets=[STYLES],
        )
        self.table = pn.widgets.Tabulator(
            results_frame(pd.DataFrame(), self.wide),
            pagination="remote",
            page_size=self.page_size,
            disabled=True,
            selectable=1,
            show_index=False,
            sizing_mode="stretch_width",
            formatters={"label": {"type": "html"}, "open": {"type": "html"}},
            widths={} if self.wide else {"frame": 136, "primary": 118},
            stylesheets=[TABLE_STYLES],
            header_align="left",
            layout="fit_data_stretch",
            css_classes=["thalia-search-results"],
            margin=(4, 5),
            visible=False,
        )
        self.table.on_click(self._clicked)
        self.facets = pn.pane.HTML(
            "",
            sizing_mode="stretch_width",
            margin=(0, 10),
            css_classes=["thalia-facets"],
            stylesheets=[STYLES],
        )
        syntax = html.escape(help_text().replace("``", ""))
        self.help = pn.pane.HTML(
            f"<details class='thalia-query-help'><summary>Query syntax</summary><pre>{syntax}</pre></details>",
            sizing_mode="stretch_width",
            margin=(0, 10),
            stylesheets=[STYLES],
        )
        self._layout = pn.Column(
            pn.Row(self.input, search, clear, sizing_mode="stretch_width"),
            self.status,
            steps,
            self.table,
            self.facets,
            self.help,
            sizing_mode="stretch_width",
            css_classes=["thalia-search"],
        )
        s.param.watch(lambda *_: self._show(), ["revision"])
        s.param.watch(lambda *_: self._show_status(), ["step_results"])
        self.state.param.watch(lambda *_: self._highlight(), ["pair", "frame"])
        if s.query:
            self._show()
        else:
            self._show_status()
        query, has_pair = url_query(pn.state.session_args if self._served() else None)
        if query and query != s.query:
            self.submit(query, open_first=not has_pair, write_url=False)

    # ------------------------------------------------------------------------------------ actions
    @staticmethod
    def _served() -> bool:
        doc = pn.state.curdoc
        return doc is not None and doc.session_context is not None

    def submit(self, query: str, open_first: bool = False, write_url: bool = True) -> None:
        """Run ``query`` (at once when the catalogue is ready, else when it is built) and show its results."""
        query = (query or "").strip()
        if query != self.input.value:
            self._quiet = True  # show the query in the box without its watcher running it a second time
            try:
                self.input.value = query
            finally:
                self._quiet = False
        root = self.state.root
        if self.state.dataset is None or not root:
            return
        future = prepare_catalog(root)
        then: Callable[[], None] = lambda: self._after(query, open_first, write_url)  # noqa: E731
        if future.done() or not self._served():
            self.session.run(query)
            then()
            return
        self.status.object = (
            "<div class='thalia-search-status'><span class='thalia-muted'>Building the catalogue of this "
            "dataset (once per server)…</span></div>"
        )
        finish = background.in_session(lambda: (self.session.run(query), then()))
        background.submit(background.Lane.CATALOGUE, lambda: (future.result(), finish()))

    def _after(self, query: str, open_first: bool, write_url: bool) -> None:
        s = self.session
        if open_first and s.valid_results:
            self.state.go(s.valid_results[0])
        if write_url and not s.error:
            self._write_url(query)

    def _write_url(self, query: str) -> None:
        """Keep the search in the page's address (``?q=...``, written by the app's navigation)."""
        if self.state.address.get(URL_PARAMETER, "") != query:
            self.state.address = {**self.state.address, URL_PARAMETER: query}

    def _clicked(self, event: Any) -> None:
        self.session.open_row(int(event.row))

    def attach_review(self, review: Any) -> None:
        """Use the review mode's own run for ``model:`` / ``disagree:`` (its rows, as they come)."""

        def update(*_: Any) -> None:
            scores = {
                r.pair.key: {"tp": r.tp, "fp": r.fp, "fn": r.fn, "iou": r.iou, "f1": r.f1}
                for r in review.rows
            }
            self.session.set_review(scores)

        review.param.watch(update, "rows_revision")

    # --------------------------------------------------------------------------------------- display
    def _show(self) -> None:
        s = self.session
        if not s.active:
            self.table.visible = False
            self.table.value = results_frame(pd.DataFrame(), self.wide)
            self.facets.object = ""
            self._show_status()
            return
        self.table.value = results_frame(s.table(), self.wide, s.query)
        self.table.visible = True
        self.facets.object = (
            f"<div class='thalia-facets'><details {'open' if self.wide else ''}><summary>Counts per facet</summary>"
            f"{facets_html(s.facets(), None if self.wide else FACETS_SHOWN)}</details></div>"
        )
        self._show_status()
        self._highlight()

    def _show_status(self) -> None:
        s = self.session
        if s.error:
            self.status.object = (
                f"<div class='thalia-search-status'><span class='err'>{html.escape(s.error)}</span></div>"
            )
            return
        if not s.active:
            self.status.object = (
                "<div class='thalia-search-status'><span class='thalia-muted'>Every pair of every frame: "
                "type a query and press Enter (syntax below).</span></div>"
            )
            return
        n, frames = len(s.results), len({p.frame for p in s.results})
        total = len(s.catalog) if s.catalog is not None else 0
        keys = (
            " · <kbd>j</kbd> / <kbd>k</kbd> step through them" if s.step_results and s.valid_results else ""
        )
        unusable = len(s.results) - len(s.valid_results)
        note = f" · {unusable:,} not openable (unusable)" if unusable else ""
        self.status.object = (
            f"<div class='thalia-search-status'><b>{n:,}</b> pair{'s' if n != 1 else ''} in {frames} "
            f"frame{'s' if frames != 1 else ''} (of {total:,}) for <code>{html.escape(s.query)}</code> · "
            f"{s.millis:.1f} ms{note}{keys}</div>"
        )

    def _highlight(self) -> None:
        """Select the result row of the pair on screen (and turn to its page)."""
        s, cur = self.session, self.state.pair
        if not s.active or cur is None or not self.table.visible:
            return
        try:
            position = s.results.index(cur)
        except ValueError:
            if self.table.selection:
                self.table.selection = []
            return
        page = position // self.page_size + 1
        if self.table.page != page:
            self.table.page = page
        if self.table.selection != [position]:
            self.table.selection = [position]

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
