"""How the CLI reports failures: a ThaliaError is the user's (exit 2, message and hint, no traceback); anything
else is a bug (exit 3, a short "please report it" and the file holding the whole traceback); ``--debug`` raises,
chained causes included; library errors name the call's argument and the CLI reports its flag."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from thalia_viewer import cli
from thalia_viewer.core import schema
from thalia_viewer.core.errors import ArgumentError, ThaliaError
from thalia_viewer.core.synth.scenario import plan_dataset


def _failing_info(error: BaseException):
    def info(args) -> int:
        try:
            raise OSError("the disk said no")
        except OSError as cause:
            raise error from cause

    return info


def test_a_thalia_error_is_the_users_exit_2_with_message_and_hint(capsys, monkeypatch, tiny_root):
    monkeypatch.setattr(cli, "_info", _failing_info(ThaliaError("frame X is damaged.", "Copy it again.")))
    code = cli.main(["info", str(tiny_root)])
    err = capsys.readouterr().err
    assert code == cli.EXIT_PROBLEM == 2
    assert "error: frame X is damaged. Copy it again." in err
    assert "Traceback" not in err and "bug" not in err


@pytest.mark.parametrize("error", [ValueError("bad cell"), KeyError("x"), RuntimeError("oops")])
def test_any_other_exception_is_a_bug_exit_3_with_the_traceback_in_a_file(
    capsys, monkeypatch, tiny_root, error
):
    monkeypatch.setattr(cli, "_info", _failing_info(error))
    code = cli.main(["info", str(tiny_root)])
    err = capsys.readouterr().err
    assert code == cli.EXIT_BUG == 3
    assert "This is a bug in thalia-viewer" in err and "please report it" in err
    assert "Traceback" not in err
    path = Path(re.search(r"The full traceback is in (\S+)", err).group(1))
    try:
        text = path.read_text()
        assert "Traceback" in text and type(error).__name__ in text
        assert "the disk said no" in text  # the chained cause is kept
        assert "The above exception was the direct cause" in text
    finally:
        path.unlink()


def test_debug_raises_with_the_cause_chained(monkeypatch, tiny_root):
    monkeypatch.setattr(cli, "_info", _failing_info(ThaliaError("frame X is damaged.")))
    with pytest.raises(ThaliaError) as info:
        cli.main(["--debug", "info", str(tiny_root)])
    assert isinstance(info.value.__cause__, OSError)


def test_library_errors_name_the_argument_and_the_cli_its_flag(capsys, tmp_path):
    with pytest.raises(ArgumentError, match=r"shape=\(64, 64\) is too small") as info:
        plan_dataset(1, (64, 64))
    assert "shape=(128, 128)" in str(info.value) and "--size" not in str(info.value)
    code = cli.main(["synth", str(tmp_path / "out"), "--size", "64", "64"])
    err = capsys.readouterr().err
    assert code == 2 and "--size 64 64 is too small" in err and "--size 128 128 or more" in err
    assert "shape=" not in err


def test_cli_text_translates_arguments_to_flags():
    assert (
        cli.cli_text("Pass epochs=3 or more, or overwrite=True.")
        == "Pass --epochs 3 or more, or --overwrite."
    )
    assert cli.cli_text("n_frames=50 is out of range") == "--frames 50 is out of range"
    assert cli.cli_text("Keep setting= and timesteps=.") == "Keep --setting and --timesteps."
    assert cli.cli_text("card.size=3 and x_crop=2 stay") == "card.size=3 and x_crop=2 stay"


def test_unknown_splits_layers_modes_and_models_suggest_a_name(tiny_root):
    import thalia_viewer as tv
    from thalia_viewer.core.dataset import ThaliaDataset
    from thalia_viewer.ml.training.samples import split_of
    from thalia_viewer.ml.zoo import ModelZoo

    with pytest.raises(ThaliaError, match="Did you mean 'test'"):
        ThaliaDataset(tiny_root).pairs(split="tst")
    with pytest.raises(ThaliaError, match=r"unknown split='tset'\. Did you mean 'test'"):
        split_of("tset")
    with pytest.raises(ThaliaError, match="Did you mean 'phase'"):
        schema.layer("phse")
    with pytest.raises(ThaliaError, match="Did you mean 'review'"):
        tv.app(tiny_root, mode="reviw")
    with pytest.raises(ThaliaError, match=f"Did you mean '{tv.DEFAULT_MODEL}'"):
        ModelZoo().get(tv.DEFAULT_MODEL + "x")
