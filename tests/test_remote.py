"""A dataset root read over HTTP (fsspec), from a local server: what a lab does with a shared web folder."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator

import numpy as np
import pytest

from thalia_viewer.core.dataset import ThaliaDataset


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def http_root(tiny_root) -> Iterator[str]:
    """The tiny dataset served read-only by a plain HTTP server on localhost (directory listings on)."""
    handler = functools.partial(_QuietHandler, directory=str(tiny_root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_root_lists_frames_pairs_and_reads_layers(http_root, tiny_root):
    remote, local = ThaliaDataset(http_root), ThaliaDataset(tiny_root)
    assert remote.frames == local.frames
    frame_id = local.frames[0]
    assert remote.frame(frame_id).pairs == local.frame(frame_id).pairs
    pair = local.frame(frame_id).positives[0]
    assert remote.annotation(pair) == local.annotation(pair)
    for key in ("phase", "coherence", "dem", "tcwv_delta", "deformation"):
        np.testing.assert_array_equal(
            remote.frame(frame_id).layer(pair, key).values, local.frame(frame_id).layer(pair, key).values
        )


def test_http_root_that_does_not_exist_is_a_clear_error(http_root):
    from thalia_viewer.core.errors import DatasetNotFoundError

    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        ThaliaDataset(f"{http_root}/no-such-root")
