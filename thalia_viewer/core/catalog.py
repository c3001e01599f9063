"""The catalogue of a dataset root as one pandas DataFrame: every pair, its record, its corrections, its review.

One row per annotation record of ``annotations.json`` and per valid pair of ``quality_timeseries.json`` without a
record; the corrections store's current record replaces the source's for corrected pairs (who and when in
``corrected_by`` / ``corrected_at``), and a review run (``thalia-viewer predict --out DIR``) adds the model's
scores. Built once from the JSON files (no cube is opened: ~0.3 s for the real 19,919 records), then queried
in milliseconds with the query language of :mod:`.query`:

>>> cat = Catalog.from_root("data/catalogue")
>>> cat.search("activity:Dyke intensity:High year:2018")     # a DataFrame of the matching pairs
>>> cat.table                                                 # the whole catalogue

Columns (:data:`COLUMNS`): ``key`` (``FRAME/PRIMARY_SECONDARY``), ``frame``, ``volcano``, ``uid`` (uniqueID, -1
without record), ``primary`` / ``secondary`` (datetime64), ``baseline`` (days), ``split``, ``valid`` (in the
benchmark's pair list), ``labelled``, ``label`` (``Deformation``, ``Earthquake``, ``Deformation + Earthquake``,
``Non_Deformation`` or ``unlabelled``), ``positive``, ``deformation``, ``earthquake``, ``activity`` and
``intensity`` (the record's lists, comma-joined), ``phase``, the eight flags of :data:`schema.FLAG_FIELDS`,
``confidence``, ``is_crowd``, ``caption``, ``corrected``, ``corrected_by``, ``corrected_at``, and with a review
run ``reviewed``, ``model_pixels``, ``model_positive``, ``model_iou``, ``model_f1``, ``model_fp``, ``model_fn``,
``disagree``. Bit columns ``activity_bits`` / ``intensity_bits`` (bit ``1 << code`` of every pattern) make
"any pattern of this type" a vectorised test.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd

from . import schema
from .dataset import ThaliaDataset
from .errors import AnnotationFileError, DatasetNotFoundError
from .pairs import Pair, pair_key

if TYPE_CHECKING:
    from .annotations.store import AnnotationStore

UNLABELLED: Final = "unlabelled"
BOTH_LABELS: Final = f"{schema.Label.DEFORMATION.value} + {schema.Label.EARTHQUAKE.value}"
LABELS: Final = (
    schema.Label.DEFORMATION.value,
    schema.Label.EARTHQUAKE.value,
    BOTH_LABELS,
    schema.Label.NON_DEFORMATION.value,
    UNLABELLED,
)
NO_SPLIT: Final = "none"
SPLITS: Final = (*(s.value for s in schema.Split), NO_SPLIT)
PHASES: Final = (*(p.value for p in schema.Phase), "")
REVIEW_COLUMNS: Final = (
    "reviewed",
    "model_pixels",
    "model_positive",
    "model_iou",
    "model_f1",
    "model_fp",
    "model_fn",
    "disagree",
)
COLUMNS: Final = (
    "key",
    "frame",
    "volcano",
    "uid",
    "primary",
    "secondary",
    "baseline",
    "split",
    "valid",
    "labelled",
    "label",
    "positive",
    "deformation",
    "earthquake",
    "activity",
    "intensity",
    "phase",
    *schema.FLAG_FIELDS,
    "confidence",
    "is_crowd",
    "caption",
    "corrected",
    "corrected_by",
    "corrected_at",
    "activity_bits",
    "intensity_bits",
)
#: IoU under which a reviewed positive pair counts as a disagreement.
DISAGREE_IOU: Final = 0.5
_WORD: Final = re.compile(r"\w+")
_EPOCH: Final = np.datetime64("1970-01-01", "D")


@lru_cache(maxsize=65536)
def _date(value: str) -> str:
    """``schema.format_date`` of a record's date string, cached (a catalogue repeats a few thousand dates)."""
    return schema.format_date(value)


@lru_cache(maxsize=65536)
def _split(primary: str) -> str:
    split = schema.split_of(primary)
    return split.value if split else NO_SPLIT


def words(text: str) -> list[str]:
    """The caption words of ``text``: lower-case runs of letters and digits (``Dyke-type`` is ``dyke``, ``type``)."""
    return _WORD.findall(text.lower())


@dataclass
class WordIndex:
    """Caption words -> the rows whose caption holds them (sorted int32 positions), plus each row's word text."""

    postings: dict[str, list[int]] = field(default_factory=dict)
    normalised: list[str] = field(default_factory=list)  # " word word ... " of each row, for phrase checks
    _arrays: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def build(cls, captions: Iterable[str]) -> WordIndex:
        index = cls()
        for row, caption in enumerate(captions):
            tokens = words(caption)
            index.normalised.append(" " + " ".join(tokens) + " ")
            for w in set(tokens):
                index.postings.setdefault(w, []).append(row)
        return index

    def rows(self, word: str) -> np.ndarray:
        """Rows holding ``word`` (exact word)."""
        if word not in self._arrays:
            self._arrays[word] = np.asarray(self.postings.get(word, ()), dtype=np.int32)
        return self._arrays[word]

    def vocabulary(self) -> list[str]:
        return sorted(self.postings)


@dataclass(frozen=True)
class Catalog:
    """The catalogue DataFrame (``table``, rows in frame / primary / secondary order) and its caption index."""

    table: pd.DataFrame
    index: WordIndex
    root: str = ""
    store_version: str | None = None  # the annotation store snapshot whose corrections are applied
    review: str | None = None  # where the review scores come from
    _derived: dict[str, np.ndarray] = field(default_factory=dict, compare=False, repr=False)

    def __len__(self) -> int:
        return len(self.table)

    # --------------------------------------------------------------------------------------- build
    @classmethod
    def from_root(
        cls,
        root: str | os.PathLike[str] | ThaliaDataset,
        store: AnnotationStore | None = None,
        review: str | os.PathLike[str] | Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Catalog:
        """The catalogue of a root (``ThaliaDataset`` or path), with a store's corrections and a review run's scores."""
        ds = root if isinstance(root, ThaliaDataset) else ThaliaDataset(root)
        names = ds.location.read_json(schema.FRAME_NAMES_FILE, required=False)
        table = build_table(ds.annotations, ds.quality, names if isinstance(names, dict) else None)
        cat = cls(table, WordIndex.build(table["caption"].tolist()), root=ds.root)
        if store is not None:
            cat = cat.with_corrections(store)
        if review is not None:
            cat = cat.with_review(review)
        return cat

    def with_corrections(self, store: AnnotationStore, version: str | None = None) -> Catalog:
        """This catalogue with the records of the pairs corrected in ``store`` at ``version`` (default: its tip)."""
        snapshot = store.resolve(version)
        corrected = store.corrected_records(snapshot)
        table, index = self.table, self.index
        if corrected:
            table = table.copy()
            position = {k: i for i, k in enumerate(table["key"].tolist())}
            rows, records = [], []
            for pair, (record, saved) in corrected.items():
                row = position.get(pair.key)
                if row is None:
                    continue
                rows.append(row)
                records.append((record, saved))
            _apply_records(table, rows, [r for r, _ in records])
            _set(table, "corrected", rows, [True] * len(rows))
            _set(table, "corrected_by", rows, [str(s.get("author", "")) for _, s in records])
            at = table["corrected_at"].copy()
            at.iloc[rows] = pd.to_datetime([_time(s.get("time")) for _, s in records], utc=True)
            table["corrected_at"] = at
            captions = table["caption"].tolist()
            index = (
                WordIndex.build(captions)
                if any(self.table["caption"].iat[r] != captions[r] for r in rows)
                else index
            )
        return Catalog(table, index, self.root, snapshot, self.review)

    def with_review(self, review: str | os.PathLike[str] | Mapping[str, Mapping[str, Any]]) -> Catalog:
        """This catalogue with a review run's scores: a ``thalia-viewer predict --out`` folder (its ``metrics.json``)
        or ``{pair key: {tp, fp, fn, iou, f1[, pixels]}}``."""
        source = str(review) if not isinstance(review, Mapping) else "review session"
        scores = load_review(review) if not isinstance(review, Mapping) else review
        table = self.table.copy()
        n = len(table)
        cols = {
            "reviewed": np.zeros(n, bool),
            "model_pixels": np.full(n, -1, np.int64),
            "model_iou": np.full(n, np.nan),
            "model_f1": np.full(n, np.nan),
            "model_fp": np.full(n, -1, np.int64),
            "model_fn": np.full(n, -1, np.int64),
        }
        position = {k: i for i, k in enumerate(table["key"].tolist())}
        for key, s in scores.items():
            row = position.get(key)
            if row is None:
                continue
            cols["reviewed"][row] = True
            tp, fp, fn = (int(s.get(k, 0) or 0) for k in ("tp", "fp", "fn"))
            cols["model_pixels"][row] = int(s.get("pixels", tp + fp))
            cols["model_fp"][row], cols["model_fn"][row] = fp, fn
            cols["model_iou"][row] = float(s["iou"]) if s.get("iou") is not None else np.nan
            cols["model_f1"][row] = float(s["f1"]) if s.get("f1") is not None else np.nan
        for name, values in cols.items():
            table[name] = values
        model_positive = cols["reviewed"] & (cols["model_pixels"] > 0)
        table["model_positive"] = model_positive
        low = np.nan_to_num(cols["model_iou"], nan=1.0) < DISAGREE_IOU
        labelled_positive = table["positive"].to_numpy()
        table["disagree"] = cols["reviewed"] & (
            (model_positive != labelled_positive) | (labelled_positive & low)
        )
        return Catalog(table, self.index, self.root, self.store_version, source)

    # -------------------------------------------------------------------------------------- search
    def select(self, query: str) -> np.ndarray:
        """Row positions (int) of the pairs matching ``query`` (:mod:`.query`), in the query's sort order."""
        from .query import parse

        return parse(query).rows(self)

    def search(self, query: str) -> pd.DataFrame:
        """The rows of the pairs matching ``query`` (a :exc:`.query.QueryError` names what is wrong in it)."""
        return self.table.iloc[self.select(query)]

    def pairs(self, rows: np.ndarray | None = None) -> list[Pair]:
        """The pairs of some rows (default: all)."""
        keys = self.table["key"].to_numpy()
        return [Pair.parse(k) for k in (keys if rows is None else keys[rows])]

    def facets(self, rows: np.ndarray | None = None) -> dict[str, dict[str, int]]:
        """Counts per facet (frame, label, activity type, intensity, phase, split, flag, year, corrected) of
        some rows (default: all), most frequent first, zero counts left out."""
        t = self.table if rows is None else self.table.iloc[rows]
        out: dict[str, dict[str, int]] = {}
        for name in ("label", "split", "phase", "frame"):
            counts = t[name].value_counts(sort=True)
            out[name] = {str(k): int(v) for k, v in counts.items() if v}
        for name, column, table in (
            ("activity", "activity_bits", schema.ACTIVITY_TYPES),
            ("intensity", "intensity_bits", schema.INTENSITY_LEVELS),
        ):
            bits = t[column].to_numpy()
            counts = {c.name: int(((bits >> c.code) & 1).sum()) for c in table if c.code}
            out[name] = dict(sorted(((k, v) for k, v in counts.items() if v), key=lambda kv: -kv[1]))
        flags = {name: int(values.sum()) for name, values in flag_masks(t).items()}
        out["flag"] = dict(sorted(((k, v) for k, v in flags.items() if v), key=lambda kv: -kv[1]))
        years = t["primary"].dt.year.value_counts().sort_index()
        out["year"] = {str(k): int(v) for k, v in years.items()}
        corrected = t["corrected_by"][t["corrected"]].value_counts()
        out["corrected by"] = {str(k): int(v) for k, v in corrected.items() if v}
        if "disagree" in t:
            out["review"] = {
                k: int(v)
                for k, v in (
                    ("reviewed", t["reviewed"].sum()),
                    ("model positive", t["model_positive"].sum()),
                    ("disagree", t["disagree"].sum()),
                )
                if v
            }
        return out

    def days(self, column: str) -> np.ndarray:
        """A date column as int days since 1970-01-01 (computed once)."""
        if column not in self._derived:
            self._derived[column] = (self.table[column].to_numpy().astype("datetime64[D]") - _EPOCH).astype(
                np.int64
            )
        return self._derived[column]

    def calendar(self, part: str) -> np.ndarray:
        """``year`` or ``month`` (1-12) of the primary dates (computed once)."""
        if part not in self._derived:
            primary = self.table["primary"].to_numpy()
            years = primary.astype("datetime64[Y]")
            self._derived["year"] = years.astype(np.int64) + 1970
            self._derived["month"] = (primary.astype("datetime64[M]") - years).astype(np.int64) + 1
        return self._derived[part]


# --------------------------------------------------------------------------------------------- table
def flag_masks(t: pd.DataFrame) -> dict[str, np.ndarray]:
    """Boolean arrays of each noise flag, by readable name (``turbulent mixing`` and ``vertical stratification``
    split the atmospheric code, whose 3 means both)."""
    atmo = t[schema.FLAG_ATMOSPHERIC].to_numpy()
    out = {
        "vertical stratification": (atmo & schema.ATMO_STRATIFIED) > 0,
        "turbulent mixing": (atmo & schema.ATMO_TURBULENT) > 0,
    }
    for name in schema.FLAG_FIELDS:
        if name != schema.FLAG_ATMOSPHERIC:
            out[name.replace("_", " ")] = t[name].to_numpy() > 0
    return out


def _category(values: list, categories: Iterable[str] | None) -> pd.Series:
    cats = (
        list(dict.fromkeys(categories))
        if categories is not None
        else sorted({v for v in values if v is not None})
    )
    return pd.Series(pd.Categorical(values, categories=cats))


def _label_of(labels: list[str]) -> str:
    d, e = schema.Label.DEFORMATION.value in labels, schema.Label.EARTHQUAKE.value in labels
    if d and e:
        return BOTH_LABELS
    if d or e:
        return schema.Label.DEFORMATION.value if d else schema.Label.EARTHQUAKE.value
    return schema.Label.NON_DEFORMATION.value


_ACTIVITY_CODE: Final = {c.name.lower(): c.code for c in schema.ACTIVITY_TYPES if c.code}
_INTENSITY_CODE: Final = {c.name.lower(): c.code for c in schema.INTENSITY_LEVELS if c.code}


def _bits(names: Iterable[Any], codes: Mapping[str, int]) -> int:
    out = 0
    for n in names:
        code = codes.get(str(n).lower())
        if code:
            out |= 1 << code
    return out


def _record_values(rec: Mapping[str, Any]) -> dict[str, Any]:
    """The columns that come from a record."""
    labels = [str(v) for v in _as_list(rec.get("label"))]
    activity, intensity = _as_list(rec.get("activity_type")), _as_list(rec.get("intensity_level"))
    label = _label_of(labels)
    try:
        confidence = float(rec.get("confidence", np.nan))
    except (TypeError, ValueError):
        confidence = np.nan
    return {
        "labelled": True,
        "label": label,
        "deformation": label in (schema.Label.DEFORMATION.value, BOTH_LABELS),
        "earthquake": label in (schema.Label.EARTHQUAKE.value, BOTH_LABELS),
        "activity": ", ".join(map(str, activity)),
        "intensity": ", ".join(map(str, intensity)),
        "activity_bits": _bits(activity, _ACTIVITY_CODE),
        "intensity_bits": _bits(intensity, _INTENSITY_CODE),
        "phase": str(rec.get("phase") or ""),
        "confidence": confidence,
        "is_crowd": _int(rec.get("is_crowd")),
        "caption": str(rec.get("caption") or ""),
        **{f: schema.flag_value(rec, f) for f in schema.FLAG_FIELDS},
    }


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


_EMPTY_RECORD: Final = {
    "labelled": False,
    "label": UNLABELLED,
    "deformation": False,
    "earthquake": False,
    "activity": "",
    "intensity": "",
    "activity_bits": 0,
    "intensity_bits": 0,
    "phase": "",
    "confidence": np.nan,
    "is_crowd": 0,
    "caption": "",
    **dict.fromkeys(schema.FLAG_FIELDS, 0),
}


def build_table(
    annotations: Mapping[str, Mapping[str, Any]],
    quality: Mapping[str, Mapping[str, Any]] | None,
    frame_names: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """The catalogue DataFrame of ``annotations.json`` and ``quality_timeseries.json`` (see the module docstring)."""
    valid: set[tuple[str, str, str]] | None = None
    if quality is not None:
        valid = {
            (str(f), _date(str(p)), _date(str(s)))
            for f, groups in quality.items()
            for p, g in groups.items()
            for s in (g or {}).get("secondary_date", [])
        }
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for key, rec in annotations.items():
        try:
            cell = (str(rec["frameID"]), _date(str(rec["primary_date"])), _date(str(rec["secondary_date"])))
        except (KeyError, ValueError, TypeError) as exc:
            msg = f"{schema.ANNOTATIONS_FILE}: record {key!r} has no valid frameID / dates ({exc})."
            raise AnnotationFileError(msg, "Every record names its frame and both dates (YYYYMMDD).") from exc
        rows[cell] = {"uid": _int(rec.get("uniqueID", key)), **_record_values(rec)}
    for cell in valid or ():
        rows.setdefault(cell, {"uid": -1, **_EMPTY_RECORD})
    cells = sorted(rows)
    data = [rows[c] for c in cells]
    frames = [c[0] for c in cells]
    primary = np.array([f"{p[:4]}-{p[4:6]}-{p[6:]}" for _, p, _ in cells], dtype="datetime64[D]")
    secondary = np.array([f"{s[:4]}-{s[4:6]}-{s[6:]}" for _, _, s in cells], dtype="datetime64[D]")
    if valid is None:
        is_valid = [bool(d["labelled"]) and not any(d[f] for f in schema.UNUSABLE_FLAGS) for d in data]
    else:
        is_valid = [c in valid for c in cells]
    split = [_split(p) for _, p, _ in cells]
    frame_ids = sorted(set(frames))
    volcano = {f: schema.volcanoes(f, dict(frame_names or {})) for f in frame_ids}
    table = pd.DataFrame(
        {
            "key": [pair_key(f, p, s) for f, p, s in cells],
            "frame": _category(frames, frame_ids),
            "volcano": _category([volcano[f] for f in frames], None),
            "uid": np.array([d["uid"] for d in data], dtype=np.int64),
            "primary": primary.astype("datetime64[ns]"),
            "secondary": secondary.astype("datetime64[ns]"),
            "baseline": (secondary - primary).astype(np.int32),
            "split": _category(split, SPLITS),
            "valid": np.array(is_valid, dtype=bool),
        }
    )
    for name in ("labelled", "deformation", "earthquake"):
        table[name] = np.array([d[name] for d in data], dtype=bool)
    table["label"] = _category([d["label"] for d in data], LABELS)
    table["positive"] = table["deformation"] | table["earthquake"]
    table["activity"] = [d["activity"] for d in data]
    table["intensity"] = [d["intensity"] for d in data]
    phases = [d["phase"] for d in data]
    table["phase"] = _category(phases, [*PHASES, *sorted(set(phases) - set(PHASES))])
    for name in schema.FLAG_FIELDS:
        table[name] = np.array([d[name] for d in data], dtype=np.int8)
    table["confidence"] = np.array([d["confidence"] for d in data], dtype=np.float64)
    table["is_crowd"] = np.array([d["is_crowd"] for d in data], dtype=np.int8)
    table["caption"] = [d["caption"] for d in data]
    table["corrected"] = np.zeros(len(table), bool)
    table["corrected_by"] = _category([None] * len(table), [])
    table["corrected_at"] = pd.Series(pd.NaT, index=table.index, dtype="datetime64[ns, UTC]")
    table["activity_bits"] = np.array([d["activity_bits"] for d in data], dtype=np.uint8)
    table["intensity_bits"] = np.array([d["intensity_bits"] for d in data], dtype=np.uint8)
    return table[list(COLUMNS)]


def _apply_records(table: pd.DataFrame, rows: list[int], records: list[Mapping[str, Any]]) -> None:
    """Overwrite the record columns of ``rows`` with those of ``records`` (in place)."""
    if not rows:
        return
    values = [_record_values(r) for r in records]
    for name in (
        "labelled",
        "deformation",
        "earthquake",
        "activity",
        "intensity",
        "activity_bits",
        "intensity_bits",
        "confidence",
        "is_crowd",
        "caption",
        *schema.FLAG_FIELDS,
    ):
        _set(table, name, rows, [v[name] for v in values])
    for name in ("label", "phase"):
        _set(table, name, rows, [v[name] for v in values])
    table["positive"] = table["deformation"] | table["earthquake"]


def _set(table: pd.DataFrame, name: str, rows: list[int], values: list[Any]) -> None:
    """``table[name].iloc[rows] = values`` keeping the column's dtype (categories grow as needed)."""
    column = table[name]
    if isinstance(column.dtype, pd.CategoricalDtype):
        items = column.astype(object).tolist()
        for r, v in zip(rows, values, strict=True):
            items[r] = v
        known = list(column.cat.categories)
        table[name] = pd.Categorical(
            items, categories=known + sorted({v for v in values if v is not None} - set(known))
        )
    elif column.dtype.kind in "biuf":
        array = column.to_numpy().copy()
        array[rows] = np.asarray(values, dtype=array.dtype)
        table[name] = array
    else:
        items = column.tolist()
        for r, v in zip(rows, values, strict=True):
            items[r] = v
        table[name] = pd.Series(items, index=table.index, dtype=column.dtype)


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def load_review(path: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """Per-pair scores of a review run: ``{pair key: {tp, fp, fn, iou, f1, pixels}}`` from the ``metrics.json`` of a
    ``thalia-viewer predict --out DIR`` folder (``DIR`` or the file itself)."""
    from .errors import ThaliaError

    p = Path(path)
    file = p / "metrics.json" if p.is_dir() else p
    if not file.exists():
        msg = f"no review run at {path}: {file} does not exist."
        raise DatasetNotFoundError(
            msg, "Give the --out folder of `thalia-viewer predict` (it holds metrics.json)."
        )
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        pairs = data["pairs"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        msg = f"{file} is not the metrics.json of a prediction run ({type(exc).__name__}: {exc})."
        raise ThaliaError(
            msg, "Run `thalia-viewer predict ROOT --model NAME --out DIR` and give DIR."
        ) from exc
    out: dict[str, dict[str, Any]] = {}
    for key, entry in pairs.items():
        metrics = (entry or {}).get("metrics") or {}
        pixels = (entry or {}).get("deformation_pixels")
        out[key] = {
            "tp": metrics.get("tp", 0),
            "fp": metrics.get("fp", 0),
            "fn": metrics.get("fn", 0),
            "iou": metrics.get("iou"),
            "f1": metrics.get("f1"),
            "pixels": int(pixels)
            if pixels is not None
            else int(metrics.get("tp", 0)) + int(metrics.get("fp", 0)),
        }
    return out
