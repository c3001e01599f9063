"""``validate``: metadata and catalogue by default (no pixel read), ``--deep`` reads every pair in parallel,
resumably; Zarr 2 arrays whose null fill value leaves zarr-2 readers garbage are flagged with the repair."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests import corpus
from thalia_viewer.cli import main
from thalia_viewer.core import deep_validate, schema
from thalia_viewer.core.dataset import ThaliaDataset
from thalia_viewer.core.deep_validate import DeepValidationInterrupted, progress_path
from thalia_viewer.core.frame import Frame
from thalia_viewer.core.synth.writer import write_dataset
from thalia_viewer.core.validate import validate


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> tuple[Path, corpus.Target]:
    root = tmp_path_factory.mktemp("validate") / "base"
    return root, corpus.write_base(root)


@pytest.fixture
def root(base, tmp_path) -> Path:
    copy = tmp_path / "root"
    shutil.copytree(base[0], copy)
    return copy


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def _missing_mask_chunks(root: Path) -> list[str]:
    """Valid pairs whose mask chunk is not on disk (read from the files, not through the project)."""
    missing = []
    quality = json.loads((root / schema.QUALITY_FILE).read_text())
    for store in root.glob("*.zarr"):
        cells = corpus.valid_cells(root, store)
        for name in schema.MASKS:
            zarray = json.loads((store / name / ".zarray").read_text())
            if zarray["fill_value"] is None:
                missing += [
                    f"{store.stem}/{name}/{i}.{j}"
                    for i, j in cells
                    if not (store / name / f"{i}.{j}.0.0").exists()
                ]
    assert quality
    return missing


def _reads(root: Path) -> int:
    """Reads of a deep pass: each frame's DEM, each primary and each secondary date's ERA5, each valid pair."""
    pairs = ThaliaDataset(root).pairs()
    return 1 + len({p.primary for p in pairs}) + len({p.secondary for p in pairs}) + len(pairs)


def test_default_validate_reads_no_data(root, monkeypatch):
    def no_reads(*args, **kwargs):
        raise AssertionError("the default validate read pixel data")

    monkeypatch.setattr(Frame, "layer", no_reads)
    monkeypatch.setattr(Frame, "read", no_reads)
    report = validate(str(root))
    assert report.ok, report.summary()
    assert report.frames == 1 and report.pairs == 12 and not report.deep
    assert "add --deep" in report.summary()


def test_validate_flags_what_todays_writer_leaves(tmp_path):
    """A root straight from the synth writer: flagged exactly when its negative pairs' mask chunks are missing."""
    root = tmp_path / "synth"
    write_dataset(root, **corpus.BASE)
    missing = _missing_mask_chunks(root)
    report = validate(str(root))
    flagged = [p for p in report.problems if "uninitialised memory" in p]
    assert bool(flagged) == bool(missing), report.summary()
    corpus.fill_mask_chunks(root)  # what `thalia-viewer repair ROOT` does
    assert not _missing_mask_chunks(root) and validate(str(root)).ok


def test_null_fill_gap_names_the_array_a_pair_and_the_repair(root, base):
    _, target = base
    corpus._missing_mask_chunk(root, target)
    report = validate(str(root))
    assert len(report.problems) == 1, report.summary()
    problem = report.problems[0]
    p, s, *_ = target.negative
    assert "deformation_mask" in problem and f"{corpus.FRAME}/{p}_{s}" in problem
    assert "thalia-viewer repair ROOT" in problem and "re-export" in problem


def test_deep_reads_every_pair_in_parallel_with_progress(root, base):
    _, target = base
    corpus._corrupt("insar_coherence")(root, target)
    seen: list[tuple[int, int]] = []
    report = validate(str(root), deep=True, workers=3, read_progress=lambda d, t: seen.append((d, t)))
    total = _reads(root)
    assert report.pairs_read == total and seen[-1] == (total, total)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert (
        len(report.problems) == 1
        and f"insar_coherence of pair {target.key} cannot be read" in report.problems[0]
    )
    assert not progress_path(report.root).exists()  # a finished run leaves no progress file


def test_deep_can_be_interrupted_and_resumed(root, base, monkeypatch):
    _, target = base
    corpus._pair_values("insar_difference", corpus._degrees)(root, target)
    real = deep_validate.check_read
    calls = {"n": 0}

    def flaky(frame, read):
        calls["n"] += 1
        if calls["n"] == 12:
            raise KeyboardInterrupt
        return real(frame, read)

    monkeypatch.setattr(deep_validate, "check_read", flaky)
    with pytest.raises(DeepValidationInterrupted, match="--resume") as info:
        validate(str(root), deep=True, workers=1)
    saved = json.loads(progress_path(str(root)).read_text())
    done = len(saved["done"])
    # the 11 reads before the interrupted one, and any queued read the worker finished before it was seen
    assert 11 <= done < _reads(root)
    assert f"interrupted after {done} of" in str(info.value)
    monkeypatch.setattr(deep_validate, "check_read", real)
    report = validate(str(root), deep=True, workers=2, resume=True)
    assert report.resumed == done and report.pairs_read + report.resumed == _reads(root)
    assert any("exceeds [-pi, pi]" in p for p in report.problems), report.summary()
    assert f"resumed: {done} reads done before" in report.summary()
    assert not progress_path(str(root)).exists()


def test_resume_starts_over_when_the_dataset_changed(root, monkeypatch):
    real = deep_validate.check_read

    def stop(frame, read):
        raise KeyboardInterrupt

    monkeypatch.setattr(deep_validate, "check_read", stop)
    with pytest.raises(DeepValidationInterrupted):
        validate(str(root), deep=True, workers=1)
    monkeypatch.setattr(deep_validate, "check_read", real)
    shutil.rmtree(root / corpus.STORE / "insar_coherence")  # the store changed since
    report = validate(str(root), deep=True, resume=True)
    assert report.resumed == 0 and "the dataset changed" in report.summary()
    assert any("insar_coherence/ is missing" in p for p in report.problems)


def test_cli_deep_interrupt_exit_130_and_resume(root, monkeypatch, capsys):
    real = deep_validate.check_read
    calls = {"n": 0}

    def flaky(frame, read):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return real(frame, read)

    monkeypatch.setattr(deep_validate, "check_read", flaky)
    assert main(["validate", str(root), "--deep", "--workers", "1"]) == 130
    err = capsys.readouterr().err
    assert (
        f"interrupted after 4 of {_reads(root)} reads" in err and "--resume" in err and "Traceback" not in err
    )
    monkeypatch.setattr(deep_validate, "check_read", real)
    assert main(["validate", str(root), "--deep", "--resume"]) == 0
    out = capsys.readouterr().out
    assert "valid Thalia dataset" in out and "(+4 resumed)" in out
