"""``thalia-viewer serve``: run ``panel serve`` on the app module with a dataset root."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Final

from thalia_viewer.app import theme
from thalia_viewer.app.data import ROOT_ENV
from thalia_viewer.app.warm import SETUP_SCRIPT
from thalia_viewer.core.annotations import STORE_ENV
from thalia_viewer.core.dataset import ThaliaDataset
from thalia_viewer.core.errors import ThaliaError

APP_MODULE: Final = Path(__file__).with_name("main.py")
EXIT_INTERRUPTED: Final = 130
ANY_ADDRESS: Final = ("0.0.0.0", "::", "")
STOP_SIGNALS: Final = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
STOP_TIMEOUT: Final = 10.0  # s a stopping server gets before SIGKILL


def panel_command(
    root: str,
    port: int = 5006,
    address: str = "127.0.0.1",
    show: bool = False,
    extra: list[str] | None = None,
) -> list[str]:
    """The ``panel serve`` command line: app module, port, address, websocket origins, extra options, root."""
    cmd = [
        sys.executable,
        "-m",
        "panel",
        "serve",
        str(APP_MODULE),
        "--port",
        str(port),
        "--address",
        address or "0.0.0.0",
    ]
    origins = [f"{address}:{port}"] if address not in ANY_ADDRESS else []
    if address in ("127.0.0.1", "localhost", *ANY_ADDRESS):
        origins += [f"localhost:{port}", f"127.0.0.1:{port}"]
    for origin in dict.fromkeys(origins):
        cmd += ["--allow-websocket-origin", origin]
    if theme.ASSETS_DIR.is_dir():
        cmd += ["--static-dirs", f"{theme.STATIC_ROUTE}={theme.ASSETS_DIR}"]
    if show:
        cmd.append("--show")
    extra = [a for a in (extra or []) if a != "--"]
    if not any(a.split("=", 1)[0] == "--setup" for a in extra):  # warm every process at start (app/warm.py)
        cmd += ["--setup", str(SETUP_SCRIPT)]
    return [*cmd, *extra, "--args", root]


def split_extra(extra: list[str] | None, port: int, address: str) -> tuple[list[str], int, str]:
    """Take ``--port`` / ``--address`` out of the extra ``panel serve`` options (they set the allowed origins)."""
    rest, options = take_options(extra, ("--port", "--address"))
    if "--port" in options:
        try:
            port = int(options["--port"])
        except ValueError as exc:
            msg = f"--port expects a number, got {options['--port']!r}"
            raise ValueError(msg) from exc
    return rest, port, options.get("--address", address)


def take_options(extra: list[str] | None, names: tuple[str, ...]) -> tuple[list[str], dict[str, str]]:
    """Split ``--name value`` / ``--name=value`` of ``names`` out of an option list (the last one wins)."""
    rest: list[str] = []
    found: dict[str, str] = {}
    items = [a for a in (extra or []) if a != "--"]
    i = 0
    while i < len(items):
        name, eq, value = items[i].partition("=")
        if name in names:
            if not eq:
                if i + 1 >= len(items):
                    msg = f"{name} needs a value"
                    raise ValueError(msg)
                value = items[i + 1]
                i += 1
            found[name] = value
        else:
            rest.append(items[i])
        i += 1
    return rest, found


#: ``serve`` options of a lab server, each passed to every app process as an environment variable.
LAB_OPTIONS: Final = ("--roles", "--store-endpoint")
AUTH_OPTIONS: Final = ("--basic-auth", "--oauth-provider", "--auth-module")


def lab_environment(options: dict[str, str], extra: list[str]) -> dict[str, str]:
    """``$THALIA_ROLES`` (the roles file, checked now: a bad one stops the start) and ``$THALIA_STORE_ENDPOINT``
    from ``--roles`` / ``--store-endpoint``; warns when roles are given without a login."""
    from thalia_viewer.core.annotations.store import ENDPOINT_ENVS
    from thalia_viewer.core.roles import ROLES_ENV, load_roles

    env = {}
    if options.get("--roles"):
        path = str(Path(options["--roles"]).expanduser().resolve())
        load_roles(path)  # RolesError (exit 2) before anything starts
        env[ROLES_ENV] = path
        if not any(a.split("=", 1)[0] in AUTH_OPTIONS for a in extra):
            print(
                "warning: --roles without a login (--basic-auth FILE or --oauth-provider ...): every page gets the "
                "roles file's default role.",
                file=sys.stderr,
            )
    if options.get("--store-endpoint"):
        env[ENDPOINT_ENVS[0]] = options["--store-endpoint"]
    return env


def check_root(root: str) -> ThaliaDataset:
    """The dataset at ``root`` if the app can serve it; a :class:`ThaliaError` saying why not otherwise.

    The root must be a folder (or URL) holding frame stores, with readable ``annotations.json`` /
    ``quality_timeseries.json``, and at least one frame store that opens. Frames that do not open are
    named on stderr (the app shows the others and reports those where they are picked).
    """
    dataset = ThaliaDataset(root)
    dataset.require_frames()
    dataset.annotations  # noqa: B018  (parse errors name the file)
    dataset.quality  # noqa: B018
    broken: list[ThaliaError] = []
    for frame_id in dataset.frames:
        try:
            dataset.frame(frame_id)
        except ThaliaError as exc:
            broken.append(exc)
    if broken and len(broken) == len(dataset.frames):
        raise broken[0]
    for exc in broken:
        print(f"thalia-viewer serve: warning: {exc}", file=sys.stderr)
    return dataset


def start_server(cmd: list[str], env: dict[str, str]) -> subprocess.Popen:
    """Start ``panel serve`` as the leader of a process group of its own (its ``--num-procs`` workers join it)."""
    return subprocess.Popen(cmd, env=env, start_new_session=True)


def stop_server(proc: subprocess.Popen, timeout: float = STOP_TIMEOUT) -> None:
    """Stop the server's whole process group (leader and workers): SIGTERM, then SIGKILL after ``timeout`` s."""
    pgid = getattr(proc, "pid", None)
    if not pgid:  # a stand-in without a process
        proc.terminate()
        return
    _signal_group(pgid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _signal_group(pgid, signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + timeout  # workers may outlive the leader by a moment
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _group_alive(pgid):
        _signal_group(pgid, signal.SIGKILL)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def serve(
    root: str,
    port: int = 5006,
    address: str = "127.0.0.1",
    show: bool = False,
    extra: list[str] | None = None,
    store: str | None = None,
) -> int:
    """Serve the explore app on ``root``; blocks until the server stops and returns its exit code.

    The root is checked first (:func:`check_root`: a bad one raises before anything starts), then passed
    to the app as ``--args ROOT`` and ``$THALIA_ROOT``. ``--port`` / ``--address`` found among ``extra``
    win over the arguments (the CLI's ``serve ROOT --port N`` hands them over that way). ``extra`` are more ``panel serve`` options
    (``--num-procs 4``, ``--basic-auth FILE``, ``--prefix /thalia``, ``--allow-websocket-origin host:port``
    when serving on 0.0.0.0 behind a name). ``store``: the annotation store every session saves to (passed as
    ``$THALIA_STORE``; default: beside a local root). ``--roles FILE`` and ``--store-endpoint URL`` among
    ``extra`` go to every process as ``$THALIA_ROLES`` / ``$THALIA_STORE_ENDPOINT`` (:func:`lab_environment`).

    The server runs in a process group of its own: SIGTERM, SIGINT or SIGHUP to this process (or Ctrl-C)
    stops the leader and every ``--num-procs`` worker and frees the port; so does the leader's own exit.
    """
    if "://" not in root:
        root = str(Path(root).expanduser().resolve())
    check_root(root)  # fail early, with the dataset's own message
    extra, port, address = split_extra(extra, port, address)
    extra, ours = take_options(
        extra, ("--store", *LAB_OPTIONS)
    )  # `serve ROOT --port N --store S` reaches here as extra
    store = ours.get("--store", store)
    env = {**os.environ, ROOT_ENV: root}
    if store:
        if "://" not in store:
            store = str(Path(store).expanduser().resolve())
        env[STORE_ENV] = store
    env.update(lab_environment(ours, extra))

    def stop(signum: int, _frame: object) -> None:  # a process manager's SIGTERM stops the server too
        raise KeyboardInterrupt

    previous = {s: signal.signal(s, stop) for s in STOP_SIGNALS}
    proc = None
    try:
        proc = start_server(panel_command(root, port, address, show, extra), env)
        code = proc.wait()
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if proc is not None:
            stop_server(proc)
    return code
