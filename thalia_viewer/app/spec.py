"""Layout specs: the app's modes described in ``layouts/<mode>.yaml`` and validated before use.

A spec names its views (each with a ``type`` from the view registry and that view's options), the display
defaults of the mode, and where the views go: ``sidebar`` (a list of view names, top to bottom) and
``main`` (a list of rows; a row is a view name or a list of items side by side; an item that is itself a
list stacks views in a column)::

    mode: explore
    title: Explore
    defaults: {layers: [phase], masks: [deformation]}
    views:
      map: {type: layer_map, height: 640}
      label: {type: label_card}
    sidebar: []
    main:
      - [map, label]

Errors (:class:`LayoutSpecError`) name the file and the key path, quote the offending YAML lines and
suggest the closest valid name ("Did you mean 'height'?"), like Lumen's spec validation. Check a file
with ``python -m thalia_viewer.app.spec layouts/explore.yaml``. New modes (annotate, review, train) add
views to the registry and a YAML file; the format stays.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import yaml

from thalia_viewer.app.session.state import MASK_LAYERS, MAX_LAYERS, VALUE_LAYERS
from thalia_viewer.core import schema
from thalia_viewer.core.errors import ThaliaError, did_you_mean
from thalia_viewer.resources import data_dir
from thalia_viewer.viz.elements import MaskStyle

#: Folder of the shipped specs (``layouts/`` at the repository root; package data ``thalia_viewer.layouts``).
LAYOUTS_DIR: Final = data_dir("layouts")


class Mode(StrEnum):
    """The app's modes (the values are the ``mode`` of the specs and of the page's address)."""

    EXPLORE = "explore"
    ANNOTATE = "annotate"
    REVIEW = "review"
    TRAIN = "train"
    STATS = "stats"


MODES: Final = tuple(Mode)
#: Modes that open an edit session on the annotation store.
EDITING_MODES: Final = (Mode.ANNOTATE, Mode.REVIEW)
TOP_KEYS: Final = ("mode", "title", "description", "defaults", "views", "sidebar", "main")
REQUIRED_TOP_KEYS: Final = ("mode", "views", "main")
DEFAULT_KEYS: Final = ("layers", "opacity", "masks", "mask_style", "mask_opacity", "relief")
VIEW_BASE_KEYS: Final = ("type",)
SNIPPET_CONTEXT: Final = 2  # lines of YAML quoted around the offending one


class LayoutSpecError(ThaliaError, ValueError):
    """A layout spec that cannot be used: wrong key, unknown view type, bad value."""


suggestion = did_you_mean  # the layout errors' "did you mean" (one helper for the project)


@dataclass(frozen=True)
class ViewSpec:
    """One named view of a spec: its registry type and its options (parameters of the view class)."""

    name: str
    type: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LayoutSpec:
    """A validated layout spec."""

    mode: Mode
    title: str
    description: str
    defaults: dict[str, Any]
    views: dict[str, ViewSpec]
    sidebar: list[str]
    main: list[list[str | list[str]]]
    source: str = "<spec>"


class _Validator:
    """Checks one spec mapping; ``fail`` raises with the key path, a YAML quote and a suggestion."""

    def __init__(self, text: str, source: str, registry: Mapping[str, Iterable[str]]) -> None:
        self.lines = text.splitlines()
        self.source = source
        self.registry = registry

    def snippet(self, key: str | None) -> str:
        """The YAML lines around the first line that spells ``key`` (as a key or a list item)."""
        if not key or not self.lines:
            return ""
        patterns = (
            f"{key}:",
            f": {key}",
            f"- {key}",
            f"[{key}",
            f" {key},",
            f" {key}]",
            f"{key}]",
            f"{key},",
        )
        for i, line in enumerate(self.lines):
            if any(p in line for p in patterns):
                lo, hi = max(i - SNIPPET_CONTEXT, 0), min(i + SNIPPET_CONTEXT + 1, len(self.lines))
                quoted = [f"{'>' if j == i else ' '} {j + 1:4d} | {self.lines[j]}" for j in range(lo, hi)]
                return "\n" + "\n".join(quoted)
        return ""

    def fail(
        self, where: str, message: str, key: str | None = None, hint: str | None = None
    ) -> LayoutSpecError:
        text = f"{self.source}: {where}: {message}" + (f" {hint}" if hint else "") + self.snippet(key)
        return LayoutSpecError(text)

    def keys(self, where: str, mapping: Any, valid: Iterable[str], required: Iterable[str] = ()) -> dict:
        valid = tuple(valid)
        if not isinstance(mapping, Mapping):
            raise self.fail(
                where,
                f"expected a mapping of keys, got {type(mapping).__name__}",
                hint=f"Valid keys: {', '.join(valid)}.",
            )
        for k in mapping:
            if k not in valid:
                raise self.fail(
                    where,
                    f"unknown key {k!r}.{suggestion(k, valid)}",
                    str(k),
                    f"Valid keys: {', '.join(valid)}.",
                )
        missing = [k for k in required if k not in mapping]
        if missing:
            raise self.fail(
                where, f"missing required key {missing[0]!r}.", hint=f"Required keys: {', '.join(required)}."
            )
        return dict(mapping)

    def names(self, where: str, value: Any, valid: Iterable[str], what: str) -> list[str]:
        valid = tuple(valid)
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list):
            raise self.fail(where, f"expected a list of {what} names, got {type(value).__name__}")
        for v in items:
            if v not in valid:
                raise self.fail(
                    where,
                    f"unknown {what} {v!r}.{suggestion(v, valid)}",
                    str(v),
                    f"Valid {what}s: {', '.join(valid)}.",
                )
        return list(items)

    def number(self, where: str, value: Any, lo: float, hi: float) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
            raise self.fail(
                where, f"expected a number from {lo} to {hi}, got {value!r}", where.rsplit(".", 1)[-1]
            )
        return float(value)

    # ---------------------------------------------------------------------------------- sections
    def defaults(self, raw: Any) -> dict[str, Any]:
        d = self.keys("defaults", raw or {}, DEFAULT_KEYS)
        out: dict[str, Any] = {}
        layer_names = (*VALUE_LAYERS, *schema.LAYER_ALIASES)
        if "layers" in d:
            layers = self.names("defaults.layers", d["layers"], layer_names, "layer")
            if not 1 <= len(layers) <= MAX_LAYERS:
                raise self.fail(
                    "defaults.layers",
                    f"expected 1 to {MAX_LAYERS} layers (bottom first), got {len(layers)}",
                    "layers",
                )
            out["layers"] = [schema.layer(k).key for k in layers]
        if "opacity" in d:
            ops = d["opacity"] if isinstance(d["opacity"], list) else [d["opacity"]]
            out["opacity"] = [self.number("defaults.opacity", v, 0.0, 1.0) for v in ops]
        if "masks" in d:
            out["masks"] = self.names("defaults.masks", d["masks"] or [], MASK_LAYERS, "mask")
        if "mask_style" in d:
            out["mask_style"] = self.names(
                "defaults.mask_style", [d["mask_style"]], [s.value for s in MaskStyle], "mask style"
            )[0]
        if "mask_opacity" in d:
            out["mask_opacity"] = self.number("defaults.mask_opacity", d["mask_opacity"], 0.0, 1.0)
        if "relief" in d:
            if not isinstance(d["relief"], bool):
                raise self.fail("defaults.relief", f"expected true or false, got {d['relief']!r}", "relief")
            out["relief"] = d["relief"]
        return out

    def views(self, raw: Any) -> dict[str, ViewSpec]:
        if not isinstance(raw, Mapping) or not raw:
            raise self.fail("views", "expected a mapping of view names to view specs", "views")
        out = {}
        for name, spec in raw.items():
            where = f"views.{name}"
            if not isinstance(spec, Mapping) or "type" not in spec:
                raise self.fail(
                    where, "a view needs a 'type'", str(name), f"Types: {', '.join(self.registry)}."
                )
            vtype = spec["type"]
            if vtype not in self.registry:
                raise self.fail(
                    where,
                    f"unknown view type {vtype!r}.{suggestion(vtype, self.registry)}",
                    str(vtype),
                    f"Types: {', '.join(self.registry)}.",
                )
            options = self.keys(where, spec, (*VIEW_BASE_KEYS, *self.registry[vtype]))
            options.pop("type")
            out[str(name)] = ViewSpec(str(name), str(vtype), options)
        return out

    def placement(self, raw: Any, views: Mapping[str, ViewSpec], where: str) -> list:
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise self.fail(where, f"expected a list, got {type(raw).__name__}", where)

        def check(item: Any, path: str, depth: int) -> Any:
            if isinstance(item, str):
                if item not in views:
                    raise self.fail(
                        path,
                        f"unknown view {item!r}.{suggestion(item, views)}",
                        item,
                        f"Views defined under 'views': {', '.join(views)}.",
                    )
                return item
            if isinstance(item, list) and depth < 3:  # main: rows, then columns within a row
                return [check(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(item)]
            raise self.fail(path, f"expected a view name or a list of view names, got {item!r}")

        return [check(v, f"{where}[{i}]", 1 if where == "main" else 3) for i, v in enumerate(raw)]


def validate_spec(
    data: Any, text: str = "", source: str = "<spec>", registry: Mapping[str, Iterable[str]] | None = None
) -> LayoutSpec:
    """A :class:`LayoutSpec` from a parsed YAML mapping, or :class:`LayoutSpecError`.

    ``registry`` maps each view type to its option names (default: the app's view registry).
    """
    if registry is None:
        from thalia_viewer.app.views import view_options

        registry = view_options()
    v = _Validator(text, source, registry)
    top = v.keys("top level", data, TOP_KEYS, REQUIRED_TOP_KEYS)
    mode = top["mode"]
    if mode not in MODES:
        raise v.fail(
            "mode",
            f"unknown mode {mode!r}.{suggestion(mode, MODES)}",
            str(mode),
            f"Modes: {', '.join(MODES)}.",
        )
    views = v.views(top["views"])
    sidebar = v.placement(top.get("sidebar"), views, "sidebar")
    main = v.placement(top["main"], views, "main")
    main = [row if isinstance(row, list) else [row] for row in main]
    return LayoutSpec(
        mode=Mode(mode),
        title=str(top.get("title", str(mode).capitalize())),
        description=str(top.get("description", "")),
        defaults=v.defaults(top.get("defaults")),
        views=views,
        sidebar=sidebar,
        main=main,
        source=source,
    )


def load_spec(name_or_path: str | Path) -> LayoutSpec:
    """Read and validate a spec: a mode name (``explore`` -> ``layouts/explore.yaml``) or a YAML path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = LAYOUTS_DIR / f"{name_or_path}.yaml"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        msg = f"layout spec {path} cannot be read ({exc.strerror or exc})."
        raise LayoutSpecError(
            msg,
            f"Specs shipped with the app: {', '.join(sorted(p.stem for p in LAYOUTS_DIR.glob('*.yaml')))}.",
        ) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        msg = f"{path} is not valid YAML: {exc}"
        raise LayoutSpecError(msg, "Fix the indentation or quoting at the line shown.") from exc
    return validate_spec(data, text, str(path))


def main(argv: list[str] | None = None) -> int:
    """``python -m thalia_viewer.app.spec FILE...``: validate specs; exit 0 if all are valid, 2 otherwise."""
    paths = (argv if argv is not None else sys.argv[1:]) or sorted(str(p) for p in LAYOUTS_DIR.glob("*.yaml"))
    status = 0
    for p in paths:
        try:
            spec = load_spec(p)
        except LayoutSpecError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 2
        else:
            print(f"{p}: valid {spec.mode} spec, {len(spec.views)} views")
    return status


if __name__ == "__main__":
    sys.exit(main())
