"""Errors of the Thalia format and data layer; each says what was wrong, where, and what to do.

They subclass the matching builtins, so callers may catch ``FileNotFoundError`` or ``ValueError``;
the CLI prints any :class:`ThaliaError` as one paragraph without a traceback, the app as a notification.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from datetime import datetime


def did_you_mean(word: object, options: Iterable[object]) -> str:
    """`` Did you mean 'x'?`` for the closest of ``options`` to ``word`` (case-insensitive), else ``""``."""
    names = [str(o) for o in options]
    close = difflib.get_close_matches(str(word).lower(), [n.lower() for n in names], n=1, cutoff=0.6)
    return f" Did you mean {names[[n.lower() for n in names].index(close[0])]!r}?" if close else ""


class ThaliaError(Exception):
    """Base of every error this project raises about data, files and user input."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(f"{message} {hint}" if hint else message)

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message


class DatasetNotFoundError(ThaliaError, FileNotFoundError):
    """The dataset root, a frame store or a file does not exist."""


class NotAThaliaStoreError(ThaliaError, ValueError):
    """A path exists but is not a Zarr store, or not in the Thalia layout."""


class MissingVariableError(ThaliaError, KeyError):
    """A required variable is absent from a frame store."""


class SchemaError(ThaliaError, ValueError):
    """Dims, dtypes, dates or values do not follow the Thalia format."""


class CorruptChunkError(ThaliaError, OSError):
    """A chunk of a store cannot be read or decoded."""


class AnnotationFileError(ThaliaError, ValueError):
    """``annotations.json`` or ``quality_timeseries.json`` is malformed."""


class ArgumentError(ThaliaError, ValueError):
    """An argument of a library call is out of range; the message names it as the call spells it
    (``shape=``), which the CLI reports as its flag (``--size``)."""


class PairNotFoundError(ThaliaError, KeyError):
    """A (frame, primary date, secondary date) pair that the dataset does not hold."""


class UnknownLayerError(ThaliaError, KeyError):
    """A layer name that the viewer does not know."""


class AnnotationStoreError(ThaliaError, ValueError):
    """The annotation store cannot be opened, or a version, tag or pair in it is unknown or taken."""


class InvalidEditError(ThaliaError, ValueError):
    """Masks or a label record given to the annotation store are malformed; nothing was written."""


class ConflictError(ThaliaError, RuntimeError):
    """Someone else saved the same pair after the editor opened it; nothing was written.

    ``author``, ``time`` (UTC), ``saved_message`` and ``version`` describe their save.
    """

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        pair: str = "",
        version: str = "",
        author: str = "",
        time: datetime | None = None,
        saved_message: str = "",
    ) -> None:
        super().__init__(message, hint)
        self.pair = pair
        self.version = version
        self.author = author
        self.time = time
        self.saved_message = saved_message
