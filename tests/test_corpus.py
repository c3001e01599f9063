"""The bad-input corpus (``tests/corpus.py``) through every CLI command.

On each damaged root every command either works (exit 0) or refuses with exit 2 and one paragraph that
names the file / variable / pair and says what to do; none raises (a traceback) and none changes a byte
of the root. The commands that cannot work on a damage must refuse. ``validate`` reports every damage,
reading data only with ``--deep`` where that is what it takes.

``python -m tests.test_corpus`` prints the command x root matrix.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import corpus
from tests.corpus import DAMAGES, FRAME, Damage, Target
from thalia_viewer.cli import build_parser, main

ALL_LAYERS = "phase,coherence,dem,tcwv_primary,sp_secondary,deformation,activity,intensity"
EXIT_OK, EXIT_PROBLEM = 0, 2
SMALL_FILE = 16_384  # bytes: files up to this size are hashed
REPAIR = "repair"  # run when the CLI has it (it fixes zarr-2 gaps in place, so it may write)


def fingerprint(root: Path) -> dict[str, str]:
    """Every file and folder under ``root`` (or the file itself): a hash of small files' bytes (JSON, metadata),
    size and modification time (ns) of the others (chunks: any write changes them)."""

    def mark(path: Path) -> str:
        st = path.stat()
        if st.st_size <= SMALL_FILE:
            return hashlib.sha256(path.read_bytes()).hexdigest()
        return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"

    if not root.exists():
        return {}
    if root.is_file():
        return {".": mark(root)}
    out: dict[str, str] = {}
    for dirpath, _dirs, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        out[rel + "/"] = "dir"
        for name in filenames:
            out[os.path.join(rel, name)] = mark(Path(dirpath) / name)
    return out


@dataclass
class Outcome:
    code: int | str  # exit code, or the name of an exception that escaped main()
    out: str
    err: str
    changed: list[str]
    seconds: float = 0.0


class FakeServer:
    """Stands in for ``panel serve``: ``serve`` gets as far as starting it (its pre-check passed)."""

    started: list[list[str]] = []  # noqa: RUF012

    def __init__(self, cmd, env=None, **kwargs):
        FakeServer.started.append(cmd)
        self.pid = 0

    def wait(self, timeout=None):
        return 0

    def poll(self):
        return 0

    def terminate(self):
        pass

    def kill(self):
        pass


def commands(root: Path, target: Target, damage: Damage, work: Path) -> dict[str, list[str]]:
    """The argument lists of every command to run on ``root`` (outputs go under ``work``)."""
    primary, secondary = (
        (target.primary, target.secondary) if damage.pair == "damaged" else target.negative[:2]
    )
    r = str(root)

    cmds = {
        corpus.INFO: ["info", r],
        "info --frame": ["info", r, "--frame", FRAME],
        corpus.VALIDATE: ["validate", r],
        corpus.DEEP: ["validate", r, "--deep", "--workers", "2"],
        corpus.RENDER: [
            "render",
            r,
            "--frame",
            FRAME,
            "--primary",
            primary,
            "--secondary",
            secondary,
            "--layers",
            ALL_LAYERS,
            "--out",
            str(work / "render.png"),
            "--width",
            "96",
        ],
        "history": ["history", r],
        "tag": ["tag", r, "corpus-release"],
        corpus.EXPORT: ["export", r, str(work / "export"), "--store", str(work / "store")],
        corpus.PREDICT: [
            "predict",
            r,
            "--model",
            "thalia-small",
            "--out",
            str(work / "pred"),
            "--split",
            "train",
            "--threads",
            "--workers",
            "1",
        ],
        corpus.TRAIN: [
            "train",
            r,
            "--model",
            "thalia-small",
            "--out",
            "corpus-model",
            "--check",
            "--crop",
            "64",
            "--zoo",
            str(work / "zoo"),
            "--checkpoint-dir",
            str(work / "ckpt"),
        ],
        corpus.EVALUATE: [
            "evaluate",
            r,
            "--model",
            "thalia-small",
            "--split",
            "train",
            "--seeds",
            "0",
            "--crop",
            "64",
        ],
        corpus.SERVE: ["serve", r, "--port", "1"],
    }

    # last: these may write into the root (repair fixes it in place; synth fills an empty folder)
    if "repair" in _subcommands():
        cmds[REPAIR] = ["repair", r]
    cmds["synth"] = ["synth", r, "--frames", "1", "--size", "128", "128", "--dates", "6"]
    return cmds


def _subcommands() -> set[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return set(action.choices)


def run_command(argv: list[str], root: Path) -> Outcome:
    """Run one CLI command in this process; what it printed, its exit code, and what it changed in ``root``."""
    before = fingerprint(root)
    start = time.perf_counter()
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code: int | str = main(argv)
        except SystemExit as exc:  # argparse
            code = f"SystemExit({exc.code})"
        except BaseException as exc:  # a traceback for a user
            code = f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - start
    after = fingerprint(root)
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    return Outcome(code, out.getvalue(), err.getvalue(), changed, seconds)


def check(name: str, damage: Damage, target: Target, outcome: Outcome, root: Path) -> list[str]:
    """What is wrong with one command's outcome on one damaged root (empty when it behaved)."""
    problems = []
    writes = (name == "synth" and damage.name == "empty root") or name == REPAIR
    refuses = name in damage.must_fail or name in ("history", "tag", "synth")
    expected = (
        {EXIT_OK, EXIT_PROBLEM}
        if name == REPAIR
        else {EXIT_OK}
        if writes
        else {EXIT_PROBLEM}
        if refuses
        else {EXIT_OK, EXIT_PROBLEM}
    )
    if outcome.code not in expected:
        problems.append(f"exit {outcome.code}, expected {sorted(expected)}")
    if "Traceback" in outcome.err + outcome.out:
        problems.append("printed a traceback")
    if outcome.changed and not writes:
        problems.append(f"changed {outcome.changed[:3]}")
    if outcome.code == EXIT_PROBLEM and not (
        name in (corpus.VALIDATE, corpus.DEEP) and not outcome.err.strip()
    ):
        lines = [ln for ln in outcome.err.splitlines() if ln.strip()]
        errors = [ln for ln in lines if ": error: " in ln]
        if len(errors) != 1:
            problems.append(f"error paragraph: {outcome.err.strip()[:300]!r}")
        if name in damage.must_fail and name not in (corpus.VALIDATE, corpus.DEEP):
            named = damage.named.replace(corpus.P, target.key)
            if named not in outcome.err:
                problems.append(f"error does not name {named!r}: {outcome.err.strip()[:300]!r}")
    reports = name == corpus.DEEP or (name == corpus.VALIDATE and not damage.deep)
    if reports and damage.finds not in outcome.out + outcome.err:
        problems.append(
            f"validate does not report {damage.finds!r}: {(outcome.out + outcome.err).strip()[-400:]!r}"
        )
    return problems


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """The models are tiny here: one torch thread spares a shared 2-core machine the threads' spinning."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def corpus_roots(tmp_path_factory):
    roots, target = corpus.build_corpus(tmp_path_factory.mktemp("corpus"))
    return roots, target


def make_workspace(work: Path, base: Path, target: Target) -> Path:
    """``work`` with an annotation store holding one correction of the target pair (export writes it in)."""
    from tests.test_store import paint
    from thalia_viewer.core.annotations import AnnotationStore
    from thalia_viewer.core.dataset import ThaliaDataset
    from thalia_viewer.core.pairs import Pair

    work.mkdir(parents=True, exist_ok=True)
    store = AnnotationStore(work / "store", dataset=ThaliaDataset(base))
    pair = Pair(FRAME, target.primary, target.secondary)
    ann = store.read_merged(pair)
    store.save_pair(
        pair,
        paint(ann.masks, slice(2, 12), slice(2, 12), activity=2, intensity=1),
        ann.record,
        "corpus",
        "grow the dyke",
        base=ann.version,
    )
    return work


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, corpus_roots):
    """An annotation store with one correction for export; zoo, predictions and cache go here too."""
    roots, target = corpus_roots
    base = next(iter(roots.values())).parent / "_base"
    return make_workspace(tmp_path_factory.mktemp("work"), base, target)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    monkeypatch.setenv("THALIA_ZOO", str(tmp_path / "user-zoo"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr("thalia_viewer.app.serve.start_server", FakeServer)


def run_damage(
    damage: Damage, root: Path, target: Target, work: Path, only: set[str] | None = None
) -> dict[str, tuple[Outcome, list[str]]]:
    results = {}
    for name, argv in commands(root, target, damage, work).items():
        if only and name not in only:
            continue
        outcome = run_command(argv, root)
        results[name] = (outcome, check(name, damage, target, outcome, root))
        if (
            name == "synth" and outcome.code == EXIT_OK and root.is_dir()
        ):  # it filled the empty root: empty it again
            shutil.rmtree(root)
            root.mkdir()
        for sub in ("export", "pred", "zoo", "ckpt"):
            shutil.rmtree(work / sub, ignore_errors=True)
    return results


def test_base_root_is_valid(corpus_roots, capsys):
    """The undamaged root passes validate (deep too): every report below is about the damage."""
    roots, _ = corpus_roots
    base = next(iter(roots.values())).parent / "_base"
    for argv in (["validate", str(base)], ["validate", str(base), "--deep"]):
        code = main(argv)
        out, err = capsys.readouterr()
        assert code == 0, out + err


def test_validate_finds_every_damage(corpus_roots, capsys):
    """Each damage is reported: metadata ones by the default (no data read), the others by --deep."""
    roots, _ = corpus_roots
    missed = []
    for damage in DAMAGES:
        argv = ["validate", str(roots[damage.name]), *(["--deep"] if damage.deep else [])]
        code = main(argv)
        out, err = capsys.readouterr()
        if code != EXIT_PROBLEM or damage.finds not in out + err:
            missed.append(f"{damage.name}: exit {code}: {(out + err).strip()[-300:]}")
    assert not missed, "\n".join(missed)


@pytest.mark.parametrize("damage", DAMAGES, ids=[d.name for d in DAMAGES])
def test_every_command_on_damaged_root(damage, corpus_roots, workspace):
    roots, target = corpus_roots
    results = run_damage(damage, roots[damage.name], target, workspace)
    bad = {name: problems for name, (_, problems) in results.items() if problems}
    assert not bad, f"{damage.name}: {bad}"


def matrix(dest: Path, only: set[str] | None = None, damages: str = "") -> None:
    """Print the command x root matrix (exit codes, '!' where a check failed) and every failed check."""
    roots, target = corpus.build_corpus(dest / "corpus")
    work = make_workspace(dest / "work", dest / "corpus" / "_base", target)
    os.environ["THALIA_ZOO"] = str(work / "user-zoo")
    os.environ["XDG_CACHE_HOME"] = str(work / "cache")
    import thalia_viewer.app.serve as serve_module

    serve_module.start_server = FakeServer  # type: ignore[assignment]
    import torch

    torch.set_num_threads(1)
    failures = []
    seconds: dict[str, float] = {}
    header = None
    for damage in DAMAGES:
        if damages and damages not in damage.name:
            continue
        results = run_damage(damage, roots[damage.name], target, work, only)
        if header is None:
            header = list(results)
            print(f"{'damage':52s} " + " ".join(f"{h[:8]:>8s}" for h in header))
        cells = []
        for name in header:
            outcome, problems = results[name]
            code = outcome.code if isinstance(outcome.code, int) else "EXC"
            cells.append(f"{code!s:>7s}{'!' if problems else ' '}")
            seconds[name] = seconds.get(name, 0.0) + outcome.seconds
            failures += [f"{damage.name} / {name}: {p}" for p in problems]
        print(f"{damage.name[:52]:52s} " + " ".join(cells), flush=True)
    print(f"\n{len(DAMAGES)} damaged roots x {len(header or [])} commands; {len(failures)} failed checks")
    print(
        "seconds per command: "
        + ", ".join(f"{k} {v:.1f}" for k, v in sorted(seconds.items(), key=lambda kv: -kv[1]))
    )
    for f in failures:
        print(" -", f)


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        names = [a for a in sys.argv[1:] if not a.startswith("damage=")]
        wanted = next((a[7:] for a in sys.argv[1:] if a.startswith("damage=")), "")
        matrix(Path(tmp), set(names) or None, wanted)
    sys.exit(0)


def test_a_real_training_run_on_a_damaged_root_stops_with_the_pair_named(corpus_roots, workspace, capsys):
    """Not only ``train --check``: an actual run reaching the corrupt chunk ends with exit 2 naming it."""
    roots, target = corpus_roots
    root = roots["corrupt coherence chunk"]
    before = fingerprint(root)
    argv = [
        "train",
        str(root),
        "--model",
        "thalia-small",
        "--out",
        "corpus-run",
        "--epochs",
        "1",
        "--crop",
        "64",
        "--batch-size",
        "8",
        "--eval-seeds",
        "--keep-threshold",
        "--zoo",
        str(workspace / "zoo"),
        "--checkpoint-dir",
        str(workspace / "ckpt"),
    ]
    assert main(argv) == EXIT_PROBLEM
    err = capsys.readouterr().err
    assert f"insar_coherence of pair {target.key} cannot be read" in err and "Traceback" not in err
    assert fingerprint(root) == before and not (workspace / "zoo" / "corpus-run.yaml").exists()


@pytest.mark.timeout(180)  # a guard against the old hang (> 4 min), not a timing
@pytest.mark.parametrize(
    ("name", "code"), [("tiny 8 x 8 frame", EXIT_OK), ("tiny 1 x 1 frame", EXIT_PROBLEM)]
)
def test_tiny_frames_render_at_the_default_width_or_refuse(corpus_roots, tmp_path, capsys, name, code):
    roots, target = corpus_roots
    argv = [
        "render",
        str(roots[name]),
        "--frame",
        FRAME,
        "--primary",
        target.primary,
        "--secondary",
        target.secondary,
        "--layers",
        "phase,coherence,dem,mask",
        "--out",
        str(tmp_path / "tiny.png"),
    ]
    assert main(argv) == code
    err = capsys.readouterr().err
    if code == EXIT_OK:
        assert (tmp_path / "tiny.png").stat().st_size > 0
    else:
        assert "is 1 x 1 px; a figure needs at least 2 x 2" in err and corpus.STORE in err
