"""Model cards, the zoo, offline model builds and safe weight loading."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from thalia_viewer.ml.errors import MissingWeightsError, ModelCardError, ModelWeightsError, UnknownModelError
from thalia_viewer.ml.weights import load_state_dict, read_state_dict, save_weights
from thalia_viewer.ml.zoo import (
    DEFAULT_MODEL,
    PACKAGED_ZOO,
    ModelCard,
    ModelZoo,
    ModelZooWarning,
    build_model,
    load_card,
    load_model,
    resolve_card,
    write_card,
)

PAPER = [
    f"{a}-resnet50-{s}-t{t}"
    for a in ("unet", "deeplabv3", "segformer")
    for s in ("base", "atmospheric")
    for t in (1, 3)
]


def test_packaged_zoo_has_the_paper_models_and_the_default():
    zoo = ModelZoo([PACKAGED_ZOO])
    assert set(zoo.names()) == {*PAPER, DEFAULT_MODEL}
    for name in PAPER:
        card = zoo.get(name)
        assert card.encoder == "resnet50" and card.weights is None
        assert card.in_channels == {"base": 3, "atmospheric": 9}[card.setting] * card.timesteps
        assert "Thalia paper" in card.provenance["source"]
    small = zoo.get(DEFAULT_MODEL)
    assert small.setting == "base" and small.timesteps == 1 and small.weights == "thalia-small.safetensors"
    assert small.weights_path == PACKAGED_ZOO / "thalia-small.safetensors"


def test_every_card_builds_offline_and_forwards():
    """Each packaged card builds without the network (conftest blocks it) and maps C x 64 x 64 to 1 x 64 x 64.

    Shapes are checked on the meta device (no weight initialisation, no arithmetic: ResNet-50 builds stay
    fast); the default model also runs for real.
    """
    zoo = ModelZoo([PACKAGED_ZOO])
    for card in zoo.cards():
        with torch.device("meta"):
            out = build_model(card).eval()(torch.empty(1, card.in_channels, 64, 64))
        assert out.shape == (1, card.num_outputs, 64, 64), card.name
    torch.manual_seed(0)
    small = build_model(zoo.get(DEFAULT_MODEL)).eval()
    with torch.inference_mode():
        out = small(torch.randn(1, 3, 64, 64))
    assert out.shape == (1, 1, 64, 64) and torch.isfinite(out).all()
    assert (
        sum(t.numel() * t.element_size() for t in small.state_dict().values()) <= 10e6
    )  # <= 10 MB of weights


def test_unknown_model_lists_the_names():
    with pytest.raises(
        UnknownModelError, match=r"no model 'unet-resnet5' .*Did you mean 'unet-resnet50-.*Models: deeplabv3"
    ):
        ModelZoo([PACKAGED_ZOO]).get("unet-resnet5")


def _write(path: Path, **changes: object) -> Path:
    data = load_card(PACKAGED_ZOO / f"{DEFAULT_MODEL}.yaml").to_dict()
    data.update(changes)
    data = {k: v for k, v in data.items() if v != "DROP"}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"timestep": 3}, r"unknown field 'timestep'. Did you mean 'timesteps'"),
        ({"timesteps": 2}, r"field 'timesteps' is 2; expected one of \[1, 3\]"),
        ({"setting": "weather"}, r"field 'setting' is 'weather'"),
        ({"architecture": "resnet"}, r"field 'architecture' is 'resnet'; expected one of"),
        ({"classes": ["Earthquake"]}, r"field 'classes' is \['Earthquake'\]"),
        ({"normalisation": {"dem": [0, 1]}}, r"field 'normalisation' has unknown \[\] / lacks"),
        ({"tile_overlap": 300}, r"field 'tile_overlap' is 300; expected less than half"),
        ({"threshold": 1.5}, r"field 'threshold' is 1.5"),
        ({"options": {"in_channels": 4}}, r"field 'options' sets \['in_channels'\]"),
        ({"encoder": "DROP"}, r"required field 'encoder' is missing"),
        ({"name": "other"}, r"field 'name' is 'other' but the file is thalia-small.yaml"),
    ],
)
def test_bad_cards_name_file_and_field(tmp_path, changes, message):
    path = _write(tmp_path / "zoo" / "thalia-small.yaml", **changes)
    with pytest.raises(ModelCardError, match=message) as info:
        ModelZoo([tmp_path / "zoo"], strict=True).cards()
    assert str(path) in str(info.value)
    lenient = ModelZoo([PACKAGED_ZOO, tmp_path / "zoo"])  # the default: skipped, with a warning naming it
    with pytest.warns(ModelZooWarning, match=str(path)):
        assert "thalia-small" in lenient.names() and list(lenient.problems) == [path]


def test_bad_yaml_and_bad_encoder(tmp_path):
    bad = tmp_path / "broken.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ModelCardError, match="is not valid YAML"):
        load_card(bad)
    card = ModelCard(name="x", architecture="unet", encoder="no-such-encoder")
    with pytest.raises(ModelCardError, match="cannot build unet with encoder 'no-such-encoder'"):
        build_model(card)
    with pytest.raises(ModelCardError, match="field 'options' does not fit unet"):
        build_model(ModelCard(name="x", architecture="unet", encoder="resnet18", options={"nonsense": 1}))


def test_write_card_with_weights_round_trips_and_user_zoo_overrides(tmp_path, monkeypatch):
    card = load_card(PACKAGED_ZOO / f"{DEFAULT_MODEL}.yaml")
    torch.manual_seed(1)
    model = build_model(card).eval()
    card.provenance = {
        "data_snapshot": "labels-v1",
        "parent": None,
        "command": "thalia-viewer train ...",
        "trained_at": "2026-11-23T10:00:00Z",
    }
    card.metrics = {"test": {"f1": 0.5}}
    path = write_card(card, tmp_path / "user", model=model)
    assert path.with_suffix(".safetensors").exists()
    monkeypatch.setenv("THALIA_ZOO", str(tmp_path / "user"))
    zoo = ModelZoo()
    loaded = zoo.get(DEFAULT_MODEL)
    assert loaded.path == path and loaded.has_weights and loaded.metrics == {"test": {"f1": 0.5}}
    assert resolve_card(str(path)).provenance["data_snapshot"] == "labels-v1"
    again = load_model(loaded, device="cpu")
    x = torch.randn(1, 3, 64, 64)
    with torch.inference_mode():
        torch.testing.assert_close(again(x), model(x))


def test_cards_without_weights_say_what_to_do(tmp_path):
    with pytest.raises(MissingWeightsError, match=r"has no weights .*thalia-viewer train .*weights=PATH"):
        load_model(ModelZoo([PACKAGED_ZOO]).get("unet-resnet50-base-t1"))
    card = load_card(
        _write(tmp_path / "z" / "thalia-small.yaml")
    )  # names thalia-small.safetensors, absent here
    with pytest.raises(MissingWeightsError, match=r"weights file of model 'thalia-small' does not exist"):
        load_model(card)


def test_importing_the_model_layer_does_not_import_torch():
    code = (
        "import sys; import thalia_viewer.ml.zoo, thalia_viewer.ml.inference, thalia_viewer.ml.batch, "
        "thalia_viewer.ml.weights, thalia_viewer.ml.torch_env; from thalia_viewer.ml.zoo import ModelZoo; "
        "ModelZoo().cards(); assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])


# ----------------------------------------------------------------------------------------- weights
class Boom:
    """Unpickling this would run a shell command that creates a file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _small() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))


def test_official_checkpoint_layouts_load(tmp_path):
    src = _small()
    torch.nn.init.normal_(src[0].weight)
    state = src.state_dict()
    layouts = {
        "plain.pt": state,
        "wrapped.pth": {"state_dict": state, "epoch": 3},
        "dataparallel.pt": {
            "model_state_dict": {f"module.{k}": v for k, v in state.items()},
            "optimizer": {},
        },
        "lightning.ckpt": {"state_dict": {f"model.{k}": v for k, v in state.items()}},
    }
    for name, obj in layouts.items():
        torch.save(obj, tmp_path / name)
        dst = load_state_dict(tmp_path / name, _small())
        torch.testing.assert_close(dst[0].weight, src[0].weight)
    save_weights(src, tmp_path / "w.safetensors")
    torch.testing.assert_close(read_state_dict(tmp_path / "w.safetensors")["0.weight"], src[0].weight)


def test_a_pickle_that_would_run_code_is_refused_and_does_not_run(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": _small().state_dict(), "hook": Boom(marker)}, path)
    with pytest.raises(ModelWeightsError, match=r"would import posix.system .*it was not loaded"):
        load_state_dict(path, _small())
    assert not marker.exists()


def test_wrong_shapes_truncated_and_non_model_files_are_refused(tmp_path):
    torch.save(
        torch.nn.Sequential(torch.nn.Conv2d(9, 4, 3), torch.nn.BatchNorm2d(4)).state_dict(),
        tmp_path / "nine.pt",
    )
    with pytest.raises(
        ModelWeightsError,
        match=r"'0.weight' has shape \(4, 9, 3, 3\) in the file but \(4, 3, 3, 3\) in the model",
    ):
        load_state_dict(tmp_path / "nine.pt", _small())
    torch.save(torch.nn.Conv2d(3, 4, 3).state_dict(), tmp_path / "other.pt")
    with pytest.raises(
        ModelWeightsError,
        match=r"does not fit the model: 7 missing .*; 2 unexpected \(e.g. \['weight', 'bias'\]\)",
    ):
        load_state_dict(tmp_path / "other.pt", _small())
    torch.save(_small().state_dict(), tmp_path / "full.pt")
    data = (tmp_path / "full.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelWeightsError, match="truncated or damaged"):
        load_state_dict(tmp_path / "cut.pt", _small())
    save_weights(_small(), tmp_path / "w.safetensors")
    data = (tmp_path / "w.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[:-16])
    with pytest.raises(ModelWeightsError, match="not a readable safetensors file"):
        load_state_dict(tmp_path / "cut.safetensors", _small())
    (tmp_path / "notes.pt").write_text("hello")
    with pytest.raises(ModelWeightsError, match="neither a safetensors file nor a torch checkpoint"):
        load_state_dict(tmp_path / "notes.pt", _small())
    torch.save({"epoch": 3, "lr": 0.1}, tmp_path / "meta.pt")
    with pytest.raises(
        ModelWeightsError, match=r"holds no model state dict \(a dict with keys \['epoch', 'lr'\]\)"
    ):
        load_state_dict(tmp_path / "meta.pt", _small())
    with pytest.raises(MissingWeightsError, match="does not exist"):
        load_state_dict(tmp_path / "absent.pt", _small())
