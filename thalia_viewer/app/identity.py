"""The identity of a served session: ``panel serve``'s login (basic auth or OAuth) and the roles file.

The login comes from the server (``pn.state.user``, the signed cookie of ``--basic-auth`` or an OAuth
provider), never from the page; the roles file from ``$THALIA_ROLES`` (``thalia-viewer serve --roles FILE``),
re-read when it changes. The role model itself lives in :mod:`thalia_viewer.core.roles` (no Panel).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import panel as pn

from thalia_viewer.core.errors import ThaliaError
from thalia_viewer.core.roles import (
    LOCAL,
    ROLES_ENV,
    Identity,
    RolesConfig,
    groups_from_claims,
    identify,
    load_roles,
)

_lock = threading.Lock()
_loaded: dict[str, tuple[float, RolesConfig]] = {}  # path -> (mtime, config)


def roles_config(environ: os._Environ[str] | dict[str, str] | None = None) -> RolesConfig | None:
    """The roles file named by ``$THALIA_ROLES`` (``None``: none set), re-read when its mtime changes.

    Raises :class:`~thalia_viewer.core.roles.RolesError` for a missing or invalid file.
    """
    path = (environ if environ is not None else os.environ).get(ROLES_ENV, "").strip()
    if not path:
        return None
    try:
        mtime = Path(path).expanduser().stat().st_mtime
    except OSError:
        mtime = -1.0  # load_roles reports it
    with _lock:
        cached = _loaded.get(path)
        if cached is None or cached[0] != mtime:
            cached = (mtime, load_roles(path))
            _loaded[path] = cached
        return cached[1]


def session_identity() -> Identity:
    """Who the current session is (outside a served session: the local user, :data:`LOCAL`).

    Raises :class:`~thalia_viewer.core.roles.RolesError` when the roles file cannot be used (the app then
    shows it and treats the session as a viewer: never silently widened to admin).
    """
    in_session = pn.state.curdoc is not None and pn.state.curdoc.session_context is not None
    user = pn.state.user if in_session else None
    config = roles_config()
    if user is None and config is None:
        return LOCAL
    claims = pn.state.user_info if in_session and user is not None else None
    return identify(user, groups_from_claims(claims), config)


def identity_or_viewer() -> tuple[Identity, str | None]:
    """:func:`session_identity`, or (when the roles file cannot be used) the user as a viewer and the error."""
    try:
        return session_identity(), None
    except ThaliaError as exc:
        in_session = pn.state.curdoc is not None and pn.state.curdoc.session_context is not None
        return identify(pn.state.user if in_session else None, (), RolesConfig()), str(exc)
