"""The CLI: info / validate on good and bad roots, clear one-paragraph errors, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests import realistic
from tests.test_data_layer import DIALECTS
from thalia_viewer.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_validate_and_info_on_real_style_cubes(capsys, tmp_path, dialect):
    root = realistic.write_real_style_root(tmp_path / "r", **DIALECTS[dialect])
    code, out, err = run(capsys, "validate", root)
    assert code == 0, out + err
    assert "valid Thalia dataset" in out and "4 valid pairs (2 positive)" in out
    code, out, _ = run(capsys, "info", root, "--frame", realistic.FRAME)
    assert code == 0
    assert "20190105 [train]: 20190117- 20190129+ 20190210+" in out
    assert "total: 1 frames, 4 pairs, 2 positive" in out


def test_validate_and_info_on_generated_data(capsys, tiny_root, tiny_root_v3):
    for root in (tiny_root, tiny_root_v3):
        code, out, err = run(capsys, "validate", root)
        assert code == 0, out + err
        assert "valid Thalia dataset" in out
        code, out, _ = run(capsys, "info", root)
        assert code == 0 and "total: 2 frames" in out


def _corrupt_chunk(root: Path) -> None:
    chunk = (
        root / f"{realistic.FRAME}.zarr" / "insar_difference" / "0.0.0.0"
    )  # the valid pair 20190105 -> 20190117
    chunk.write_bytes(b"\x00garbage" * 16)


def _bad_roots(tmp: Path) -> dict[str, tuple[Path, str]]:
    missing_var = realistic.write_real_style_root(tmp / "missing", drop=("insar_coherence",))
    corrupt = realistic.write_real_style_root(tmp / "corrupt")
    _corrupt_chunk(corrupt)
    bad_json = realistic.write_real_style_root(tmp / "json")
    (bad_json / "annotations.json").write_text('{"100": {"frameID": ')
    not_zarr = realistic.write_real_style_root(tmp / "notzarr")
    (not_zarr / "155D_02484_191814.zarr").mkdir()
    (not_zarr / "155D_02484_191814.zarr" / "readme.txt").write_text("not a store")
    return {
        "missing variable": (missing_var, "missing variable 'insar_coherence'"),
        "corrupt chunk": (corrupt, "cannot be read"),
        "malformed annotations": (bad_json, "annotations.json is not valid JSON"),
        "not zarr": (not_zarr, "155D_02484_191814.zarr is not a readable Zarr store"),
        "no such path": (tmp / "nowhere", "does not exist"),
    }


def test_bad_roots_give_one_paragraph_errors(capsys, tmp_path):
    for name, (root, expected) in _bad_roots(tmp_path).items():
        code, out, err = run(capsys, "validate", root, "--deep")  # a corrupt chunk is seen by reading it
        assert code == 2, name
        assert expected in out + err, f"{name}: {out + err}"
        assert "Traceback" not in out + err


def test_console_script_prints_no_traceback(tmp_path):
    roots = _bad_roots(tmp_path)
    for name in ("malformed annotations", "no such path"):
        root, expected = roots[name]
        proc = subprocess.run(
            [sys.executable, "-m", "thalia_viewer.cli", "info", str(root)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 2
        assert expected in proc.stderr and "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1  # one paragraph


def test_validate_reports_bad_records_and_codes(capsys, tmp_path):
    root = realistic.write_real_style_root(tmp_path / "r")
    records = json.loads((root / "annotations.json").read_text())
    records["101"]["activity_type"] = ["Volcano"]
    records["101"]["atmospheric_fringes"] = 7
    (root / "annotations.json").write_text(json.dumps(records))
    code, out, _ = run(capsys, "validate", root)
    assert code == 2
    assert "record '101': activity_type value 'Volcano'" in out
    assert "atmospheric_fringes=7" in out


def test_unknown_pair_and_layer(capsys, tiny_root, tmp_path):
    code, _, err = run(
        capsys,
        "render",
        tiny_root,
        "--frame",
        "124D_05291_081406",
        "--primary",
        "20000101",
        "--secondary",
        "20000113",
        "--out",
        tmp_path / "x.png",
    )
    assert code == 2 and "has no valid pair" in err
    code, _, err = run(
        capsys,
        "render",
        tiny_root,
        "--frame",
        "nope",
        "--primary",
        "20000101",
        "--secondary",
        "20000113",
        "--out",
        tmp_path / "x.png",
    )
    assert code == 2 and "no frame 'nope'" in err
