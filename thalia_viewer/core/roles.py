"""Who may do what on a lab server: roles from a small YAML file, and the identity of one session.

Roles form a ladder; each may do what the roles below it may:

=========== =========================================================
viewer      browse, predict, review (nothing is written)
annotator   + save corrections and revert a pair
reviewer    + tag label releases
trainer     + fine-tune models (write them to the zoo)
admin       everything
=========== =========================================================

The roles file (``thalia-viewer serve ROOT --roles FILE`` or ``$THALIA_ROLES``)::

    default: viewer          # role of a signed-in user the file does not name (default: viewer)
    users:                   # login -> role
      ana: annotator
      ben: reviewer
      carla: admin
    groups:                  # group -> role, with its members here, or a group the login provider
      correctors:            # reports (an OAuth "groups" / "roles" claim)
        role: annotator
        members: [dan, eve]
      ml-team: trainer

A user named under ``users`` has that role; else the highest role of their groups; else ``default``.
Without a login (a single user on localhost) and without a roles file, the session may do everything
(:data:`LOCAL`). A roles file without a login gives everyone the ``default`` role: names typed into a page
prove nothing. The app asks :class:`Identity` before every write (:meth:`Identity.require`), on the server.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Final

import yaml

from .errors import ThaliaError, did_you_mean

ROLES_ENV: Final = "THALIA_ROLES"


class Role(Enum):
    """A rung of the ladder (higher may do more)."""

    VIEWER = "viewer"
    ANNOTATOR = "annotator"
    REVIEWER = "reviewer"
    TRAINER = "trainer"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)


class Action(Enum):
    """A write the server checks; the value says it in words."""

    SAVE = "save corrections"
    REVERT = "revert a pair"
    TAG = "tag label releases"
    TRAIN = "fine-tune models"


#: The lowest role that may do each action.
LOWEST_ROLE: Final = {
    Action.SAVE: Role.ANNOTATOR,
    Action.REVERT: Role.ANNOTATOR,
    Action.TAG: Role.REVIEWER,
    Action.TRAIN: Role.TRAINER,
}
DEFAULT_ROLE: Final = Role.VIEWER  # of a signed-in user a roles file does not name
GROUP_CLAIMS: Final = ("groups", "roles")  # OAuth user-info claims read as group names


class RolesError(ThaliaError, ValueError):
    """The roles file cannot be read or says something invalid."""


class PermissionDenied(ThaliaError, PermissionError):
    """A user tried a write their role does not allow (nothing was written)."""


def _role(value: Any, where: str) -> Role:
    try:
        return Role(str(value).strip().lower())
    except ValueError as exc:
        names = [r.value for r in Role]
        raise RolesError(
            f"{where}: unknown role {value!r}.{did_you_mean(value, names)}", f"Roles: {', '.join(names)}."
        ) from exc


@dataclass(frozen=True)
class RolesConfig:
    """Roles of users and groups (see the module docstring for the file)."""

    users: Mapping[str, Role] = field(default_factory=dict)
    groups: Mapping[str, Role] = field(default_factory=dict)
    members: Mapping[str, frozenset[str]] = field(default_factory=dict)  # group -> users named in the file
    default: Role = DEFAULT_ROLE
    source: str = "<roles>"

    @classmethod
    def from_mapping(cls, data: Any, source: str = "<roles>") -> RolesConfig:
        """Validate a parsed roles file (``None``: an empty file, everyone has ``default``)."""
        data = data or {}
        if not isinstance(data, Mapping):
            raise RolesError(
                f"{source}: expected a mapping with default / users / groups.",
                "See `thalia-viewer serve --help`.",
            )
        unknown = set(data) - {"default", "users", "groups"}
        if unknown:
            raise RolesError(
                f"{source}: unknown key {sorted(unknown)[0]!r}.", "Keys: default, users, groups."
            )
        default = _role(data.get("default", DEFAULT_ROLE.value), f"{source}: default")
        users_raw = data.get("users") or {}
        groups_raw = data.get("groups") or {}
        for name, value in (("users", users_raw), ("groups", groups_raw)):
            if not isinstance(value, Mapping):
                raise RolesError(f"{source}: {name} must map names to roles, got {type(value).__name__}.")
        users = {str(u): _role(r, f"{source}: users.{u}") for u, r in users_raw.items()}
        groups, members = {}, {}
        for g, spec in groups_raw.items():
            where = f"{source}: groups.{g}"
            if isinstance(spec, Mapping):
                if "role" not in spec:
                    raise RolesError(
                        f"{where}: a group needs a role.", "e.g. {role: annotator, members: [ana, ben]}."
                    )
                listed = spec.get("members") or []
                if isinstance(listed, str) or not isinstance(listed, list):
                    raise RolesError(f"{where}: members must be a list of logins, got {listed!r}.")
                groups[str(g)] = _role(spec["role"], where)
                members[str(g)] = frozenset(map(str, listed))
            else:
                groups[str(g)] = _role(spec, where)
        return cls(users, groups, members, default, source)

    def role_of(self, user: str | None, groups: Iterable[str] = ()) -> Role:
        """The role of ``user`` (a login; ``None``: nobody signed in) who the login provider says is in ``groups``."""
        if user is not None and user in self.users:
            return self.users[user]
        names = set(groups) | {g for g, people in self.members.items() if user is not None and user in people}
        found = [self.groups[g] for g in names if g in self.groups]
        return max(found, key=lambda r: r.rank) if found else self.default


def load_roles(path: str | os.PathLike[str]) -> RolesConfig:
    """Read and validate a roles file (:class:`RolesError` names the file and the problem)."""
    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise RolesError(
            f"roles file {p} cannot be read ({exc.strerror or exc}).", "Check the --roles path."
        ) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RolesError(
            f"roles file {p} is not valid YAML: {exc}", "Fix the indentation or quoting."
        ) from exc
    return RolesConfig.from_mapping(data, str(p))


@dataclass(frozen=True)
class Identity:
    """Who a session is: the login (``None`` without one), their groups and their role."""

    user: str | None
    role: Role
    groups: tuple[str, ...] = ()

    @property
    def authenticated(self) -> bool:
        """Whether a login (``panel serve --basic-auth`` or OAuth) vouches for the user."""
        return self.user is not None

    def can(self, action: Action) -> bool:
        return self.role.rank >= LOWEST_ROLE[action].rank

    def require(self, action: Action) -> None:
        """Raise :class:`PermissionDenied` unless this identity may do ``action``."""
        if not self.can(action):
            who = f"{self.user} ({self.role.value})" if self.user else f"this page ({self.role.value})"
            need = LOWEST_ROLE[action].value
            raise PermissionDenied(
                f"{who} may not {action.value}; nothing was written.",
                f"Ask an admin for the {need} role (the roles file of the server).",
            )

    def author(self, typed: str) -> str:
        """The author to record: the login when signed in (whatever the page sent), else the typed name."""
        return self.user if self.user is not None else str(typed or "").strip()

    def describe(self) -> str:
        """e.g. ``ana (annotator)``; ``""`` for the local single user."""
        return f"{self.user} ({self.role.value})" if self.user is not None else ""


#: A single user on localhost: no login, no roles file: may do everything.
LOCAL: Final = Identity(None, Role.ADMIN)


def identify(user: str | None, groups: Iterable[str] = (), config: RolesConfig | None = None) -> Identity:
    """The identity of a session: ``user`` (the login, ``None`` without one), its ``groups``, and ``config``
    (``None``: no roles file: a signed-in user is an admin, as is the local user)."""
    user = str(user).strip() if user is not None and str(user).strip() else None
    groups = tuple(sorted({str(g) for g in groups}))
    if config is None:
        return Identity(user, Role.ADMIN, groups)
    return Identity(user, config.role_of(user, groups), groups)


def groups_from_claims(claims: Mapping[str, Any] | None) -> list[str]:
    """Group names from a login provider's user info (``groups`` / ``roles`` claims: a list or a string)."""
    found: list[str] = []
    for key in GROUP_CLAIMS:
        value = (claims or {}).get(key)
        if isinstance(value, str):
            found += [v.strip() for v in value.replace(",", " ").split() if v.strip()]
        elif isinstance(value, list | tuple):
            found += [str(v) for v in value]
    return found
