"""``validate --deep``: read every valid pair's data (and each frame's DEM and ERA5 dates), in parallel, resumably.

The work is a list of reads (:class:`Read`): one per valid pair (phase, coherence, masks), one per frame for
the DEM, one per acquisition date for its ERA5 fields. Reads run on a thread pool (Zarr's decompression
releases the GIL, so threads overlap decoding with I/O); each gives the problems it found.

Resuming: while it runs, the done reads and their problems are saved (every few seconds, atomically) to a
progress file under the cache folder (``$XDG_CACHE_HOME/thalia-viewer/validate/``), keyed by the root's URL.
``resume=True`` skips the reads it records, provided the dataset's signature (mtime and size of the JSON
files, of each store's metadata and of each array folder) is unchanged; otherwise it starts over and says
so. A run that completes removes its progress file. An interrupted run (Ctrl-C) raises
:class:`DeepValidationInterrupted` after saving.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import dask
import numpy as np

from . import schema
from .errors import MissingVariableError, SchemaError, ThaliaError
from .frame import Frame, layer_variables
from .io import CHUNK_ERRORS
from .pairs import Pair

CACHE_ENV: Final = "XDG_CACHE_HOME"
SAVE_EVERY_S: Final = 2.0  # progress file written at most this often
DEFAULT_WORKERS: Final = 8
PROGRESS_VERSION: Final = 1

PAIR_LAYERS: Final = ("phase", "coherence", "deformation")
OPTIONAL_MASK_LAYERS: Final = (("activity", schema.ACTIVITY_MASK), ("intensity", schema.INTENSITY_MASK))
ERA5_LAYERS: Final = {
    schema.PRIMARY: tuple(f"{short}_primary" for short, _, _ in schema.ERA5_SHORT.values()),
    schema.SECONDARY: tuple(f"{short}_secondary" for short, _, _ in schema.ERA5_SHORT.values()),
}


@dataclass(frozen=True)
class Read:
    """One unit of deep validation: a pair's cell, a frame's DEM, or one date's ERA5 fields."""

    kind: str  # "pair", "dem", "primary_date" or "secondary_date"
    pair: Pair  # the pair whose cell is read (for a date or the DEM: any valid pair that has it)

    @property
    def key(self) -> str:
        """Stable name in the progress file."""
        if self.kind == "pair":
            return self.pair.key
        if self.kind == "dem":
            return f"{self.pair.frame}/dem"
        date = self.pair.primary if self.kind == schema.PRIMARY else self.pair.secondary
        return f"{self.pair.frame}/{self.kind}={date}"


class DeepValidationInterrupted(ThaliaError):
    """``validate --deep`` was interrupted; its progress is saved for ``--resume``."""


def plan_reads(frame: Frame) -> list[Read]:
    """Every read of one frame: its DEM, each date's ERA5 fields, then each valid pair."""
    pairs = frame.pairs
    if not pairs:
        return []
    reads = [Read("dem", pairs[0])]
    by_primary = {p.primary: p for p in reversed(pairs)}
    by_secondary = {p.secondary: p for p in reversed(pairs)}
    reads += [Read(schema.PRIMARY, by_primary[d]) for d in sorted(by_primary)]
    reads += [Read(schema.SECONDARY, by_secondary[d]) for d in sorted(by_secondary)]
    return reads + [Read("pair", p) for p in pairs]


def _load(frame: Frame, pair: Pair, key: str, where: str) -> tuple[np.ndarray | None, str | None]:
    """Layer ``key`` of ``pair`` in memory, or the problem that stopped its read."""
    try:
        return np.asarray(frame.layer(pair, key).values), None
    except (MissingVariableError, SchemaError) as exc:
        return None, str(exc)
    except CHUNK_ERRORS as exc:
        variables = " / ".join(layer_variables(key))
        detail = (str(exc).splitlines() or [""])[0][:200]
        return (
            None,
            f"{frame.source}: {variables} {where} cannot be read ({type(exc).__name__}: {detail}); a chunk is damaged.",
        )


def _infinite(frame: Frame, name: str, where: str, values: np.ndarray) -> list[str]:
    count = int(np.isinf(values).sum()) if np.issubdtype(values.dtype, np.floating) else 0
    return (
        [f"{frame.source}: {name} holds infinite values {where} ({count} px); no-data is NaN."]
        if count
        else []
    )


def check_read(frame: Frame, read: Read) -> list[str]:
    """The problems one read finds (empty when the data is sound)."""
    if read.kind == "dem":
        dem, problem = _load(frame, read.pair, "dem", "")
        if dem is None:
            return [problem or ""]
        if not np.isfinite(dem).any():
            return [
                f"{frame.source}: dem has no finite value (all NaN or Inf); elevation is needed by every model."
            ]
        return _infinite(frame, schema.DEM, "", dem)
    if read.kind in ERA5_LAYERS:
        date = read.pair.primary if read.kind == schema.PRIMARY else read.pair.secondary
        problems = []
        for key in ERA5_LAYERS[read.kind]:
            values, problem = _load(frame, read.pair, key, f"of date {date}")
            if values is None:
                problems.append(problem or "")
            else:
                problems += _infinite(frame, schema.layer(key).variable, f"at date {date}", values)
        return problems
    return _check_pair(frame, read.pair)


def _check_pair(frame: Frame, pair: Pair) -> list[str]:
    keys = list(PAIR_LAYERS) + [k for k, v in OPTIONAL_MASK_LAYERS if v in frame.ds.data_vars]
    data: dict[str, np.ndarray] = {}
    problems = []
    for key in keys:
        values, problem = _load(frame, pair, key, f"of pair {pair}")
        if values is None:
            problems.append(problem or "")
        else:
            data[key] = values
    where = f"{frame.source}: pair {pair}:"
    if "phase" in data:
        phase = data["phase"]
        problems += _infinite(frame, schema.PHASE, f"in pair {pair}", phase)
        finite = phase[np.isfinite(phase)]
        if finite.size == 0 and np.isnan(phase).all():
            problems.append(
                f"{where} {schema.PHASE} has no phase data (every pixel NaN: an empty cell of a valid pair)."
            )
        elif np.abs(finite).max() > np.pi + 1e-3:
            problems.append(
                f"{where} {schema.PHASE} exceeds [-pi, pi] (max |phase| {np.abs(finite).max():.2f}); wrapped phase is in radians."
            )
    if "coherence" in data:
        coh = data["coherence"]
        problems += _infinite(frame, schema.COHERENCE, f"in pair {pair}", coh)
        finite = coh[np.isfinite(coh)]
        if finite.size and (finite.min() < -1e-6 or finite.max() > 1 + 1e-6):
            problems.append(
                f"{where} {schema.COHERENCE} outside 0-1 (or 0-255): {finite.min():.3g}..{finite.max() * frame.coherence_scale:.4g}."
            )
    for key, variable in (("deformation", schema.DEFORMATION_MASK), *OPTIONAL_MASK_LAYERS):
        if key in data:
            valid = {c.code for c in schema.MASK_CLASSES[variable]}
            bad = sorted(set(np.unique(data[key]).tolist()) - valid)
            if bad:
                problems.append(f"{where} {variable} has unknown class codes {bad} (valid: {sorted(valid)}).")
    if "activity" in data and "deformation" in data:
        derived = schema.deformation_from_activity(data["activity"])
        if not np.array_equal(derived, data["deformation"]):
            n = int((derived != data["deformation"]).sum())
            problems.append(
                f"{where} {schema.DEFORMATION_MASK} disagrees with {schema.ACTIVITY_MASK} at {n} px."
            )
    return problems


# ------------------------------------------------------------------------------------------ progress
def progress_path(root: str) -> Path:
    """The progress file of ``validate --deep`` on ``root``."""
    cache = Path(os.environ.get(CACHE_ENV) or "~/.cache").expanduser()
    digest = hashlib.sha256(root.encode()).hexdigest()[:20]
    return cache / "thalia-viewer" / "validate" / f"{digest}.json"


def _load_progress(path: Path, root: str, signature: dict) -> tuple[dict[str, list[str]], str]:
    """(done reads -> problems, a note) from a saved progress file that matches this dataset."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}, "no saved progress to resume; reading everything."
    except (OSError, ValueError):
        return {}, f"the progress file {path} is unreadable; reading everything."
    if not isinstance(data, dict) or data.get("version") != PROGRESS_VERSION or data.get("root") != root:
        return {}, f"the progress file {path} is for another dataset; reading everything."
    if data.get("signature") != signature:
        return {}, "the dataset changed since the interrupted run; reading everything again."
    done = data.get("done", {})
    return (
        {str(k): list(v) for k, v in done.items()} if isinstance(done, dict) else {}
    ), f"resumed: {len(done)} reads done before."


def _save_progress(path: Path, root: str, signature: dict, done: dict[str, list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(
        json.dumps({"version": PROGRESS_VERSION, "root": root, "signature": signature, "done": done})
    )
    os.replace(tmp, path)


@dataclass
class DeepResult:
    """What a deep pass found: problems in read order, how many reads ran now and before, notes."""

    problems: list[str]
    reads: int
    resumed: int
    notes: list[str]


def run_deep(
    root: str,
    frames: Sequence[Frame],
    signature: dict,
    workers: int | None = None,
    resume: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> DeepResult:
    """Run every read of ``frames`` on ``workers`` threads; see the module docstring for resuming."""
    path = progress_path(root)
    notes: list[str] = []
    done: dict[str, list[str]] = {}
    if resume:
        done, note = _load_progress(path, root, signature)
        notes.append(note)
    owner = {}
    reads: list[Read] = []
    for frame in frames:
        for r in plan_reads(frame):
            owner[r.key] = frame
            reads.append(r)
    todo = [r for r in reads if r.key not in done]
    resumed = len(reads) - len(todo)
    for frame in frames:  # cached per frame; computed here, not raced for by the threads
        try:
            frame.coherence_scale  # noqa: B018
            frame.zero_nodata  # noqa: B018
        except CHUNK_ERRORS:  # the damaged chunk is reported by the read of its pair
            pass
    total, count = len(reads), resumed
    if progress:
        progress(count, total)
    last_save = time.monotonic()
    n_workers = max(1, workers or min(DEFAULT_WORKERS, os.cpu_count() or 1))
    # each read computes its small dask graph on its own thread: no hand-off to dask's pool inside ours
    with (
        dask.config.set(scheduler="synchronous"),
        ThreadPoolExecutor(n_workers, thread_name_prefix="validate") as pool,
    ):
        futures: dict[Future, Read] = {}
        order: dict[Future, int] = {}

        def submit(r: Read) -> None:
            f = pool.submit(check_read, owner[r.key], r)
            futures[f], order[f] = r, len(order)

        try:
            pending = iter(todo)
            for r in itertools.islice(
                pending, 4 * n_workers
            ):  # a bounded queue: an interrupt leaves little to cancel
                submit(r)
            while futures:
                finished, _ = wait(list(futures), return_when=FIRST_COMPLETED)
                interrupted = False
                for f in sorted(finished, key=order.__getitem__):  # in read order
                    r = futures.pop(f)
                    try:
                        done[r.key] = f.result()
                    except KeyboardInterrupt:
                        interrupted = True
                        continue
                    count += 1
                    nxt = next(pending, None)
                    if nxt is not None:
                        submit(nxt)
                if interrupted:
                    raise KeyboardInterrupt
                if progress:
                    progress(count, total)
                if time.monotonic() - last_save > SAVE_EVERY_S:
                    _save_progress(path, root, signature, done)
                    last_save = time.monotonic()
        except KeyboardInterrupt as exc:
            pool.shutdown(wait=True, cancel_futures=True)
            _save_progress(path, root, signature, done)
            msg = (
                f"validate --deep interrupted after {len(done)} of {total} reads (progress saved in {path})."
            )
            raise DeepValidationInterrupted(
                msg, "Run the same command with --resume to continue where it stopped."
            ) from exc
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    path.unlink(missing_ok=True)
    problems = [p for r in reads for p in done.get(r.key, [])]
    return DeepResult(problems, len(todo), resumed, notes)
