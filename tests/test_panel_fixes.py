"""The Panel work-arounds of :mod:`thalia_viewer.app.panel_fixes`: each replays its bug against Panel's own
code, checks the fix, and fails once Panel no longer has the bug (time to drop the work-around)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest
from panel.io import document as panel_document

from thalia_viewer.app import panel_fixes


class _Socket:
    """A websocket stand-in whose writes are recorded and complete when the test says."""

    def __init__(self) -> None:
        self.written: list[str] = []
        self.pending: list[asyncio.Future] = []


class _Conn:
    def __init__(self, socket: _Socket) -> None:
        self._socket = socket


class _Doc:
    """A session document stand-in (Panel's queues are keyed by document)."""


def _write(conn: _Conn, msg: str) -> list[asyncio.Future]:
    conn._socket.written.append(msg)
    future = asyncio.get_running_loop().create_future()
    conn._socket.pending.append(future)
    return [future]


def _queue(doc: _Doc, conn: _Conn, msg: str) -> None:
    """What ``panel.io.document.schedule_write_events`` does with a patch it cannot write at once."""
    panel_document._WRITE_BLOCK[doc] = True
    panel_document._WRITE_MSGS.setdefault(doc, {}).setdefault(conn, []).append(msg)
    panel_document._dispatch_write_task(doc, panel_document._dispatch_msgs, doc)


def _replay(dispatch: Callable[[Any], Any], monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A first patch is being written when a second is queued; the first write completes before the task
    scheduled for the second runs. Returns what reached the socket."""
    monkeypatch.setattr(panel_document, "_dispatch_msgs", dispatch)
    monkeypatch.setitem(panel_document.extra_socket_handlers, _Socket, _write)
    socket = _Socket()
    conn, doc = _Conn(socket), _Doc()

    async def scenario() -> None:
        _queue(doc, conn, "first")
        await asyncio.sleep(0)  # the writer task runs: "first" written, its task awaits the write
        socket.pending[0].set_result(None)  # the write completes: that task resumes next ...
        _queue(doc, conn, "second")  # ... before the task scheduled for this patch
        for _ in range(20):
            await asyncio.sleep(0)
            for future in socket.pending:
                if not future.done():
                    future.set_result(None)

    try:
        _run_in_own_loop(scenario)
    finally:
        panel_document._WRITE_MSGS.pop(doc, None)
        panel_document._WRITE_BLOCK.pop(doc, None)
    return socket.written


def _run_in_own_loop(scenario: Callable[[], Any]) -> None:
    """``asyncio.run`` in a thread of its own: a browser test in the same worker may hold a running loop here."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(scenario())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    if errors:
        raise errors[0]


def _original() -> Callable[[Any], Any]:
    dispatch = panel_document._dispatch_msgs
    return getattr(dispatch, "__wrapped__", dispatch)


def test_panel_strands_a_patch_queued_while_a_write_completes(monkeypatch):
    written = _replay(_original(), monkeypatch)
    assert written == ["first"], (
        "Panel now writes a patch queued while an earlier write completed: "
        "drop fix_write_queue from thalia_viewer/app/panel_fixes.py"
    )


def test_with_the_fix_every_queued_patch_is_written_in_order(monkeypatch):
    monkeypatch.setattr(panel_document, "_dispatch_msgs", _original())
    panel_fixes.fix_write_queue()
    fixed = panel_document._dispatch_msgs
    assert getattr(fixed, "__wrapped__", None) is _original()
    panel_fixes.fix_write_queue()  # idempotent: not wrapped twice
    assert panel_document._dispatch_msgs is fixed
    assert _replay(fixed, monkeypatch) == ["first", "second"]
