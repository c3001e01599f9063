"""The catalogue's query language: what an InSAR expert types to find pairs across the whole dataset.

A query is terms separated by spaces; a pair must match every term. Examples::

    activity:Dyke intensity:High year:2018          every High-intensity dyke of 2018
    sill "near the summit"                          captions with the word sill and that phrase
    frame:124D* flag:turbulent confidence>=0.7      Etna's frames, turbulent mixing, confident labels
    label:earthquake OR activity:dyke,sill phase:unrest
    volcano:fournaise baseline<=24 -corrected:yes    short pairs of Piton de la Fournaise nobody corrected
    model:positive label:negative sort:-model_pixels  (with a review run) the model's false alarms, largest first

Terms
  ``word``              a caption word (case-insensitive; ``summit*`` any word starting with ``summit``)
  ``"a phrase"``        caption words in this order (``caption:"..."`` too)
  ``field:value``       a field (below); ``field:a,b`` either value; ``field:a..b`` a range (numbers, dates)
  ``field>value``       comparisons ``> >= < <= =`` for numbers and dates; ``field!=value``
  ``-term``, ``NOT term``  the opposite
  ``a b OR c d``        (a and b) or (c and d): ``OR`` in capitals joins alternatives
  ``sort:field``        order of the results (``sort:-field`` descending); default: frame, then dates

Fields
  ``frame``      frame id, wildcards ``*`` ``?`` (``frame:124D*``)   ``volcano``  volcano name, part of it
  ``key``        ``FRAME/PRIMARY_SECONDARY``                            ``uid``      the record's uniqueID
  ``label``      deformation, earthquake, non_deformation (negative), positive, unlabelled
  ``activity``   Mogi, Dyke, Sill, Spheroid, Earthquake, Unidentified (any pattern of the pair)
  ``intensity``  Low, Medium, High, None                                ``phase``    Rest, Unrest, Rebound, None
  ``split``      train, val, test, none                                  ``valid``    yes / no (benchmark pair)
  ``flag``       stratified, turbulent, atmospheric, orbital, glacier, low_coherence, corrupted,
                 processing_error, no_info, artifacts, unusable, any
  ``corrupted``, ``processing_error``, ``glacier_fringes``, ``orbital_fringes``, ``atmospheric_fringes``,
  ``low_coherence``, ``no_info``, ``image_artifacts``: the record's numbers (``atmospheric_fringes>=2``)
  ``confidence`` 0-1    ``baseline`` days    ``crowd`` yes / no (several patterns)
  ``primary``, ``secondary`` dates: ``2018``, ``2018-06``, ``2018-06-01`` or ``20180601``, ranges, comparisons
  ``date``       the pair spans the date (or overlaps the range)     ``year``, ``month``  of the primary date
  ``corrected``  yes / no    ``by``  who corrected it (part of the name)
  ``caption``    a word or ``"phrase"`` of the caption
  with a review run: ``model`` positive / negative (the model predicts deformation), ``disagree`` yes / no
  (model and label disagree: one positive, the other not, or IoU < 0.5), ``reviewed`` yes / no, ``iou``,
  ``f1``, ``fp``, ``fn`` (pixels), ``pixels`` (predicted deformation pixels)

Words are matched through an index of caption words, every other term by a vectorised mask over the
catalogue's columns: a query costs milliseconds on the real catalogue (``bench/bench_search.py``).
"""

from __future__ import annotations

import calendar
import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Final

import numpy as np

from . import schema
from .errors import ThaliaError, did_you_mean

if TYPE_CHECKING:
    from .catalog import Catalog

Mask = Callable[["Catalog"], np.ndarray]
OPERATORS: Final = (">=", "<=", "!=", ">", "<", "=", ":")
_FIELD: Final = re.compile(r"^([A-Za-z_]+)(>=|<=|!=|>|<|=|:)(.*)$", re.S)
_EPOCH: Final = date(1970, 1, 1)
YES: Final = ("yes", "y", "true", "1")
NO: Final = ("no", "n", "false", "0")
MONTHS: Final = {m.lower(): i for i, m in enumerate(calendar.month_abbr) if m}


class QueryError(ThaliaError, ValueError):
    """A query that cannot be read: unknown field, bad value, unbalanced quote."""


# ------------------------------------------------------------------------------------------ tokens
@dataclass(frozen=True)
class Token:
    text: str
    quoted: bool = False  # a "phrase" as a whole


def tokenize(query: str) -> list[Token]:
    """Split a query on spaces, keeping ``"quoted phrases"`` (also after ``field:``) together."""
    tokens: list[Token] = []
    i, n = 0, len(query)
    while i < n:
        if query[i].isspace():
            i += 1
            continue
        start, quoted, buf = i, False, []
        while i < n and not query[i].isspace():
            if query[i] == '"':
                end = query.find('"', i + 1)
                if end < 0:
                    msg = f"unbalanced quote in {query[start:]!r}."
                    raise QueryError(msg, 'Close the phrase with a second ", e.g. "sill near the summit".')
                buf.append(query[i + 1 : end])
                quoted = quoted or i == start
                i = end + 1
            else:
                buf.append(query[i])
                i += 1
        tokens.append(Token("".join(buf), quoted and query[start] == '"'))
    return tokens


# -------------------------------------------------------------------------------------------- values
def _split_values(value: str) -> list[str]:
    values = [v.strip() for v in value.split(",")]
    return [v for v in values if v]


def _date_interval(text: str) -> tuple[int, int]:
    """Days since 1970 of the first and last day of ``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD`` / ``YYYYMMDD``."""
    t = text.strip()
    digits = t.replace("-", "").replace("/", "")
    try:
        if len(digits) == 4 and digits.isdigit():
            lo, hi = date(int(digits), 1, 1), date(int(digits), 12, 31)
        elif len(digits) == 6 and digits.isdigit():
            y, m = int(digits[:4]), int(digits[4:])
            lo, hi = date(y, m, 1), date(y, m, calendar.monthrange(y, m)[1])
        elif len(digits) == 8 and digits.isdigit():
            lo = hi = date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
        else:
            raise ValueError(t)
    except ValueError as exc:
        msg = f"{text!r} is not a date."
        raise QueryError(
            msg, "Dates are YYYY, YYYY-MM, YYYY-MM-DD or YYYYMMDD, e.g. primary:2018-06."
        ) from exc
    return (lo - _EPOCH).days, (hi - _EPOCH).days


def _number(text: str, name: str) -> float:
    try:
        return float(text)
    except ValueError as exc:
        msg = f"{name} takes a number, not {text!r}."
        raise QueryError(msg, f"e.g. {name}>0.5 or {name}:1..3.") from exc


def _yes_no(text: str, name: str) -> bool:
    v = text.strip().lower()
    if v in YES:
        return True
    if v in NO:
        return False
    msg = f"{name} takes yes or no, not {text!r}."
    raise QueryError(msg, f"e.g. {name}:yes.")


def _interval_mask(values: np.ndarray, op: str, lo: float, hi: float) -> np.ndarray:
    """``values`` compared with the interval ``[lo, hi]`` (a number is ``[x, x]``)."""
    if op in (":", "="):
        return (values >= lo) & (values <= hi)
    if op == "!=":
        return (values < lo) | (values > hi)
    return {">": values > hi, ">=": values >= lo, "<": values < lo, "<=": values <= hi}[op]


def _ranges(value: str, parse: Callable[[str], tuple[float, float]]) -> list[tuple[float, float]]:
    out = []
    for v in _split_values(value):
        if ".." in v:
            a, b = v.split("..", 1)
            lo = parse(a)[0] if a.strip() else -np.inf
            hi = parse(b)[1] if b.strip() else np.inf
            out.append((lo, hi))
        else:
            out.append(parse(v))
    return out


# ------------------------------------------------------------------------------------------- fields
@dataclass(frozen=True)
class Field:
    """One searchable field: how its value becomes a boolean mask over the catalogue."""

    name: str
    kind: str  # number, date, choice, text, yesno, caption
    column: str = ""
    help: str = ""
    choices: dict[str, Callable[[Catalog], np.ndarray]] = field(default_factory=dict)
    review: bool = False  # needs a review run


def _column(name: str) -> Callable[[Catalog], np.ndarray]:
    return lambda cat: cat.table[name].to_numpy()


def _bit(column: str, code: int) -> Callable[[Catalog], np.ndarray]:
    return lambda cat: ((cat.table[column].to_numpy() >> code) & 1).astype(bool)


def _equals(column: str, value: str) -> Callable[[Catalog], np.ndarray]:
    return lambda cat: (cat.table[column] == value).to_numpy(dtype=bool, na_value=False)


def _flag(name: str, bits: int | None = None) -> Callable[[Catalog], np.ndarray]:
    if bits is None:
        return lambda cat: cat.table[name].to_numpy() > 0
    return lambda cat: (cat.table[name].to_numpy() & bits) > 0


def _any_flag(names: tuple[str, ...]) -> Callable[[Catalog], np.ndarray]:
    return lambda cat: np.logical_or.reduce([cat.table[n].to_numpy() > 0 for n in names])


_LABEL_CHOICES: Final = {
    "deformation": _column("deformation"),
    "volcanic": _column("deformation"),
    "earthquake": _column("earthquake"),
    "positive": _column("positive"),
    "non_deformation": lambda c: c.table["labelled"].to_numpy() & ~c.table["positive"].to_numpy(),
    "unlabelled": lambda c: ~c.table["labelled"].to_numpy(),
    "labelled": _column("labelled"),
}
_LABEL_CHOICES["negative"] = _LABEL_CHOICES["nondeformation"] = _LABEL_CHOICES["non_deformation"]
_LABEL_CHOICES["unlabeled"] = _LABEL_CHOICES["unlabelled"]
_FLAG_CHOICES: Final = {
    "stratified": _flag(schema.FLAG_ATMOSPHERIC, schema.ATMO_STRATIFIED),
    "stratification": _flag(schema.FLAG_ATMOSPHERIC, schema.ATMO_STRATIFIED),
    "turbulent": _flag(schema.FLAG_ATMOSPHERIC, schema.ATMO_TURBULENT),
    "turbulence": _flag(schema.FLAG_ATMOSPHERIC, schema.ATMO_TURBULENT),
    "atmospheric": _flag(schema.FLAG_ATMOSPHERIC),
    "orbital": _flag(schema.FLAG_ORBITAL),
    "glacier": _flag(schema.FLAG_GLACIER),
    "low_coherence": _flag(schema.FLAG_LOW_COHERENCE),
    "coherence": _flag(schema.FLAG_LOW_COHERENCE),
    "corrupted": _flag(schema.FLAG_CORRUPTED),
    "processing_error": _flag(schema.FLAG_PROCESSING_ERROR),
    "processing": _flag(schema.FLAG_PROCESSING_ERROR),
    "no_info": _flag(schema.FLAG_NO_INFO),
    "artifacts": _flag(schema.FLAG_IMAGE_ARTIFACTS),
    "image_artifacts": _flag(schema.FLAG_IMAGE_ARTIFACTS),
    "unusable": _any_flag(schema.UNUSABLE_FLAGS),
    "any": _any_flag(tuple(schema.FLAG_FIELDS)),
}
_MODEL_CHOICES: Final = {
    "positive": _column("model_positive"),
    "negative": lambda c: c.table["reviewed"].to_numpy() & ~c.table["model_positive"].to_numpy(),
}


def _fields() -> dict[str, Field]:
    from .catalog import SPLITS

    fields = [
        Field("frame", "text", "frame", "frame id, wildcards * ?"),
        Field("volcano", "text", "volcano", "volcano name or part of it"),
        Field("key", "text", "key", "FRAME/PRIMARY_SECONDARY"),
        Field("by", "text", "corrected_by", "who corrected the pair"),
        Field("uid", "number", "uid", "uniqueID"),
        Field(
            "label",
            "choice",
            choices=_LABEL_CHOICES,
            help="deformation, earthquake, non_deformation, positive, unlabelled",
        ),
        Field(
            "activity",
            "choice",
            help="activity type of any pattern",
            choices={c.name.lower(): _bit("activity_bits", c.code) for c in schema.ACTIVITY_TYPES if c.code},
        ),
        Field(
            "intensity",
            "choice",
            help="intensity of any pattern",
            choices={
                c.name.lower(): _bit("intensity_bits", c.code) for c in schema.INTENSITY_LEVELS if c.code
            },
        ),
        Field(
            "phase",
            "choice",
            choices={p.value.lower(): _equals("phase", p.value) for p in schema.Phase},
            help="volcanic phase",
        ),
        Field("split", "choice", choices={s: _equals("split", s) for s in SPLITS}, help="benchmark split"),
        Field("flag", "choice", choices=_FLAG_CHOICES, help="noise flags"),
        Field("confidence", "number", "confidence", "0-1"),
        Field("baseline", "number", "baseline", "days"),
        Field("primary", "date", "primary", "primary date"),
        Field("secondary", "date", "secondary", "secondary date"),
        Field("date", "date", "", "a date the pair spans"),
        Field("year", "number", "", "year of the primary date"),
        Field("month", "number", "", "month of the primary date (1-12 or jan-dec)"),
        Field("valid", "yesno", "valid", "in the benchmark's pair list"),
        Field("crowd", "yesno", "is_crowd", "several patterns"),
        Field("corrected", "yesno", "corrected", "corrected in the annotation store"),
        Field("caption", "caption", help="caption word or phrase"),
        Field(
            "model",
            "choice",
            choices=_MODEL_CHOICES,
            review=True,
            help="the model's prediction: positive / negative",
        ),
        Field("disagree", "yesno", "disagree", "model and label disagree", review=True),
        Field("reviewed", "yesno", "reviewed", "pair scored by the review run", review=True),
        Field("iou", "number", "model_iou", "IoU of model and label", review=True),
        Field("f1", "number", "model_f1", "F1 of model and label", review=True),
        Field("fp", "number", "model_fp", "false positive pixels", review=True),
        Field("fn", "number", "model_fn", "false negative pixels", review=True),
        Field("pixels", "number", "model_pixels", "predicted deformation pixels", review=True),
    ]
    fields += [Field(name, "number", name, f"record flag {name}") for name in schema.FLAG_FIELDS]
    return {f.name: f for f in fields}


FIELDS: Final = _fields()
#: Sortable names (``sort:``): fields backed by one column, plus the catalogue's columns.
SORT_ALIASES: Final = {
    "date": "primary",
    "iou": "model_iou",
    "f1": "model_f1",
    "fp": "model_fp",
    "fn": "model_fn",
    "pixels": "model_pixels",
    "crowd": "is_crowd",
    "by": "corrected_by",
}


def _unknown(word: str, options: list[str], what: str) -> str:
    return did_you_mean(word, options) or f" {what.capitalize()}s: {', '.join(options)}."


# -------------------------------------------------------------------------------------------- terms
@dataclass(frozen=True)
class Term:
    """One term of a query: what it says (for messages) and its mask."""

    text: str
    mask: Mask
    negate: bool = False

    def evaluate(self, cat: Catalog) -> np.ndarray:
        m = np.asarray(self.mask(cat), dtype=bool)
        return ~m if self.negate else m


def _caption_term(text: str, phrase: bool) -> Mask:
    from .catalog import words

    tokens = words(text)
    if not tokens:
        msg = f"{text!r} holds no word to look for in captions."
        raise QueryError(msg, "Type letters or digits, e.g. summit.")

    def word_rows(cat: Catalog, w: str) -> np.ndarray:
        if "*" in w or "?" in w:
            matching = fnmatch.filter(cat.index.vocabulary(), w)
            return (
                np.unique(np.concatenate([cat.index.rows(m) for m in matching]))
                if matching
                else np.empty(0, np.int32)
            )
        return cat.index.rows(w)

    raw = text.lower()
    star = [
        w + ("*" if raw.rstrip().endswith("*") and i == len(tokens) - 1 else "") for i, w in enumerate(tokens)
    ]

    def mask(cat: Catalog) -> np.ndarray:
        rows = None
        for w in star:
            r = word_rows(cat, w)
            rows = r if rows is None else np.intersect1d(rows, r, assume_unique=True)
            if not len(rows):
                break
        out = np.zeros(len(cat), bool)
        if rows is None or not len(rows):
            return out
        if phrase and len(tokens) > 1 and not any("*" in w for w in star):
            needle = " " + " ".join(tokens) + " "
            norm = cat.index.normalised
            rows = np.array([r for r in rows if needle in norm[r]], dtype=np.int32)
        out[rows] = True
        return out

    return mask


def _text_term(f: Field, value: str) -> Mask:
    patterns = [v.lower() for v in _split_values(value)]
    if not patterns:
        msg = f"{f.name}: needs a value."
        raise QueryError(msg, f"e.g. {f.name}:{'124D*' if f.name == 'frame' else 'etna'}.")
    wild = [
        p if any(ch in p for ch in "*?[") else (p if f.name in ("frame", "key") else f"*{p}*")
        for p in patterns
    ]

    def mask(cat: Catalog) -> np.ndarray:
        col = cat.table[f.column]
        if hasattr(col, "cat"):  # match the categories, then map to rows by code
            cats = [str(c).lower() for c in col.cat.categories]
            hit = np.array([any(fnmatch.fnmatchcase(c, w) for w in wild) for c in cats] + [False], dtype=bool)
            return hit[col.cat.codes.to_numpy()]  # code -1 (missing) takes the trailing False
        values = col.astype(str).str.lower().tolist()
        return np.array([any(fnmatch.fnmatchcase(v, w) for w in wild) for v in values], dtype=bool)

    return mask


def _choice_term(f: Field, value: str) -> Mask:
    names = [v.lower().replace("-", "_").replace(" ", "_") for v in _split_values(value)]
    if not names:
        msg = f"{f.name}: needs a value."
        raise QueryError(msg, f"{f.name.capitalize()} values: {', '.join(f.choices)}.")
    fns = []
    for n in names:
        if n not in f.choices:
            msg = f"{f.name} has no value {n!r}.{_unknown(n, list(f.choices), 'value')}"
            raise QueryError(msg)
        fns.append(f.choices[n])
    return lambda cat: np.logical_or.reduce([fn(cat) for fn in fns])


def _number_term(f: Field, op: str, value: str) -> Mask:
    if f.name == "month":

        def parse(v: str) -> tuple[float, float]:
            m = MONTHS.get(v.strip().lower()[:3]) if not v.strip().isdigit() else int(v)
            if not m or not 1 <= m <= 12:
                msg = f"month takes 1-12 or a month name, not {v!r}."
                raise QueryError(msg, "e.g. month:6 or month:dec,jan,feb.")
            return m, m
    else:

        def parse(v: str) -> tuple[float, float]:
            x = _number(v, f.name)
            return x, x

    ranges = _ranges(value, parse) if op in (":", "=", "!=") else [parse(value)]
    if not ranges:
        msg = f"{f.name}: needs a value."
        raise QueryError(msg, f"e.g. {f.name}>0.5.")

    def values(cat: Catalog) -> np.ndarray:
        if f.name in ("year", "month"):
            return cat.calendar(f.name)
        return cat.table[f.column].to_numpy()

    def mask(cat: Catalog) -> np.ndarray:
        v = values(cat).astype(np.float64)
        if op == "!=":
            return np.logical_and.reduce([_interval_mask(v, "!=", lo, hi) for lo, hi in ranges])
        return np.logical_or.reduce([_interval_mask(v, op, lo, hi) for lo, hi in ranges])

    return mask


def _date_term(f: Field, op: str, value: str) -> Mask:
    ranges = _ranges(value, _date_interval) if op in (":", "=", "!=") else [_date_interval(value)]
    if not ranges:
        msg = f"{f.name}: needs a date."
        raise QueryError(msg, "e.g. primary:2018-06 or date:2019-01-01..2019-03-31.")

    def mask(cat: Catalog) -> np.ndarray:
        if f.name == "date":  # the pair [primary, secondary] meets the interval
            p, s = cat.days("primary"), cat.days("secondary")
            hits = [(p <= hi) & (s >= lo) for lo, hi in ranges]
            return ~np.logical_or.reduce(hits) if op == "!=" else np.logical_or.reduce(hits)
        v = cat.days(f.column).astype(np.float64)
        if op == "!=":
            return np.logical_and.reduce([_interval_mask(v, "!=", lo, hi) for lo, hi in ranges])
        return np.logical_or.reduce([_interval_mask(v, op, lo, hi) for lo, hi in ranges])

    if f.name == "date" and op not in (":", "=", "!="):
        msg = "date takes a date or a range (the pair spans it), not a comparison."
        raise QueryError(msg, "Use primary>... or secondary<... to compare dates.")
    return mask


def _yesno_term(f: Field, value: str) -> Mask:
    want = _yes_no(value, f.name)
    return lambda cat: (cat.table[f.column].to_numpy() > 0) == want


def parse_term(token: Token) -> Term | str:
    """A term, or the sort key of a ``sort:`` token."""
    text = token.text
    if token.quoted:
        return Term(f'"{text}"', _caption_term(text, phrase=True))
    m = _FIELD.match(text)
    if not m or (m.group(2) == ":" and not m.group(3) and m.group(1).lower() not in FIELDS):
        return Term(text, _caption_term(text, phrase=True))
    name, op, value = m.group(1).lower(), m.group(2), m.group(3)
    if name == "sort":
        return value.strip()
    if name not in FIELDS:
        msg = f"unknown field {name!r} in {text!r}.{_unknown(name, [*FIELDS, 'sort'], 'field')}"
        raise QueryError(msg, "See the fields with `thalia-viewer search --help`.")
    f = FIELDS[name]
    if f.kind in ("choice", "text", "yesno", "caption") and op not in (":", "=", "!="):
        msg = f"{name} takes a value ({name}:...), not a comparison {op!r}."
        raise QueryError(msg, f"e.g. {name}:{next(iter(f.choices), 'yes') if f.choices else 'yes'}.")
    negate = op == "!="
    if f.kind == "caption":
        mask = _caption_term(value, phrase=True)
    elif f.kind == "text":
        mask = _text_term(f, value)
    elif f.kind == "choice":
        mask = _choice_term(f, value)
    elif f.kind == "yesno":
        mask = _yesno_term(f, value)
    elif f.kind == "date":
        return Term(text, _date_term(f, op, value))
    else:
        return Term(text, _number_term(f, op, value))
    return Term(text, mask, negate=negate)


# -------------------------------------------------------------------------------------------- query
@dataclass(frozen=True)
class Query:
    """A parsed query: alternatives (``OR``) of terms that must all hold, and the sort order."""

    text: str
    groups: tuple[tuple[Term, ...], ...]
    sort: tuple[str, bool] | None = None  # (column, descending)
    review_fields: tuple[str, ...] = ()

    def mask(self, cat: Catalog) -> np.ndarray:
        """Boolean mask of the matching rows of ``cat``."""
        if self.review_fields and "reviewed" not in cat.table:
            msg = f"{', '.join(self.review_fields)} need(s) a review run, and this catalogue has none."
            raise QueryError(
                msg,
                "Give a `thalia-viewer predict --out` folder: --review DIR on the command line, $THALIA_REVIEW "
                "for the app; or run a review in the app's review mode.",
            )
        if not self.groups:
            return np.ones(len(cat), bool)
        out = np.zeros(len(cat), bool)
        for group in self.groups:
            m = np.ones(len(cat), bool)
            for term in group:
                m &= term.evaluate(cat)
            out |= m
        return out

    def rows(self, cat: Catalog) -> np.ndarray:
        """Positions of the matching rows, in the sort order."""
        rows = np.flatnonzero(self.mask(cat))
        if self.sort is None:
            return rows
        column, descending = self.sort
        if column not in cat.table:
            msg = f"cannot sort by {column!r}: the catalogue has no such column."
            raise QueryError(msg, f"Columns: {', '.join(map(str, cat.table.columns))}.")
        values = cat.table[column].iloc[rows]
        order = (
            np.argsort(values.to_numpy(), kind="stable")
            if not hasattr(values, "cat")
            else np.argsort(values.astype(str).to_numpy(), kind="stable")
        )
        if descending:
            order = order[::-1]
        return rows[order]


def parse(query: str) -> Query:
    """Parse a query (see the module docstring); :class:`QueryError` names what is wrong."""
    groups: list[list[Term]] = [[]]
    sort: tuple[str, bool] | None = None
    review: list[str] = []
    negate_next = False
    for token in tokenize(query):
        if not token.quoted and token.text == "OR":
            if negate_next:
                raise QueryError("NOT before OR has nothing to negate.", "Write NOT in front of a term.")
            groups.append([])
            continue
        if not token.quoted and token.text == "AND":
            continue
        if not token.quoted and token.text == "NOT":
            negate_next = not negate_next
            continue
        negate = negate_next
        negate_next = False
        if not token.quoted and token.text.startswith("-") and len(token.text) > 1:
            negate = not negate
            token = Token(token.text[1:])
        term = parse_term(token)
        if isinstance(term, str):
            desc = term.startswith("-")
            column = term.lstrip("-").lower()
            sort = (
                SORT_ALIASES.get(
                    column, FIELDS[column].column if column in FIELDS and FIELDS[column].column else column
                ),
                desc,
            )
            continue
        name = token.text.split(":", 1)[0].lower() if not token.quoted else ""
        for op in OPERATORS:
            name = name.split(op, 1)[0]
        if name in FIELDS and FIELDS[name].review:
            review.append(name)
        groups[-1].append(Term(term.text, term.mask, term.negate != negate))
    if negate_next:
        raise QueryError("the query ends with NOT.", "Write NOT in front of a term.")
    if len(groups) > 1 and any(not g for g in groups):
        raise QueryError("OR needs a term on each side.", "e.g. activity:dyke OR activity:sill.")
    kept = tuple(tuple(g) for g in groups if g)
    return Query(query, kept, sort, tuple(dict.fromkeys(review)))


def help_text() -> str:
    """The query language (this module's docstring, from ``Terms`` on)."""
    doc = __doc__ or ""
    return doc[doc.index("Terms") :].rsplit("Words are matched", 1)[0].rstrip() if "Terms" in doc else doc
