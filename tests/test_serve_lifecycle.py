"""``thalia-viewer serve -- --num-procs N``: a signal stops the server and every worker, and frees the port.

The server is started as a user would (the console entry point in a process of its own), stopped with
SIGTERM, restarted on the same port, and stopped with SIGINT (Ctrl-C). Waits are for conditions (the port
answering, the process group empty), never fixed sleeps.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import free_port
from thalia_viewer.app import serve as serve_module
from thalia_viewer.core.errors import DatasetNotFoundError, NotAThaliaStoreError

START_TIMEOUT_S = 240.0  # a loaded 2-core machine starts two panel workers slowly
STOP_TIMEOUT_S = 60.0


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _port_free(port: int) -> bool:
    """Whether a new server could bind the port (SO_REUSEADDR, as Tornado binds: TIME_WAIT does not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, process group) of a live, non-zombie process; None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    if fields[0] == "Z":
        return None
    return int(fields[1]), int(fields[2])


def _processes() -> dict[int, tuple[int, int]]:
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := _stat(int(entry))) is not None:
            out[int(entry)] = st
    return out


def _group(pgid: int) -> list[int]:
    return [pid for pid, (_, group) in _processes().items() if group == pgid]


def _wait(condition, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}; server log:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def _start(root: Path, port: int, log: Path) -> tuple[subprocess.Popen, int]:
    """``thalia-viewer serve ROOT --port P -- --num-procs 2``; returns the process and its server's process group."""
    cmd = [
        sys.executable,
        "-m",
        "thalia_viewer.cli",
        "serve",
        str(root),
        "--port",
        str(port),
        "--",
        "--num-procs",
        "2",
    ]
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    _wait(lambda: _listening(port) or proc.poll() is not None, START_TIMEOUT_S, "the server to listen", log)
    assert proc.poll() is None, log.read_text()[-3000:]
    leaders = [pid for pid, (ppid, _) in _processes().items() if ppid == proc.pid]
    assert len(leaders) == 1, leaders
    pgid = leaders[0]
    assert _stat(pgid)[1] == pgid  # the panel server leads a process group of its own
    _wait(lambda: len(_group(pgid)) >= 3, START_TIMEOUT_S, "the leader and its two workers", log)
    return proc, pgid


@pytest.mark.slow
def test_signals_stop_every_worker_and_free_the_port(tiny_root, tmp_path):
    port = free_port()
    log = tmp_path / "serve.log"
    try:
        for signum in (signal.SIGTERM, signal.SIGINT):  # the second run reuses the port the first freed
            proc, pgid = _start(tiny_root, port, log)
            workers = _group(pgid)
            proc.send_signal(signum)
            assert proc.wait(timeout=STOP_TIMEOUT_S) == serve_module.EXIT_INTERRUPTED
            _wait(lambda pgid=pgid: not _group(pgid), STOP_TIMEOUT_S, f"workers {workers} to end", log)
            _wait(lambda: _port_free(port), STOP_TIMEOUT_S, f"port {port} to be free", log)
    finally:
        for pid in _group(pgid) if "pgid" in locals() else []:
            os.kill(pid, signal.SIGKILL)


def test_serve_refuses_a_file_an_empty_folder_and_a_root_without_readable_frames(tmp_path, monkeypatch):
    started = []
    monkeypatch.setattr(serve_module, "start_server", lambda cmd, env: started.append(cmd))
    a_file = tmp_path / "root.txt"
    a_file.write_text("not a dataset")
    with pytest.raises(NotAThaliaStoreError, match="is not a folder"):
        serve_module.serve(str(a_file))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetNotFoundError, match=r"holds no <frame_id>\.zarr store"):
        serve_module.serve(str(tmp_path / "empty"))
    broken = tmp_path / "broken"
    (broken / "124D_05291_081406.zarr").mkdir(parents=True)
    (broken / "124D_05291_081406.zarr" / "readme.txt").write_text("on tape")
    with pytest.raises(NotAThaliaStoreError, match="is not a readable Zarr store"):
        serve_module.serve(str(broken))
    assert started == []


def test_stop_server_ends_the_whole_group():
    """Without a signal: a leader's child (a worker) still running is ended with it."""
    code = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)']); time.sleep(300)"
    proc = serve_module.start_server([sys.executable, "-c", code], dict(os.environ))
    deadline = time.monotonic() + 60
    while len(_group(proc.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(_group(proc.pid)) == 2
    serve_module.stop_server(proc, timeout=10)
    assert _group(proc.pid) == []
