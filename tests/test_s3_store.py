"""A lab's shared corrections store on S3-compatible object storage, against a real S3 API server.

The server is moto's standalone one (``moto[server]``, the dev extra), started on localhost for the session;
the store is reached the way a lab's app is: ``s3://BUCKET/PREFIX`` plus ``$THALIA_STORE_ENDPOINT`` and the
usual AWS variables. Two PROCESSES save at the same moment: different pairs both land (no save lost), the
same pair from the same version gives one save and one conflict naming the winner.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import numpy as np
import pytest

from tests.conftest import free_port
from thalia_viewer.core import schema
from thalia_viewer.core.annotations import AnnotationStore, source_annotation
from thalia_viewer.core.annotations.store import s3_options
from thalia_viewer.core.dataset import ThaliaDataset
from thalia_viewer.core.errors import ConflictError

BUCKET = "thalia-lab"
START_TIMEOUT_S = 60


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory) -> Iterator[str]:
    """moto's S3 server on a free localhost port, with one bucket; the AWS variables point at it."""
    pytest.importorskip("moto.server", reason="moto[server] (the dev extra) runs the S3 server")
    boto3 = pytest.importorskip("boto3")
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{port}"
    saved = {
        k: os.environ.get(k)
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "THALIA_STORE_ENDPOINT")
    }
    os.environ.update(
        AWS_ACCESS_KEY_ID="lab",
        AWS_SECRET_ACCESS_KEY="lab-secret",
        AWS_DEFAULT_REGION="us-east-1",
        THALIA_STORE_ENDPOINT=endpoint,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "moto's S3 server did not start"
                time.sleep(0.1)
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
        yield endpoint
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


@pytest.fixture
def s3_url(s3_endpoint) -> str:
    return f"s3://{BUCKET}/stores/{uuid.uuid4().hex[:8]}"


def _edited(root: str, pair, value: int) -> tuple[dict, dict]:
    """The pair's source masks with a square of Sill / High painted at a place that depends on ``value``."""
    src = source_annotation(ThaliaDataset(root), pair)
    masks = {k: v.copy() for k, v in src.masks.items()}
    r0 = 10 + 20 * value
    masks[schema.ACTIVITY_MASK][r0 : r0 + 8, 10:18] = 3  # Sill
    masks[schema.INTENSITY_MASK][r0 : r0 + 8, 10:18] = 3  # High
    masks[schema.DEFORMATION_MASK] = schema.deformation_from_activity(masks[schema.ACTIVITY_MASK]).astype(
        np.uint8
    )
    return masks, src.record


def _save_at_once(url: str, root: str, pair_key: str, author: str, barrier, results) -> None:
    """One process: open the store, read the pair, wait for the other process, save; report the outcome."""
    from thalia_viewer.core.pairs import Pair

    pair = Pair.parse(pair_key)
    store = AnnotationStore(url, dataset=ThaliaDataset(root))
    base = store.read_merged(pair).version
    masks, record = _edited(root, pair, value=len(author) % 3)
    barrier.wait(timeout=60)
    try:
        version = store.save_pair(pair, masks, record, author=author, message=f"{author}'s edit", base=base)
    except ConflictError as exc:
        results.put((author, "conflict", str(exc)))
    except Exception as exc:  # reported to the test, which fails with it
        results.put((author, "error", f"{type(exc).__name__}: {exc}"))
    else:
        results.put((author, "saved", version))


def _run_two(url: str, root: str, jobs: list[tuple[str, str]]) -> dict[str, tuple[str, str]]:
    ctx = mp.get_context("spawn")  # fresh interpreters: two real processes, nothing shared but the S3 server
    barrier, results = ctx.Barrier(len(jobs)), ctx.Queue()
    procs = [
        ctx.Process(target=_save_at_once, args=(url, root, key, author, barrier, results))
        for key, author in jobs
    ]
    for p in procs:
        p.start()
    out = {}
    for _ in jobs:
        author, outcome, detail = results.get(timeout=180)
        out[author] = (outcome, detail)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    return out


def test_endpoint_options_come_from_the_environment():
    opts = s3_options({"THALIA_STORE_ENDPOINT": "http://minio.lab:9000", "AWS_REGION": "eu-west-1"})
    assert opts == {
        "endpoint_url": "http://minio.lab:9000",
        "force_path_style": True,
        "allow_http": True,
        "region": "eu-west-1",
    }
    assert s3_options({"AWS_ENDPOINT_URL": "https://s3.lab.org"})["allow_http"] is False
    assert s3_options({}) == {}


def test_a_store_on_s3_saves_reads_and_keeps_history(s3_url, tiny_root):
    ds = ThaliaDataset(tiny_root)
    pair = ds.frame(ds.frames[0]).pairs[0]
    store = AnnotationStore(s3_url, dataset=ds)
    masks, record = _edited(str(tiny_root), pair, 1)
    version = store.save_pair(pair, masks, record, author="ana", message="first", base=None)
    again = AnnotationStore(s3_url, dataset=ds, create=False)  # another app process opening the same store
    got = again.read_pair(pair)
    assert got is not None and got.version == version and got.author == "ana"
    assert np.array_equal(got.masks[schema.ACTIVITY_MASK], masks[schema.ACTIVITY_MASK])
    assert [v.author for v in again.history(pair=pair)] == ["ana"]


def test_two_processes_saving_different_pairs_at_once_both_land(s3_url, tiny_root):
    ds = ThaliaDataset(tiny_root)
    a, b = ds.frame(ds.frames[0]).pairs[:2]
    AnnotationStore(s3_url, dataset=ds)  # created before, as a lab's first start does
    out = _run_two(s3_url, str(tiny_root), [(a.key, "ana"), (b.key, "ben")])
    assert {o for o, _ in out.values()} == {"saved"}, out
    store = AnnotationStore(s3_url, dataset=ds, create=False)
    assert {(v.pair, v.author) for v in store.history()} == {(a, "ana"), (b, "ben")}  # no save lost
    for pair, author in ((a, "ana"), (b, "ben")):
        saved = store.read_pair(pair)
        expected, _ = _edited(str(tiny_root), pair, len(author) % 3)
        assert np.array_equal(saved.masks[schema.ACTIVITY_MASK], expected[schema.ACTIVITY_MASK])


def test_two_processes_saving_the_same_pair_at_once_give_one_save_and_one_conflict(s3_url, tiny_root):
    ds = ThaliaDataset(tiny_root)
    pair = ds.frame(ds.frames[0]).pairs[0]
    AnnotationStore(s3_url, dataset=ds)
    out = _run_two(s3_url, str(tiny_root), [(pair.key, "ana"), (pair.key, "bob")])
    outcomes = sorted(o for o, _ in out.values())
    assert outcomes == ["conflict", "saved"], out
    winner = next(a for a, (o, _) in out.items() if o == "saved")
    loser_text = next(d for o, d in out.values() if o == "conflict")
    assert winner in loser_text and "were not saved" in loser_text  # the conflict names who saved
    store = AnnotationStore(s3_url, dataset=ds, create=False)
    assert [v.author for v in store.history(pair=pair)] == [winner]
    assert store.read_pair(pair).version == out[winner][1]
