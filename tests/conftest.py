"""Shared fixtures: tiny datasets made with the project's own generator, in temporary folders."""

from __future__ import annotations

import socket

import pytest

from thalia_viewer.core.synth.writer import write_dataset

TINY = {"n_frames": 2, "shape": (160, 192), "n_dates": 12, "seed": 7}


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for a test server)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Tests never reach the network; loopback (local test servers) stays allowed."""
    real_connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if (
            isinstance(host, str)
            and not (host.startswith("127.") or host in ("localhost", "::1"))
            and self.family != socket.AF_UNIX
        ):
            raise OSError(f"tests may not use the network (tried {address})")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory):
    """A tiny synthetic dataset (2 frames, 160 x 192 px, 12 dates), Zarr 2 like the real cubes. Read-only."""
    root = tmp_path_factory.mktemp("synth") / "tiny"
    write_dataset(root, **TINY)
    return root


@pytest.fixture(scope="session")
def tiny_root_v3(tmp_path_factory):
    """The same dataset written as Zarr 3."""
    root = tmp_path_factory.mktemp("synth3") / "tiny3"
    write_dataset(root, zarr_format=3, **TINY)
    return root


@pytest.fixture(scope="session")
def catalogue_root(tmp_path_factory):
    """The real-size catalogue (38 frames, 19,919 records, up to 320 dates), cubes metadata-only except the
    first two pairs of the 320-date frame 162A_06192_060402 (128 x 128 px). Read-only."""
    from thalia_viewer.core.synth.catalogue import default_keys, plan_catalogue, write_catalogue

    frame = next(f for f in plan_catalogue(0) if f.frame_id == "162A_06192_060402")
    root = tmp_path_factory.mktemp("catalogue") / "catalogue"
    write_catalogue(root, shape=(128, 128), fill=default_keys(frame, 2))
    return root
