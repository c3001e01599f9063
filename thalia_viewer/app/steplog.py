"""Server-side timing of pair steps, for the load benchmark (``bench/bench_load.py``); off unless asked for.

With ``$THALIA_STEP_LOG=PATH`` every server process appends JSON lines to ``PATH.<pid>``:

- ``{"k": "key", "s": session, "key": "j", "client": C, "start": S, "end": E, "cpu": U}``: a step key's handler
  (``C``: when the browser sent the key, ``S`` / ``E``: when the server began / finished handling it, all
  seconds since the epoch, so the browser's and the server's clocks agree on one machine; ``U``: CPU seconds
  the handler's thread spent in it, the rest of ``E - S`` being waits for the GIL);
- ``{"k": "out", "s": session, "t": T, "n": bytes}``: every websocket frame the server wrote to the session
  (with ``$THALIA_STEP_LOG_DETAIL=N``, ``"x"``: the first N characters of a text frame, to see what a step sends).

A step's server work is its handler plus the frames it caused (the document patches, the map's show, the
deferred updates), until the session's next key. Without the variable nothing is hooked.

``$THALIA_PROFILE=PATH``: pyinstrument profiles the process's main thread (the sessions' event loop) from the
start and saves its session to ``PATH.<pid>.pyisession`` when the process exits normally (SIGINT); render it
with ``pyinstrument --load PATH.<pid>.pyisession`` (``-r html`` for a page).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any, Final

STEP_LOG_ENV: Final = "THALIA_STEP_LOG"
PROFILE_ENV: Final = "THALIA_PROFILE"
DETAIL_ENV: Final = "THALIA_STEP_LOG_DETAIL"

_lock = threading.Lock()
_file: Any = None
_installed = False
_detail = 0  # characters of each text frame logged


def enabled() -> bool:
    """Whether this process logs step timings."""
    return _file is not None


def _write(record: dict[str, Any]) -> None:
    if _file is None:
        return
    line = json.dumps(record, separators=(",", ":")) + "\n"
    with _lock, contextlib.suppress(ValueError):  # closed at exit: frames written while the server stops
        _file.write(line)


def session_id() -> str:
    """The id of the current Panel session ('' outside one)."""
    import panel as pn

    doc = pn.state.curdoc
    context = getattr(doc, "session_context", None)
    return str(getattr(context, "id", "") or "")


def timed_key(handler: Callable[[str], None], client_s: float | None, key: str) -> None:
    """Run ``handler(key)``, logging its timing when the log is on (``client_s``: when the browser sent it)."""
    if _file is None:
        handler(key)
        return
    start, cpu = time.time(), time.thread_time()
    try:
        handler(key)
    finally:
        _write(
            {
                "k": "key",
                "s": session_id(),
                "key": key,
                "client": client_s,
                "start": start,
                "end": time.time(),
                "cpu": time.thread_time() - cpu,
            }
        )


def _hook_writes() -> None:
    """Log every frame written to a Bokeh session's websocket (Bokeh's and Panel's own dispatch alike)."""
    from tornado.websocket import WebSocketHandler

    original = WebSocketHandler.write_message

    def write_message(self: Any, message: Any, binary: bool = False) -> Any:
        future = original(self, message, binary)
        connection = getattr(self, "connection", None)
        session = getattr(connection, "session", None)
        if session is not None:
            size = len(message) if isinstance(message, (bytes, str)) else len(json.dumps(message))
            record = {"k": "out", "s": str(session.id), "t": time.time(), "n": size}
            if _detail and isinstance(message, str):
                record["x"] = message[:_detail]
            _write(record)
        return future

    WebSocketHandler.write_message = write_message  # type: ignore[method-assign]


def install(environ: dict[str, str] | os._Environ[str] | None = None) -> bool:
    """Start logging (and profiling) as the environment asks; once per process. Returns whether it logs."""
    global _file, _installed, _detail
    env = os.environ if environ is None else environ
    if _installed:
        return enabled()
    _installed = True
    path = env.get(STEP_LOG_ENV, "").strip()
    detail = env.get(DETAIL_ENV, "").strip()
    _detail = int(detail) if detail.isdigit() else 0
    if path:
        _file = open(f"{path}.{os.getpid()}", "a", buffering=1, encoding="utf-8")  # noqa: SIM115 (process-long)
        atexit.register(_file.close)
        _hook_writes()
    profile = env.get(PROFILE_ENV, "").strip()
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.002, async_mode="disabled")
        profiler.start()

        def dump() -> None:  # the raw session (fast); `pyinstrument --load PATH.<pid>.pyisession` renders it
            session = profiler.stop()
            session.save(f"{profile}.{os.getpid()}.pyisession")

        atexit.register(dump)
    return enabled()
