"""``thalia-viewer serve``: run ``panel serve`` on the app module with a dataset root."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Final

from thalia_viewer.app import theme
from thalia_viewer.app.data import ROOT_ENV
from thalia_viewer.app.overlay import STORE_ENV
from thalia_viewer.app.warm import SETUP_SCRIPT
from thalia_viewer.core.dataset import ThaliaDataset

APP_MODULE: Final = Path(__file__).with_name("main.py")
EXIT_INTERRUPTED: Final = 130
ANY_ADDRESS: Final = ("0.0.0.0", "::", "")


def panel_command(root: str, port: int = 5006, address: str = "127.0.0.1", show: bool = False,
                  extra: list[str] | None = None) -> list[str]:  # fmt: skip
    """The ``panel serve`` command line: app module, port, address, websocket origins, extra options, root."""
    cmd = [sys.executable, "-m", "panel", "serve", str(APP_MODULE), "--port", str(port), "--address", address or "0.0.0.0"]
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
        except ValueError:
            msg = f"--port expects a number, got {options['--port']!r}"
            raise ValueError(msg) from None
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
            print("warning: --roles without a login (--basic-auth FILE or --oauth-provider ...): every page gets the "
                  "roles file's default role.", file=sys.stderr)  # fmt: skip
    if options.get("--store-endpoint"):
        env[ENDPOINT_ENVS[0]] = options["--store-endpoint"]
    return env


def serve(root: str, port: int = 5006, address: str = "127.0.0.1", show: bool = False, extra: list[str] | None = None,
          store: str | None = None) -> int:  # fmt: skip
    """Serve the explore app on ``root``; blocks until the server stops and returns its exit code.

    The root is checked first (a bad one raises ``DatasetNotFoundError`` before anything starts), then passed
    to the app as ``--args ROOT`` and ``$THALIA_ROOT``. ``--port`` / ``--address`` found among ``extra``
    win over the arguments (the CLI's ``serve ROOT --port N`` hands them over that way). ``extra`` are more ``panel serve`` options
    (``--num-procs 4``, ``--basic-auth FILE``, ``--prefix /thalia``, ``--allow-websocket-origin host:port``
    when serving on 0.0.0.0 behind a name). ``store``: the annotation store every session saves to (passed as
    ``$THALIA_STORE``; default: beside a local root). ``--roles FILE`` and ``--store-endpoint URL`` among
    ``extra`` go to every process as ``$THALIA_ROLES`` / ``$THALIA_STORE_ENDPOINT`` (:func:`lab_environment`).
    """
    if "://" not in root:
        root = str(Path(root).expanduser().resolve())
    ThaliaDataset(root)  # fail early, with the dataset's own message
    extra, port, address = split_extra(extra, port, address)
    extra, ours = take_options(extra, ("--store", *LAB_OPTIONS))  # `serve ROOT --port N --store S` reaches here as extra
    store = ours.get("--store", store)
    env = {**os.environ, ROOT_ENV: root, theme.STATIC_ENV: theme.STATIC_ROUTE}
    if store:
        if "://" not in store:
            store = str(Path(store).expanduser().resolve())
        env[STORE_ENV] = store
    env.update(lab_environment(ours, extra))
    proc = subprocess.Popen(panel_command(root, port, address, show, extra), env=env)

    def stop(signum: int, _frame: object) -> None:  # a process manager's SIGTERM stops the server too
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        return EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, previous)
