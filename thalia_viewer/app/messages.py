"""Every text the app puts on the page from data goes through here: escaped, whatever its source.

Notifications (Notyf renders its message as HTML), panes (``pn.pane.HTML``), Markdown panes (``pn.pane.Alert``
renders Markdown, so ``[x](javascript:...)`` would be a link) and placeholders of a part of the page that
cannot show its data. Sources that reach the page: URL parameters, ``annotations.json`` values, model
cards, exception texts, annotation-store metadata (authors, messages). None of them may bring markup.

>>> escape('<img src=x onerror="alert(1)">')
'&lt;img src=x onerror=&quot;alert(1)&quot;&gt;'
>>> describe(PermissionError(13, "Permission denied", "/data/store"), "saving a pair")[:60]
'saving a pair failed: Permission denied (/data/store). The f'
"""

from __future__ import annotations

import errno
import html
import logging
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from thalia_viewer.core.errors import ThaliaError

LOG = logging.getLogger("thalia_viewer.app")


class Level(StrEnum):
    """How much a notification matters."""

    ERROR = "error"  # stays until closed: errors must be read
    WARNING = "warning"
    INFO = "info"


#: How long notifications stay, ms (0 = until closed).
NOTIFICATION_MS: Final = {Level.ERROR: 0, Level.WARNING: 8000, Level.INFO: 2500}
LEVELS: Final = tuple(Level)
MAX_CHARS: Final = 1200  # a notification is a paragraph, not a traceback
#: Characters that mean something in Markdown or HTML: shown as numeric character references in Markdown panes.
MARKDOWN_SPECIALS: Final = frozenset("\\`*_{}[]()<>#+-.!|~&\"'=:")
#: The frame Rust errors (Icechunk) draw around their lines: ``  x first line`` / ``  | context`` / ``  `-> cause``.
_FRAMING: Final = re.compile(r"^(?:[x|]\s|`->\s?|\|$)+")
#: What to do, by ``errno`` of an ``OSError``.
OS_HINTS: Final = {
    errno.EACCES: "The folder is read-only for the server: make it writable, or set THALIA_STORE to a writable folder.",
    errno.EPERM: "The folder is read-only for the server: make it writable, or set THALIA_STORE to a writable folder.",
    errno.EROFS: "The file system is read-only: set THALIA_STORE to a folder on a writable disk.",
    errno.ENOSPC: "The disk is full: free some space and try again.",
    errno.EDQUOT: "The disk quota is exceeded: free some space and try again.",
    errno.ENOENT: "A file or folder is missing: check that nobody moved or deleted it.",
}


@dataclass(frozen=True)
class Message:
    """A notification for the user: level (``error`` / ``warning`` / ``info``), plain text, and a serial number.

    ``text`` is plain text (never markup); :attr:`html` is what a page may show.
    """

    level: Level
    text: str
    serial: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "level", Level(self.level))  # "error" from older callers: the enum

    @property
    def html(self) -> str:
        """The text escaped for HTML, line breaks kept."""
        return escape(self.text).replace("\n", "<br>")


def escape(value: Any) -> str:
    """``str(value)`` with ``& < > " '`` escaped: safe as HTML text and inside a quoted attribute."""
    return html.escape(str(value if value is not None else ""), quote=True)


def escape_markdown(value: Any) -> str:
    """``str(value)`` safe inside a Markdown pane: every character that Markdown or HTML reads as syntax
    (links, images, emphasis, tags, entities) becomes a numeric character reference, shown as itself."""
    return "".join(
        f"&#{ord(c)};" if c in MARKDOWN_SPECIALS else c for c in str(value if value is not None else "")
    )


def clip(text: str, limit: int = MAX_CHARS) -> str:
    """``text`` cut to ``limit`` characters (a notification must stay readable)."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def describe(exc: BaseException, doing: str = "") -> str:
    """One paragraph for the user about ``exc`` while ``doing`` something: what failed, why, what to do.

    A :class:`ThaliaError` already says all that; an ``OSError`` gets its reason, path and a hint; anything
    else is named by its type and first line (the traceback goes to the server log, not the page).
    """
    if isinstance(exc, ThaliaError):
        return clip(f"{doing}: {exc}" if doing else str(exc))
    what = f"{doing} failed" if doing else "the operation failed"
    if isinstance(exc, OSError) and (exc.strerror or exc.errno):
        where = f" ({exc.filename})" if exc.filename else ""
        hint = OS_HINTS.get(exc.errno or 0, "Check the disk, the path and its access rights.")
        return clip(
            f"{what}: {exc.strerror or errno.errorcode.get(exc.errno or 0, 'OS error')}{where}. {hint}"
        )
    lines = (_FRAMING.sub("", line.strip()).strip() for line in str(exc).splitlines())
    first = next((line for line in lines if line), "")
    return clip(f"{what}: {type(exc).__name__}{': ' + first if first else ''}.")


def log_unexpected(exc: BaseException, doing: str) -> None:
    """The traceback of an error that is not a :class:`ThaliaError`, in the server log (the page gets a paragraph)."""
    if not isinstance(exc, ThaliaError):
        LOG.error("%s failed", doing or "an app callback", exc_info=exc)


def placeholder_html(text: str, title: str = "") -> str:
    """What a part of the page shows instead of data it cannot show (both texts escaped)."""
    head = f"<b>{escape(title)}</b><br>" if title else ""
    return f"<div class='thalia-problem' role='status'>{head}{escape(text)}</div>"


def show(message: Message | None, notifications: Any) -> None:
    """The one sink of notifications: ``message`` escaped, on Panel's notification area (``None``: nothing)."""
    if message is None or notifications is None:
        return
    show_fn = {Level.ERROR: notifications.error, Level.WARNING: notifications.warning}.get(
        message.level, notifications.info
    )
    show_fn(message.html, duration=NOTIFICATION_MS.get(message.level, 4000))
