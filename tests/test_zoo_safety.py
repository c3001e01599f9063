"""A safe zoo: training never replaces a model silently, weights stay inside their card's folder, a bad card
is skipped with a warning naming it, error messages echo no file bytes, and NaN / Inf weights are refused."""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import warnings
from pathlib import Path

import pytest
import torch

from thalia_viewer.cli import main
from thalia_viewer.ml.errors import ModelCardError, ModelExistsError, ModelWeightsError
from thalia_viewer.ml.weights import read_state_dict, save_weights
from thalia_viewer.ml.zoo import (
    BACKUP_DIR,
    DEFAULT_MODEL,
    PACKAGED_ZOO,
    ModelZoo,
    ModelZooWarning,
    build_model,
    load_card,
    load_model,
    numbered_name,
    write_card,
)

SECRET = "TOP-SECRET-MARKER-do-not-echo"


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _small_card(name: str = "small"):
    card = load_card(PACKAGED_ZOO / f"{DEFAULT_MODEL}.yaml")
    return dataclasses.replace(card, name=name, weights=None, path=None)


@pytest.fixture
def user_zoo(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "user-zoo"
    folder.mkdir()
    monkeypatch.setenv("THALIA_ZOO", str(folder))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return folder


def test_write_card_refuses_a_taken_name_and_overwrite_keeps_a_backup(tmp_path):
    card = _small_card()
    torch.manual_seed(0)
    first = write_card(card, tmp_path / "zoo", model=build_model(card))
    before = _digest(tmp_path / "zoo")
    with pytest.raises(ModelExistsError, match="already exists") as info:
        write_card(card, tmp_path / "zoo", model=build_model(card))
    assert "'small-2'" in str(info.value)  # a free name is suggested
    assert _digest(tmp_path / "zoo") == before
    torch.manual_seed(1)
    write_card(card, tmp_path / "zoo", model=build_model(card), overwrite=True)
    backups = list((tmp_path / "zoo" / BACKUP_DIR).iterdir())
    assert len(backups) == 1
    kept = {f"{BACKUP_DIR}/{backups[0].name}/{k}": v for k, v in before.items() if not k.startswith(".")}
    assert all(_digest(tmp_path / "zoo").get(k) == v for k, v in kept.items())  # the old files, byte for byte
    assert load_card(backups[0] / first.name).has_weights  # the backed-up card still finds its weights
    assert (
        _digest(tmp_path / "zoo")[first.with_suffix(".safetensors").name]
        != before[first.with_suffix(".safetensors").name]
    )


def test_write_card_copies_foreign_weights_next_to_the_card(tmp_path):
    card = load_card(PACKAGED_ZOO / f"{DEFAULT_MODEL}.yaml")
    path = write_card(dataclasses.replace(card, name="copy"), tmp_path / "zoo")
    written = load_card(path)
    assert written.weights == "copy.safetensors" and written.weights_path.parent == tmp_path / "zoo"
    assert written.weights_path.read_bytes() == card.weights_path.read_bytes()


@pytest.mark.parametrize(
    "weights", ["../outside.safetensors", "/etc/passwd", "sub/../../outside.safetensors"]
)
def test_weights_outside_the_card_folder_are_refused_and_the_other_cards_still_load(user_zoo, weights):
    (user_zoo.parent / "outside.safetensors").write_text(SECRET)
    text = (PACKAGED_ZOO / f"{DEFAULT_MODEL}.yaml").read_text()
    bad = user_zoo / "evil.yaml"
    bad.write_text(
        text.replace(f"name: {DEFAULT_MODEL}", "name: evil").replace(
            f"weights: {DEFAULT_MODEL}.safetensors", f"weights: {weights}"
        )
    )
    with pytest.raises(ModelCardError, match="points outside the card's folder") as info:
        load_card(bad)
    assert SECRET not in str(info.value)
    with pytest.warns(ModelZooWarning, match="evil.yaml"):
        zoo = ModelZoo()
        names = zoo.names()
    assert DEFAULT_MODEL in names and "evil" not in names and bad in zoo.problems


def test_a_bad_card_in_the_user_zoo_is_skipped_with_a_warning_and_the_cli_names_it(
    user_zoo, tiny_root, capsys
):
    (user_zoo / "broken.yaml").write_text(f"name: [unclosed {SECRET}\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelZooWarning)
        with pytest.raises(
            ModelCardError, match=r"broken.yaml is not valid YAML \(.* at line \d+, column \d+\)"
        ) as info:
            ModelZoo(strict=True).names()
    assert SECRET not in str(info.value)
    code = main(
        [
            "evaluate",
            str(tiny_root),
            "--model",
            DEFAULT_MODEL,
            "--split",
            "val",
            "--seeds",
            "0",
            "--crop",
            "64",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "thalia-viewer evaluate: warning: skipped a malformed model card" in err and "broken.yaml" in err
    assert SECRET not in out + err and "Traceback" not in err


def test_weights_files_are_never_echoed(tmp_path):
    for name, data in (
        ("passwd", f"root:x:0:0:{SECRET}\n".encode()),
        ("fake.safetensors", b"\x10\x00\x00\x00\x00\x00\x00\x00{" + SECRET.encode()),
    ):
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(ModelWeightsError) as info:
            read_state_dict(path)
        assert SECRET not in str(info.value) and "root:x" not in str(info.value)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_weights_with_nan_or_inf_are_refused(tmp_path, value):
    card = _small_card("nanny")
    model = build_model(card)
    with torch.no_grad():
        next(iter(model.parameters())).view(-1)[3] = value
    path = save_weights(model, tmp_path / "nanny.safetensors")
    with pytest.raises(ModelWeightsError, match="holds NaN or Inf values") as info:
        load_model(dataclasses.replace(card, weights=str(path)), device="cpu")
    assert "it was not loaded" in str(info.value)


def test_train_refuses_an_existing_name_before_any_work(user_zoo, tiny_root, tmp_path, capsys):
    base = ["train", str(tiny_root), "--model", DEFAULT_MODEL, "--epochs", "1", "--crop", "64", "--check"]
    # the packaged model's name: a user card of that name would replace it for every process
    assert main([*base, "--out", DEFAULT_MODEL]) == 2
    err = capsys.readouterr().err
    assert (
        f"model '{DEFAULT_MODEL}' already exists" in err
        and "--overwrite" in err
        and "would replace it" in err
    )
    shutil.copy(PACKAGED_ZOO / f"{DEFAULT_MODEL}.yaml", user_zoo / "mine.yaml")
    (user_zoo / "mine.yaml").write_text(
        (user_zoo / "mine.yaml")
        .read_text()
        .replace(f"name: {DEFAULT_MODEL}", "name: mine")
        .replace(f"weights: {DEFAULT_MODEL}.safetensors", "weights: null")
    )
    before = _digest(user_zoo)
    assert main([*base, "--out", "mine"]) == 2
    assert "'mine-2'" in capsys.readouterr().err
    assert _digest(user_zoo) == before
    assert main([*base, "--out", "mine", "--overwrite"]) == 0  # --check: nothing trained, nothing written
    out = capsys.readouterr().out
    assert "check passed" in out and _digest(user_zoo) == before


def test_a_run_whose_name_was_taken_meanwhile_is_saved_under_the_next_free_name(tmp_path):
    from thalia_viewer.ml.training.config import TrainConfig
    from thalia_viewer.ml.training.engine import _write_new_card

    card = _small_card("race")
    model = build_model(card)
    write_card(card, tmp_path / "zoo", model=model)  # the other run finished first
    notes: list[str] = []
    config = TrainConfig(root="unused", model=DEFAULT_MODEL, out="race", zoo=str(tmp_path / "zoo"))
    path = _write_new_card(dataclasses.replace(card), config, model, notes)
    assert path.name == "race-2.yaml" and load_card(path).name == "race-2"
    assert "saved as 'race-2'" in notes[0]
    assert sorted(p.name for p in (tmp_path / "zoo").glob("*.yaml")) == ["race-2.yaml", "race.yaml"]


def test_fine_tune_names_are_per_user_and_never_reuse_a_model(user_zoo, monkeypatch):
    from thalia_viewer.app.session import train as app_train

    assert app_train.suggest_name("thalia-small", "ana") == "thalia-small-ft-ana-1"
    card = _small_card("thalia-small-ft-ana-1")
    write_card(card, user_zoo)
    assert app_train.suggest_name("thalia-small", "ana") == "thalia-small-ft-ana-2"
    assert app_train.suggest_name("thalia-small", "bo") == "thalia-small-ft-bo-1"
    assert numbered_name("x", [user_zoo]) == "x-1"
    monkeypatch.setattr(app_train, "session_user", lambda *_: "ana")

    class State:
        root = ""

        def notify(self, *a):
            pass

    first, second = app_train.TrainSession(State()), app_train.TrainSession(State())
    assert first.out == second.out == "thalia-small-ft-ana-2"  # both suggest the free name ...
    write_card(_small_card(first.out), user_zoo)  # ... the first session's model takes it
    second.model = second.model or DEFAULT_MODEL
    second.out = second.out  # untouched suggestion
    monkeypatch.setattr("thalia_viewer.ml.training.TrainConfig", _StopAtConfig)
    with pytest.raises(_Stop):
        second.start()
    assert second.out == "thalia-small-ft-ana-3"  # the second one moves on instead of reusing it


class _Stop(Exception):
    pass


class _StopAtConfig:
    def __init__(self, **kwargs):
        raise _Stop(kwargs["out"])


def test_the_app_refuses_to_start_a_fine_tune_under_a_taken_name(user_zoo, monkeypatch):
    from thalia_viewer.app.session import train as app_train

    notes = []

    class State:
        root = ""

        def notify(self, level, text):
            notes.append((level, text))

    monkeypatch.setattr(app_train, "session_user", lambda *_: "ana")
    session = app_train.TrainSession(State())
    session.out = DEFAULT_MODEL  # the packaged model's name, typed by hand
    monkeypatch.setattr("thalia_viewer.ml.training.TrainConfig", _StopAtConfig)
    session.start()  # refused before any config is made
    assert not session.running and notes and notes[-1][0] == "warning"
    assert (
        f"A model named '{DEFAULT_MODEL}' is already in the zoo" in notes[-1][1]
        and "thalia-small-ft-ana-1" in notes[-1][1]
    )
