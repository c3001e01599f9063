"""The explore mode: an ``AppState``, the views its layout spec names, and the page template around them."""

from __future__ import annotations

import html
import urllib.parse
from collections.abc import Callable
from typing import Any, Final

import panel as pn
import param
from panel.io.location import Location
from panel.viewable import Viewer

from thalia_viewer.app import messages, theme
from thalia_viewer.app.data import open_dataset
from thalia_viewer.app.identity import identity_or_viewer
from thalia_viewer.app.keeper import BrowserKeeper
from thalia_viewer.app.later import later
from thalia_viewer.app.messages import NOTIFICATION_MS, Level, Message, escape, placeholder_html
from thalia_viewer.app.navigation import URL_PARAMETERS, Navigation, parse_query
from thalia_viewer.app.session.annotate import EditSession
from thalia_viewer.app.session.overlay import StoreOverlay, open_store, store_exists, store_writable
from thalia_viewer.app.session.predict import PredictSession
from thalia_viewer.app.session.review import ReviewSession
from thalia_viewer.app.session.state import AppState
from thalia_viewer.app.session.train import TrainSession
from thalia_viewer.app.spec import EDITING_MODES, MODES, LayoutSpec, load_spec
from thalia_viewer.app.views import VIEW_TYPES
from thalia_viewer.core.annotations import STORE_ENV, store_location
from thalia_viewer.core.dataset import ThaliaDataset

SIDEBAR_WIDTH: Final = 350  # px
AVAILABLE_MODES: Final = MODES
__all__ = [
    "NOTIFICATION_MS",
    "URL_PARAMETERS",
    "ExplorerApp",
    "create_app",
    "empty_state_html",
    "requested_mode",
]


def empty_state_html(root: str, message: Message | None) -> str:
    """What the main area shows when no dataset could be opened."""
    reason = html.escape(message.text) if message else "No dataset is open."
    return (
        "<div class='thalia-empty'><h2>No dataset to show</h2>"
        f"<p>{reason}</p>"
        f"<p class='thalia-muted'>Root: <code>{html.escape(root or '(none)')}</code></p>"
        "<p>Serve the app on a Thalia dataset root (a folder of <code>&lt;frame&gt;.zarr</code> stores with "
        "<code>annotations.json</code>): <code>thalia-viewer serve ROOT</code>, or generate a synthetic one "
        "with <code>thalia-viewer synth data/default</code>.</p></div>"
    )


class ExplorerApp(Viewer):
    """Browse a dataset: the views of a layout spec around one shared :class:`AppState`."""

    state = param.ClassSelector(class_=AppState, doc="The session's state")
    spec = param.ClassSelector(class_=LayoutSpec, doc="The validated layout spec")

    def __init__(
        self,
        root: str,
        spec: LayoutSpec | str = "explore",
        opener: Callable[[str], ThaliaDataset] = open_dataset,
        **params: Any,
    ) -> None:
        spec = spec if isinstance(spec, LayoutSpec) else load_spec(spec)
        d = spec.defaults
        state = AppState(
            root,
            opener=opener,
            layers=tuple(d.get("layers", ("phase",))),
            **{k: d[k] for k in ("masks", "mask_style", "mask_opacity", "relief") if k in d},
        )
        if "opacity" in d:
            state.set_layers([s.layer for s in state.slots if s.layer != "none"], d["opacity"])
        super().__init__(state=state, spec=spec, **params)
        self.identity, problem = identity_or_viewer()  # the login and its role: every write asks it
        if problem:
            state.notify(Level.ERROR, f"{problem} Until it is fixed you can only look.")
        self.views: dict[str, Viewer] = {}
        self.edit: EditSession | None = None
        self.predict: PredictSession | None = None
        self.review: ReviewSession | None = None
        self.train: TrainSession | None = None
        self.editing_off = ""  # why editing is off in an editing mode ("" when it is on)
        if state.dataset is not None:
            self._attach_store()
            # a session object only where a view of the layout uses it (a parameter of that name)
            wants = {p for v in spec.views.values() for p in VIEW_TYPES[v.type].param}
            self.review = self._session("review", lambda: ReviewSession(state)) if "review" in wants else None
            self.train = (
                self._session(
                    "train", lambda: TrainSession(state, on_new_model=self._new_model, identity=self.identity)
                )
                if "train" in wants
                else None
            )
            self.predict = (
                self._session("predict", lambda: PredictSession(state, edit=self.edit))
                if "predict" in wants
                else None
            )
            self.views = {n: self._view(v.type, v.options, n) for n, v in spec.views.items()}
            for view in self.views.values():  # views that use the review mode's run when there is one
                if self.review is not None and hasattr(view, "attach_review"):
                    view.attach_review(self.review)
        # drafts of unsaved edits, the leave-page warning and the remembered name live in the browser
        self.keeper = BrowserKeeper(self.edit) if self.edit is not None else None
        self.navigation = Navigation(state, spec.mode, review=self.review)

    def _session(self, name: str, make: Callable[[], Any]) -> Any:
        """A mode's session object, or ``None`` (reported) when it cannot start: its views say so."""
        try:
            return make()
        except Exception as exc:
            self.state.report(exc, f"starting the {name} tools")
            return None

    def _attach_store(self) -> None:
        """Show saved corrections over the source; in annotate mode, edit them (an :class:`EditSession`)."""
        state = self.state
        location = store_location(state.root)
        if location is None:
            if self.spec.mode in EDITING_MODES:
                self.editing_off = (
                    f"{state.root} is not a local folder: set {STORE_ENV} to where corrections are saved."
                )
                state.notify(Level.ERROR, self.editing_off)
            return
        if self.spec.mode not in EDITING_MODES and not store_exists(location):
            return  # nothing corrected yet: browse the source (and never create a store in a browsing mode)
        try:
            store = open_store(location, state.root)
            if self.spec.mode in EDITING_MODES:
                self.edit = EditSession(
                    state, store, identity=self.identity, reopen=lambda: open_store(location, state.root)
                )
                if not store_writable(location):  # a read-only root without a store: say so before any edit
                    state.notify(
                        Level.WARNING,
                        f"Corrections cannot be saved to {location} (not writable here). Serve "
                        f"with `thalia-viewer serve ROOT --store PATH` or set {STORE_ENV}=PATH to "
                        "save them elsewhere; your edits are kept in this browser meanwhile.",
                    )
            else:
                state.corrections = StoreOverlay(state, store)
        except Exception as exc:  # read-only root without a store, a store gone: browse the source, say why
            state.corrections = None
            self.edit = None
            self.editing_off = messages.describe(exc, f"opening the annotation store {location}")
            messages.log_unexpected(exc, "opening the annotation store")
            state.notify(Level.ERROR, self.editing_off + " The source cube is shown; corrections are not.")

    def _view(self, view_type: str, options: dict[str, Any], name: str = "") -> Viewer:
        """The view of a spec entry; a view that cannot be built is a placeholder saying why (the page stays)."""
        cls = VIEW_TYPES[view_type]
        sessions = {"predict": self.predict, "review": self.review, "train": self.train}
        missing = [s for s, obj in sessions.items() if s in cls.param and obj is None]
        if missing:
            return self._placeholder(f"The {missing[0]} tools could not start (see the notification).", name)
        if "overlays" in cls.param:
            options = {**options, "overlays": [o for o in (self.edit, self.predict) if o is not None]}
        options = {**options, **{s: obj for s, obj in sessions.items() if s in cls.param}}
        if "edit" in cls.param:
            if self.edit is None and getattr(cls, "needs_edit", False):
                why = self.editing_off or "no annotation store."
                return self._placeholder(f"Editing is off: {why}", name)
            options = {**options, "edit": self.edit}
        try:
            return cls(state=self.state, **options)
        except (
            Exception
        ) as exc:  # a damaged frame or pair that this view reads at once: the others still show
            self.state.report(exc, f"showing the {name or view_type} view")
            return self._placeholder(messages.describe(exc, f"the {name or view_type} view"), name)

    @staticmethod
    def _placeholder(text: str, name: str) -> Viewer:
        return pn.pane.HTML(
            placeholder_html(text),
            sizing_mode="stretch_width",  # type: ignore[return-value]
            css_classes=[f"thalia-placeholder-{name}"] if name else [],
        )

    def _new_model(self, name: str) -> None:
        """A fine-tune wrote ``name``: list it wherever this session picks models."""
        for session in (self.predict, self.review):
            if session is not None:
                session.refresh_models()

    # ------------------------------------------------------------------------------------ layout
    def _section(self, name: str, sidebar: bool) -> pn.viewable.Viewable:
        view = self.views[name]
        title = getattr(view, "section_title", None)
        if title is None:
            return view
        return pn.Card(
            view,
            title=title,
            collapsible=True,
            sizing_mode="stretch_width",
            margin=(4, 4) if sidebar else (6, 6),
            header_background="#eef2f6",
            css_classes=[f"thalia-section-{name}"],
        )

    def sidebar(self) -> list[pn.viewable.Viewable]:
        """The sidebar sections, top to bottom."""
        if not self.views:
            return []
        return [self._section(n, sidebar=True) for n in self.spec.sidebar]

    def main(self) -> list[pn.viewable.Viewable]:
        """The main area: the spec's rows (a nested list is a column)."""
        if not self.views:
            return [
                pn.pane.HTML(
                    empty_state_html(self.state.root, self.state.message), sizing_mode="stretch_width"
                )
            ]
        rows = []
        for row in self.spec.main:
            items = [
                pn.Column(*(self._section(n, False) for n in item), sizing_mode="stretch_width")
                if isinstance(item, list)
                else self._section(item, False)
                for item in row
            ]
            rows.append(items[0] if len(items) == 1 else pn.Row(*items, sizing_mode="stretch_width"))
        return rows

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Row(
            pn.Column(*self.sidebar(), width=SIDEBAR_WIDTH),
            pn.Column(*self.main(), sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )

    def template(self) -> pn.template.BaseTemplate:
        """The page: a FastListTemplate with the project's header, logo, favicon and stylesheet."""
        subtitle = f" · {self.spec.title}" if self.spec.title else ""
        return pn.template.FastListTemplate(
            title=f"{theme.APP_NAME}{subtitle}",
            sidebar=self.sidebar(),
            main=self.main(),
            logo=theme.logo_uri(),
            favicon=theme.favicon(),
            header_background=theme.HEADER_BACKGROUND,
            accent_base_color=theme.ACCENT,
            sidebar_width=SIDEBAR_WIDTH,
            main_layout=None,
            raw_css=[theme.css()],
            font_url="",
            meta_description=self.spec.description,
            theme_toggle=False,
            # Panel's busy indicator follows the whole process (every indicator of every session, kept for good):
            # each event of any session re-rendered every open page twice (measured: bench/bench_load.py)
            busy_indicator=None,
            design=theme.OfflineFast,
            header=[
                self._mode_links(),
                *self.navigation.components(),
                *([self.keeper] if self.keeper is not None else []),
            ],
        )

    def _mode_links(self) -> pn.pane.HTML:
        """Links to the other modes at the pair on screen (kept up to date as the pair changes)."""
        pane = pn.pane.HTML("", css_classes=["thalia-modes"], margin=(0, 20), align="center")

        def update(*_: Any) -> None:
            pair = self.state.pair
            where = {"frame": pair.frame, "pair": pair.name} if pair is not None else {}
            links = [
                f"<b>{m.capitalize()}</b>"
                if m == self.spec.mode
                else f"<a href='?{escape(urllib.parse.urlencode({'mode': m, **where}))}'>{m.capitalize()}</a>"
                for m in AVAILABLE_MODES
            ]
            who = self.identity.describe()
            user = (
                f"<span class='thalia-user'>{escape(who)} · <a href='logout'>sign out</a></span>"
                if who
                else ""
            )
            pane.object = " · ".join(links) + user

        # after the step's own patch (the map, the pickers, the address): app/later.py
        self.state.watch(lambda *_: later((pane, "links"), update), ["frame", "pair"], "the mode links")
        update()
        return pane

    # --------------------------------------------------------------------------------- serving
    def _notify(self, message: Message | None) -> None:
        messages.show(message, pn.state.notifications)

    def _read_url(self, location: Location | None = None) -> None:
        """Open the frame and pair of ``?frame=...&pair=P_S``; say so when ``mode=`` names no mode."""
        location = location or pn.state.location
        search = location.search if location else ""
        mode = parse_query(search).get("mode")
        if mode is not None and mode.strip().lower() not in AVAILABLE_MODES:
            self.state.notify(
                Level.ERROR,
                f"unknown mode {mode!r} in the URL (modes: {', '.join(AVAILABLE_MODES)}): "
                f"showing {self.spec.mode}.",
            )
        self.navigation.read(search)

    def _write_url(self, location: Location | None = None) -> None:
        """Put the frame and pair on screen in the URL (both, every time: a shared link reopens the view); each
        new pair is a history entry (Back returns to the previous one). ``location``: write there instead."""
        if self.state.dataset is None:
            return
        if location is not None:
            search = self.navigation.search(location.search)
            if location.search != search:
                location.search = search
            return
        self.navigation.write()

    def servable(self, title: str | None = None, **kwargs: Any) -> Viewer:  # type: ignore[override]
        """Serve the template (in ``panel serve``), or this viewer in a notebook."""
        if not in_server():
            return super().servable(title=title, **kwargs)
        pending = [self.state.message] if self.state.message is not None else []
        loaded = False

        def on_message(event: param.parameterized.Event) -> None:
            if loaded:
                self._notify(event.new)
            else:
                pending.append(event.new)

        def on_load() -> None:
            nonlocal loaded
            loaded = True
            for message in pending:
                self._notify(message)
            self._write_url()

        self.state.param.watch(on_message, "message")
        if self.state.dataset is not None and pn.state.location is not None:
            self._read_url()
            self.state.watch(lambda *_: self._write_url(), [*URL_PARAMETERS, "address"], "the address bar")
        pn.state.onload(on_load)
        self.template().servable(title=title or theme.APP_NAME)
        return self


def in_server() -> bool:
    """Whether this runs in a ``panel serve`` session (``pn.state.served`` only answers for the app script)."""
    doc = pn.state.curdoc
    return doc is not None and doc.session_context is not None


def create_app(root: str, spec: LayoutSpec | str = "explore") -> ExplorerApp:
    """The app of a dataset root in one mode (the dataset is opened once per process and shared)."""
    return ExplorerApp(root, spec)


def requested_mode(session_args: dict[str, list[bytes]] | None) -> str:
    """The mode a page asks for with ``?mode=annotate`` (default and unknown: explore)."""
    values = (session_args or {}).get("mode") or [b"explore"]
    mode = values[0].decode(errors="replace").strip().lower()
    return mode if mode in AVAILABLE_MODES else "explore"
