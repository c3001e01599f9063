"""``AppState``: what one session shows (dataset, frame, pair, layers, overlays) and how it moves.

Plain ``param`` (no widgets): views build their widgets with ``from_param`` and watch these parameters,
tests drive it without a browser. The URL syncs ``frame`` and ``pair`` (``?frame=...&pair=P_S``, through
:mod:`thalia_viewer.app.navigation`). Where to go next is :mod:`thalia_viewer.core.navigation`'s answer.

Invariants, kept by :meth:`AppState.go`: ``primary`` offers the primary dates of ``frame`` that have a valid
pair, ``secondary`` only the secondary dates of ``primary`` that form a valid pair, and ``pair`` is the valid
:class:`~thalia_viewer.core.pairs.Pair` of those dates (or ``None`` when there is none). Errors never raise out of a
parameter change: they become a :class:`Message` on ``message`` (the app shows it as a notification).

One change per step: :meth:`AppState.go` sets frame, dates and pair in one batch, so every view is told
once, after all of them are set; views watch through :meth:`AppState.watch`, so one view that fails (a
damaged pair, a bug) reports and leaves the others to follow the step.
"""

from __future__ import annotations

import itertools
import operator
import time
from collections.abc import Callable
from typing import Any, Final, Protocol

import param
import xarray as xr

from thalia_viewer.app.messages import Level, Message, describe, log_unexpected
from thalia_viewer.core import navigation, schema
from thalia_viewer.core.dataset import ThaliaDataset
from thalia_viewer.core.errors import DatasetNotFoundError, PairNotFoundError, ThaliaError
from thalia_viewer.core.frame import Frame
from thalia_viewer.core.pairs import Pair, pair_key
from thalia_viewer.viz.elements import MaskStyle, PairStatus, pair_status, pretty_date

NONE: Final = "none"  # an unused layer slot
#: Layers a slot can show (continuous and cyclic), in the order of ``schema.LAYERS``.
VALUE_LAYERS: Final = tuple(k for k, lyr in schema.LAYERS.items() if lyr.kind is not schema.LayerKind.CLASSES)
#: Class layers that can be overlaid (deformation, activity type, intensity).
MASK_LAYERS: Final = tuple(k for k, lyr in schema.LAYERS.items() if lyr.kind is schema.LayerKind.CLASSES)
MAX_LAYERS: Final = 3  # layer slots, bottom first; more than three stacked rasters is unreadable
POSITIVE_MARK: Final = "●"  # marks positive pairs in date lists
RESYNC_PRECEDENCE: Final = 100  # after every other watcher (views, widget links)
REPEAT_S: Final = 2.0  # the same message again within this time is not shown twice (one failure, many views)

# an equal pair set again is no change (param compares unknown types as always different)
param.parameterized.Comparator.equalities.setdefault(Pair, operator.eq)


class Corrections(Protocol):
    """Where corrected masks and records come from before the source cube (the annotation store, the editor).

    Each method answers ``None`` for a pair it does not hold."""

    def mask_layer(self, pair: Pair, key: str) -> xr.DataArray | None:
        """Mask layer ``key`` of ``pair`` as corrected."""

    def record(self, pair: Pair) -> dict | None:
        """The label record of ``pair`` as corrected."""

    def version(self, pair: Pair) -> Any:
        """What the corrected masks of ``pair`` depend on (equal versions, equal masks)."""


def _layer_names(keys: tuple[str, ...], none: bool) -> dict[str, str]:
    names = {"—": NONE} if none else {}
    names.update({schema.LAYERS[k].title: k for k in keys})
    return names


class LayerSlot(param.Parameterized):
    """One raster of the layer stack: which layer and how opaque (slot 0 is the bottom)."""

    layer = param.Selector(
        default=NONE, objects=_layer_names(VALUE_LAYERS, none=True), doc="Layer shown in this slot"
    )
    opacity = param.Number(
        default=1.0, bounds=(0.0, 1.0), step=0.05, doc="Opacity, 0 transparent to 1 opaque"
    )


class AppState(param.Parameterized):
    """The dataset, frame, pair and display choices of one session."""

    root = param.String(default="", constant=True, doc="Dataset root: a folder or an fsspec URL")
    frame = param.Selector(default=None, objects=[], check_on_set=False, doc="Frame (volcano) id")
    primary = param.Selector(
        default=None,
        objects=[],
        check_on_set=False,
        label="Primary date",
        doc="Primary acquisition date, YYYYMMDD",
    )
    secondary = param.Selector(
        default=None,
        objects=[],
        check_on_set=False,
        label="Secondary date",
        doc="Secondary acquisition date, YYYYMMDD (only those that form a valid pair)",
    )
    pair = param.ClassSelector(
        class_=Pair, default=None, allow_None=True, doc="The pair on screen; None when there is none"
    )
    slots = param.List(default=[], item_type=LayerSlot, doc="Layer stack, bottom first")
    masks = param.ListSelector(
        default=["deformation"],
        objects=list(MASK_LAYERS),
        label="Mask overlays",
        doc="Class masks drawn over the layers",
    )
    mask_style = param.Selector(
        default=MaskStyle.BOTH.value,
        objects=[s.value for s in MaskStyle],
        label="Mask style",
        doc="Fill the labelled regions, outline them, or both",
    )
    mask_opacity = param.Number(
        default=0.35,
        bounds=(0.0, 1.0),
        step=0.05,
        label="Mask fill opacity",
        doc="Opacity of the mask fill (outlines stay opaque)",
    )
    relief = param.Boolean(
        default=False, label="Hillshade relief", doc="Shade the DEM's relief over the bottom layer"
    )
    message = param.ClassSelector(class_=Message, default=None, doc="The latest notification for the user")
    address = param.Dict(
        default={},
        doc="Parameters views keep in the page's address besides frame, pair and mode "
        "(the search's 'q'); '' removes one",
    )
    corrections = param.Parameter(
        default=None,
        allow_None=True,
        doc="Corrected masks and records shown over the source (a Corrections: the annotation store's "
        "saved versions, or the annotate mode's edits); None: the source cube only",
    )
    walk = param.Callable(
        default=None,
        allow_None=True,
        doc="The pairs step() walks, across frames, when it returns a non-empty list (the results of a "
        "search); None, or an empty list: the frame's pairs",
    )

    def __init__(
        self,
        root: str = "",
        opener: Callable[[str], ThaliaDataset] = ThaliaDataset,
        layers: tuple[str, ...] = ("phase",),
        **params: Any,
    ) -> None:
        slots = [LayerSlot(name=f"slot{i}") for i in range(MAX_LAYERS)]
        slots[0].param.layer.objects = _layer_names(VALUE_LAYERS, none=False)
        slots[0].layer = VALUE_LAYERS[0]
        super().__init__(root=root, slots=slots, **params)
        self._serial = itertools.count(1)
        self._recent: dict[tuple[str, str], float] = {}  # (level, text) -> when it was last posted
        self._moving = False
        self.dataset: ThaliaDataset | None = None
        self.set_layers(layers)
        if root:
            try:
                self.dataset = opener(root)
                frames = self.dataset.frames
            except Exception as exc:  # a missing root, an unreadable folder: an empty app that says why
                self.dataset = None
                self.report(exc, f"opening the dataset root {root}")
            else:
                self.param.frame.objects = list(frames)  # a copy: Selector appends unknown values to it
                for error in getattr(
                    self.dataset, "json_errors", []
                ):  # the app's dataset browses without them
                    self.notify(
                        Level.ERROR, f"{error} Until then labels are not shown; the cubes can be browsed."
                    )
                if not frames:
                    self.notify(Level.ERROR, f"dataset root {self.dataset.root} holds no <frame>.zarr store.")
                # the first frame that opens (a damaged store is reported and skipped)
                for frame_id in frames:
                    if self.go_frame(frame_id):
                        break
        else:
            self.notify(
                Level.ERROR,
                "no dataset root given: serve with `thalia-viewer serve ROOT` or set THALIA_ROOT.",
            )
        self.param.watch(self._on_frame, "frame")
        self.param.watch(self._on_dates, ["primary", "secondary"])
        self.param.watch(self._on_pair, "pair")
        self.param.watch(self._resync, ["frame", "pair"], precedence=RESYNC_PRECEDENCE)

    # ----------------------------------------------------------------------------------- messages
    def notify(self, level: Level | str, text: str) -> None:
        """Post a message for the user (``error``, ``warning`` or ``info``): plain text, escaped where shown.

        The same message posted again within ``REPEAT_S`` (several views meeting one damaged pair) is shown once.
        """
        level = Level(level)  # an unknown level raises here, naming the valid ones
        now, key = time.monotonic(), (level, str(text))
        if now - self._recent.get(key, -REPEAT_S) < REPEAT_S:
            return
        self._recent = {k: t for k, t in self._recent.items() if now - t < REPEAT_S}
        self._recent[key] = now
        self.message = Message(level, str(text), next(self._serial))

    def report(self, exc: BaseException, doing: str = "", level: Level | str = Level.ERROR) -> None:
        """Tell the user that ``doing`` failed with ``exc`` (the traceback of an unexpected one goes to the log)."""
        log_unexpected(exc, doing)
        self.notify(level, describe(exc, doing))

    def guarded(self, fn: Callable[..., Any], where: str) -> Callable[..., Any]:
        """``fn`` that reports its errors instead of raising them (``where``: the part of the page it updates)."""

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                pair = self.pair
                self.report(exc, f"{where} of {pair}" if pair is not None else where)
                return None

        return call

    def watch(self, fn: Callable[..., Any], names: str | list[str], where: str) -> Any:
        """Watch parameters of the state like ``state.param.watch``; an error of ``fn`` becomes a notification
        naming ``where`` (e.g. "the label card"), and the other views still follow the change."""
        return self.param.watch(self.guarded(fn, where), names)

    # ------------------------------------------------------------------------------------- lookup
    @property
    def frame_obj(self) -> Frame | None:
        """The open frame on screen, or ``None``."""
        if self.dataset is None or not self.frame:
            return None
        return self.open_frame(self.frame)

    def open_frame(self, frame_id: str) -> Frame | None:
        """Frame ``frame_id``, or ``None`` when it cannot be opened (reported: a damaged store never raises here)."""
        if self.dataset is None:
            return None
        try:
            return self.dataset.frame(frame_id)
        except Exception as exc:
            self.report(exc, f"opening frame {frame_id}")
            return None

    @property
    def pairs(self) -> list[Pair]:
        """Valid pairs of the frame on screen, sorted by (primary, secondary)."""
        return self._pairs_of(self.frame_obj)

    def _pairs_of(self, frame: Frame | None) -> list[Pair]:
        if frame is None:
            return []
        try:
            return frame.pairs
        except Exception as exc:  # the pair list comes from the cells when there is no JSON: a read
            self.report(exc, f"listing the pairs of frame {frame.frame_id}")
            return []

    def record(self, pair: Pair | None = None) -> dict | None:
        """The annotation record of ``pair`` (default: the pair on screen)."""
        pair = pair or self.pair
        frame = self.frame_obj
        if frame is None or pair is None:
            return None
        corrected = None
        if self.corrections is not None:
            try:
                corrected = self.corrections.record(pair)
            except Exception as exc:  # the store went away: say so, show the source's record
                self.report(exc, f"reading the corrected labels of {pair} (showing the source's)")
        return corrected if corrected is not None else frame.annotation(pair)

    def status(self, pair: Pair) -> PairStatus:
        """Matrix status of a valid pair of the frame on screen."""
        return pair_status(self.record(pair), valid=True)

    def layer(self, key: str, pair: Pair | None = None) -> xr.DataArray:
        """Layer ``key`` of ``pair`` (default: on screen): a lazy 2-D array in display units (raises ``ThaliaError``)."""
        frame, pair = self.frame_obj, pair or self.pair
        if frame is None or pair is None:
            msg = "no pair is selected."
            raise PairNotFoundError(msg, "Pick a frame and a pair.")
        if (
            pair.frame != frame.frame_id and self.dataset is not None
        ):  # a prefetch that outlived a frame switch
            frame = self.dataset.frame(pair.frame)
        if self.corrections is not None and schema.layer(key).kind is schema.LayerKind.CLASSES:
            try:
                corrected = self.corrections.mask_layer(pair, key)
            except Exception as exc:  # the store went away: say so, show the source's mask
                self.report(exc, f"reading the corrected {key} mask of {pair} (showing the source's)")
                corrected = None
            if corrected is not None:
                return corrected
        return frame.layer(pair, key)

    def layer_identity(self, key: str, pair: Pair | None = None) -> tuple | None:
        """What layer ``key`` of ``pair`` (default: on screen) depends on: equal identities, equal arrays."""
        frame, pair = self.frame_obj, pair or self.pair
        if frame is None or pair is None or key == NONE:
            return None
        spec = schema.layer(key)
        names = (
            [schema.era5_variable(spec.variable, d) for d in schema.DATE_DIMS]
            if spec.delta
            else [spec.variable]
        )
        dims = {str(d) for n in names if n in frame.ds.data_vars for d in frame.ds[n].dims}
        dates = tuple(
            v for d, v in ((schema.PRIMARY, pair.primary), (schema.SECONDARY, pair.secondary)) if d in dims
        )
        if spec.kind is schema.LayerKind.CLASSES and self.corrections is not None:
            dates += (self.corrections.version(pair),)
        return (self.root, self.frame, spec.key, *dates)

    # -------------------------------------------------------------------------------- date labels
    def _date_label(self, date: str, pairs: list[Pair], primary: bool) -> str:
        marks = sum(1 for p in pairs if self.status(p) in (PairStatus.DEFORMATION, PairStatus.EARTHQUAKE))
        if primary:
            text = f"{pretty_date(date)}  ({len(pairs)} pair{'s' if len(pairs) != 1 else ''}"
            return text + (f", {marks} {POSITIVE_MARK})" if marks else ")")
        days = pairs[0].baseline_days
        return f"{pretty_date(date)}  ({days} d)" + (f"  {POSITIVE_MARK}" if marks else "")

    def _date_options(self, primary: str | None) -> tuple[dict[str, str], dict[str, str]]:
        pairs = self.pairs
        by_primary: dict[str, list[Pair]] = {}
        for p in pairs:
            by_primary.setdefault(p.primary, []).append(p)
        primaries = {self._date_label(d, ps, primary=True): d for d, ps in by_primary.items()}
        secondaries = {
            self._date_label(p.secondary, [p], primary=False): p.secondary
            for p in by_primary.get(primary or "", [])
        }
        return primaries, secondaries

    # --------------------------------------------------------------------------------- navigation
    def default_pair(self, frame_id: str) -> Pair | None:
        """Where a frame opens: its first positive pair, else its first pair, else ``None``."""
        frame = self.open_frame(frame_id)
        if frame is None:
            return None
        pairs = self._pairs_of(frame)
        return navigation.default_pair(pairs, frame.positives if pairs else ())

    def go(self, pair: Pair | None, frame_id: str | None = None) -> bool:
        """Show ``pair`` (any frame of the dataset), or frame ``frame_id`` with no pair.

        One batch: frame, date lists, dates and pair are all set before any view is told, and each view is
        told once. Returns False (reported) when the frame cannot be opened; the view then stays as it was.
        """
        frame_id = pair.frame if pair is not None else (frame_id or self.frame)
        frame = self.open_frame(frame_id) if frame_id else None
        if frame_id and frame is None:
            return False
        if pair is not None and pair not in set(self._pairs_of(frame)):
            pair = None
        self._moving = True
        try:
            with param.parameterized.batch_call_watchers(self):
                self.param.frame.objects = list(self.dataset.frames) if self.dataset is not None else []
                self.frame = frame_id
                primaries, secondaries = self._date_options(pair.primary if pair else None)
                self.param.primary.objects = primaries
                self.param.secondary.objects = secondaries
                self.param.update(
                    primary=pair.primary if pair else None,
                    secondary=pair.secondary if pair else None,
                    pair=pair,
                )
        finally:
            self._moving = False
        return True

    def go_frame(self, frame_id: str) -> bool:
        """Open a frame at its default pair; a frame that cannot be opened is reported and the view stays."""
        if self.dataset is None or self.open_frame(frame_id) is None:
            return False
        try:
            pair = self.default_pair(frame_id)
        except Exception as exc:  # its records cannot be read: open it at its first pair
            self.report(exc, f"finding the first positive pair of frame {frame_id}")
            pair = next(iter(self._pairs_of(self.dataset.frame(frame_id))), None)
        if pair is None:
            self.notify(Level.WARNING, f"frame {frame_id} has no valid pair.")
        return self.go(pair, frame_id)

    def go_key(self, key: str) -> bool:
        """Show the pair named ``FRAME/P_S`` or ``P_S`` (frame on screen); reports and returns False if invalid."""
        try:
            pair = Pair.parse(key, frame=self.frame)
            if self.dataset is None:
                raise DatasetNotFoundError("no dataset is open.", "Serve the app on a dataset root.")
            pair = self.dataset.resolve(pair.frame, pair.primary, pair.secondary)
        except (ThaliaError, ValueError) as exc:
            self.notify(Level.ERROR, str(exc))
            return False
        except Exception as exc:  # a damaged frame store
            self.report(exc, f"opening pair {key}")
            return False
        return self.go(pair)

    def step(self, n: int) -> None:
        """Move ``n`` pairs along the frame's pairs, ordered by (primary, secondary), or along :attr:`walk`'s
        pairs (search results) when it gives some; stops at the ends."""
        walk = self.walk() if self.walk is not None else None
        pairs = walk or self.pairs
        if not pairs:
            return
        target = navigation.neighbour(pairs, self.pair, n)
        if target is None:
            where = "result" if walk else "pair of this frame"
            self.notify(Level.INFO, f"first {where}." if n < 0 else f"last {where}.")
            return
        self.go(target)

    def step_primary(self, n: int) -> None:
        """Move ``n`` primary dates, to the pair whose temporal baseline is closest to the current one."""
        pairs = self.pairs
        if not pairs:
            return
        target = navigation.step_primary(pairs, self.pair, n)
        if target is None:
            self.notify(Level.INFO, "first primary date." if n < 0 else "last primary date.")
            return
        self.go(target)

    def set_layers(self, keys: tuple[str, ...] | list[str], opacities: list[float] | None = None) -> None:
        """Fill the layer stack, bottom first (unknown keys raise ``KeyError`` naming the valid ones)."""
        keys = [schema.layer(k).key for k in keys][:MAX_LAYERS]
        if not keys:
            keys = [VALUE_LAYERS[0]]
        for i, slot in enumerate(self.slots):
            key = keys[i] if i < len(keys) else NONE
            if key != NONE and key not in VALUE_LAYERS:
                msg = f"layer {key!r} is a class mask; use it as a mask overlay, not a layer slot"
                raise KeyError(msg)
            slot.param.update(layer=key, opacity=(opacities[i] if opacities and i < len(opacities) else 1.0))

    # ---------------------------------------------------------------------------------- watchers
    def _on_frame(self, event: param.parameterized.Event) -> None:
        if self._moving or event.new == event.old:
            return
        if self.dataset is None:
            return
        if event.new not in self.dataset.frames:
            self.notify(
                Level.ERROR,
                f"no frame {event.new!r} in {self.dataset.root} (frames: {', '.join(self.dataset.frames)}).",
            )
            self._restore_frame(event.old)
            return
        # the pair may arrive together with the frame (a URL), or its dates exist there too: keep them
        kept = Pair(event.new, self.pair.primary, self.pair.secondary) if self.pair is not None else None
        opened = self.go(kept) if kept is not None and self._valid(kept) else self.go_frame(event.new)
        if not opened:
            self._restore_frame(event.old)

    def _restore_frame(self, old: str | None) -> None:
        """Put the frame picker back on the frame on screen (or the first frame) after a refused choice."""
        frames = list(self.dataset.frames) if self.dataset is not None else []
        self._moving = True
        try:
            self.param.frame.objects = frames
            self.frame = old if old in frames else (frames or [None])[0]
        finally:
            self._moving = False

    def _on_dates(self, *events: param.parameterized.Event) -> None:
        if self._moving:
            return
        changed = {e.name: e for e in events}
        frame = self.frame_obj
        if frame is None:
            return
        if "primary" in changed and changed["primary"].new != changed["primary"].old:
            series = frame.timeseries(self.primary) if self.primary in frame.primary_dates else []
            if not series:
                self.notify(
                    Level.ERROR, f"frame {self.frame} has no valid pair with primary date {self.primary}."
                )
                self.go(self.pair)
                return
            old = self.pair
            self.go(navigation.closest_baseline(series, old.baseline_days if old is not None else 0))
            return
        if self.primary and self.secondary:
            self.go_key(pair_key(self.frame, self.primary, self.secondary))

    def _on_pair(self, event: param.parameterized.Event) -> None:
        if self._moving or event.new is None or event.new == event.old:
            return
        if not self.go_key(event.new.key):
            fallback = event.old if event.old is not None and self._valid(event.old) else None
            self.go(fallback or (self.default_pair(self.frame) if self.frame else None))

    def _resync(self, *events: param.parameterized.Event) -> None:
        """After every other watcher: a value refused while its change was being told (an unknown frame, a bad
        pair, undone by ``_on_frame`` / ``_on_pair``) is told again, or a widget linked to it (the frame picker)
        that heard the refused value after the correction would keep showing it."""
        stale = [e.name for e in events if getattr(self, e.name) != e.new]
        if stale and not self._moving:
            self.param.trigger(*stale)

    def _valid(self, pair: Pair) -> bool:
        return pair in set(self._pairs_of(self.open_frame(pair.frame)))
