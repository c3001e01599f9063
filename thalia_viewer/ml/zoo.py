"""Model cards (YAML) and the zoo that lists them; models built offline from a card.

A card says what a model is (segmentation-models-pytorch architecture and encoder), what it eats (input
setting, time steps, normalisation), what it outputs (classes), how to run it on whole frames (tile size,
overlap, threshold), where its weights are (a safetensors file next to the card) and where it came from
(provenance: data snapshot, parent model and the lineage of its ancestors' data and commands, recipe,
command, time) with its metrics. Example::

    name: thalia-small
    architecture: unet
    encoder: tu-mobilenetv3_small_100   # an smp encoder name ("tu-" = timm), built offline
    setting: base            # base: phase, coherence, DEM; atmospheric: plus 6 ERA5 channels
    timesteps: 1             # 1 or 3 (time-major: channel t*C + c)
    classes: [Deformation]   # one class: 1 logit (sigmoid); several: softmax over them
    normalisation: thalia    # the benchmark statistics, or {variable: [mean, std]}
    weights: thalia-small.safetensors   # relative to the card, or null
    tile_size: 512
    tile_overlap: 64
    threshold: 0.5
    options: {decoder_channels: [64, 32, 16, 8, 4]}   # extra smp constructor arguments

The zoo reads the packaged ``model_zoo/`` folder then the user's (``$THALIA_ZOO`` or ``~/.thalia/zoo``);
a user card of the same name replaces the packaged one. Loading the zoo never imports torch.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import inspect
import math
import os
import re
import shutil
import warnings
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import yaml

from ..core import schema
from ..core.errors import did_you_mean
from ..core.filelock import exclusive_lock
from ..resources import data_dir
from .errors import (
    InputError,
    MissingWeightsError,
    ModelCardError,
    ModelExistsError,
    ModelStackError,
    UnknownModelError,
)
from .files import replacing, write_text
from .inputs import Setting, channel_names, setting_of
from .weights import SAFETENSORS_SUFFIX

if TYPE_CHECKING:
    import torch
    from torch import nn

CARD_SUFFIX: Final = ".yaml"
WEIGHTS_SUFFIX: Final = SAFETENSORS_SUFFIX
PACKAGED_ZOO: Final = data_dir("model_zoo")
ZOO_ENV: Final = "THALIA_ZOO"
USER_ZOO: Final = Path("~/.thalia/zoo")
DEFAULT_MODEL: Final = "thalia-small"
TIMM_PREFIX: Final = "tu-"  # smp's prefix of timm "universal" encoders
#: Normalisation spelt ``thalia`` in a card: the benchmark's dataset statistics.
BENCHMARK_STATS: Final = "thalia"
#: Architectures of segmentation-models-pytorch 0.6 (``smp.create_model`` names).
ARCHITECTURES: Final = (
    "unet",
    "unetplusplus",
    "manet",
    "linknet",
    "fpn",
    "pspnet",
    "deeplabv3",
    "deeplabv3plus",
    "pan",
    "upernet",
    "segformer",
    "dpt",
)
TIMESTEPS: Final = (1, schema.SEQUENCE_LENGTH)
NAME_PATTERN: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
PROVENANCE_KEYS: Final = ("data_snapshot", "parent", "recipe", "command", "trained_at")
DEFORMATION_CLASS: Final = schema.Label.DEFORMATION.value
CLASS_NAMES: Final = tuple(c.name for c in schema.DEFORMATION_CLASSES)


def _benchmark_stats() -> dict[str, tuple[float, float]]:
    return dict(schema.NORMALIZATION)


@dataclass
class ModelCard:
    """A model's description: architecture, inputs, outputs, tiling, weights, provenance and metrics."""

    name: str
    architecture: str
    encoder: str
    setting: str = Setting.BASE.value
    timesteps: int = 1
    classes: tuple[str, ...] = (DEFORMATION_CLASS,)
    #: (mean, std) per variable, keyed like ``schema.NORMALIZATION`` (ERA5 fields shared by both dates).
    normalisation: dict[str, tuple[float, float]] = field(default_factory=_benchmark_stats)
    weights: str | None = None  # path relative to the card's folder (or absolute), or None
    tile_size: int = schema.CROP_SIZE  # px
    tile_overlap: int = 64  # px shared by neighbouring tiles
    threshold: float = 0.5  # on the deformation probability
    options: dict[str, Any] = field(default_factory=dict)  # extra smp constructor arguments
    provenance: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    path: Path | None = field(default=None, compare=False)  # the YAML it was read from

    # ------------------------------------------------------------------------------ derived facts
    @property
    def channels(self) -> list[str]:
        """Input channels of one time step, in order."""
        return channel_names(self.setting)

    @property
    def in_channels(self) -> int:
        """Model input channels: 3 (base) or 9 (atmospheric) per time step, times ``timesteps``."""
        return len(self.channels) * self.timesteps

    @property
    def num_outputs(self) -> int:
        """Output channels: 1 logit for one class, else one per class (softmax)."""
        return len(self.classes)

    @property
    def deformation_index(self) -> int:
        """Output channel of the deformation class."""
        return self.classes.index(DEFORMATION_CLASS)

    @property
    def weights_path(self) -> Path | None:
        """Absolute path of the weights file (``None`` when the card names none)."""
        if self.weights is None:
            return None
        p = Path(self.weights).expanduser()
        if not p.is_absolute() and self.path is not None:
            p = self.path.parent / p
        return p.resolve()

    @property
    def has_weights(self) -> bool:
        """Whether the card names a weights file that exists."""
        p = self.weights_path
        return p is not None and p.is_file()

    def with_weights(self, weights: str | os.PathLike[str] | None) -> ModelCard:
        """A copy of this card using another weights file (absolute path), e.g. an official checkpoint."""
        path = None if weights is None else str(Path(weights).expanduser().resolve())
        return dataclasses.replace(self, weights=path)

    # ------------------------------------------------------------------------------ (de)serialise
    def to_dict(self) -> dict[str, Any]:
        """The card as YAML-ready plain data (``normalisation: thalia`` when it is the benchmark's)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name == "path":
                continue
            value = getattr(self, f.name)
            if f.name == "classes":
                value = list(value)
            elif f.name == "normalisation":
                value = (
                    BENCHMARK_STATS if value == _benchmark_stats() else {k: list(v) for k, v in value.items()}
                )
            out[f.name] = _plain(value)
        return out

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], source: str = "<card>", path: Path | None = None
    ) -> ModelCard:
        """A validated card from plain data; :class:`ModelCardError` naming ``source`` and the field otherwise."""
        if not isinstance(data, Mapping):
            msg = f"{source} holds a {type(data).__name__}; a model card is a YAML mapping of fields."
            raise ModelCardError(msg, _FIX)
        names = [f.name for f in dataclasses.fields(cls) if f.name != "path"]
        for key in data:
            if key not in names:
                msg = f"{source}: unknown field {key!r}.{did_you_mean(key, names)}"
                raise ModelCardError(msg, f"Fields are {', '.join(names)}.")
        for key in ("name", "architecture", "encoder"):
            if key not in data:
                msg = f"{source}: required field {key!r} is missing."
                raise ModelCardError(msg, _FIX)
        card = cls(**{k: data[k] for k in names if k in data}, path=path)
        card.validate(source)
        return card

    def validate(self, source: str = "<card>") -> None:
        """Check and normalise every field in place; :class:`ModelCardError` naming ``source`` and the field."""

        def bad(name: str, problem: str, fix: str = _FIX) -> ModelCardError:
            return ModelCardError(f"{source}: field {name!r} {problem}", fix)

        if not isinstance(self.name, str) or not NAME_PATTERN.match(self.name):
            raise bad("name", f"is {self.name!r}; expected letters, digits, '.', '_' or '-'.")
        if self.path is not None and self.path.stem != self.name:
            raise bad(
                "name", f"is {self.name!r} but the file is {self.path.name}.", "Name the file <name>.yaml."
            )
        arch = str(self.architecture).strip().lower()
        if arch not in ARCHITECTURES:
            raise bad("architecture", f"is {self.architecture!r}; expected one of {list(ARCHITECTURES)}.")
        self.architecture = arch
        if not isinstance(self.encoder, str) or not self.encoder.strip():
            raise bad("encoder", f"is {self.encoder!r}; expected an smp encoder name such as resnet50.")
        try:
            self.setting = setting_of(self.setting).value
        except InputError as exc:
            raise bad(
                "setting", f"is {self.setting!r}; expected one of {[s.value for s in Setting]}."
            ) from exc
        if isinstance(self.timesteps, bool) or self.timesteps not in TIMESTEPS:
            raise bad("timesteps", f"is {self.timesteps!r}; expected one of {list(TIMESTEPS)}.")
        classes = self.classes
        if isinstance(classes, str) or not isinstance(classes, Iterable):
            raise bad("classes", f"is {classes!r}; expected a list of class names from {list(CLASS_NAMES)}.")
        classes = tuple(str(c) for c in classes)
        if (
            DEFORMATION_CLASS not in classes
            or len(set(classes)) != len(classes)
            or not set(classes) <= set(CLASS_NAMES)
        ):
            raise bad(
                "classes",
                f"is {list(classes)}; expected distinct names from {list(CLASS_NAMES)} including {DEFORMATION_CLASS!r}.",
            )
        self.classes = classes
        self.normalisation = _check_stats(self.normalisation, bad)
        if self.weights is not None and (not isinstance(self.weights, str) or not self.weights.strip()):
            raise bad(
                "weights",
                f"is {self.weights!r}; expected a file name (e.g. {self.name}{WEIGHTS_SUFFIX}) or null.",
            )
        for name in ("tile_size", "tile_overlap"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0 or (name == "tile_size" and v < 32):
                raise bad(name, f"is {v!r}; expected a whole number of pixels (tile_size >= 32).")
        if self.tile_overlap * 2 >= self.tile_size:
            raise bad(
                "tile_overlap",
                f"is {self.tile_overlap}; expected less than half tile_size ({self.tile_size}).",
            )
        if (
            isinstance(self.threshold, bool)
            or not isinstance(self.threshold, int | float)
            or not 0 < self.threshold < 1
        ):
            raise bad("threshold", f"is {self.threshold!r}; expected a probability strictly between 0 and 1.")
        self.threshold = float(self.threshold)
        for name in ("options", "provenance", "metrics"):
            v = getattr(self, name)
            if v is None:
                setattr(self, name, {})
            elif not isinstance(v, Mapping) or not all(isinstance(k, str) for k in v):
                raise bad(name, f"is {v!r}; expected a mapping with text keys.")
            else:
                setattr(self, name, dict(v))
        for key in PROVENANCE_KEYS:
            value = self.provenance.get(key)
            if value is not None and not isinstance(value, str | Mapping | date):
                raise bad(
                    "provenance", f"gives {key!r} = {value!r}; expected text, a mapping, a time or null."
                )
        reserved = {"encoder_name", "encoder_weights", "in_channels", "classes", "arch"} & set(self.options)
        if reserved:
            raise bad("options", f"sets {sorted(reserved)}, which the card's own fields decide.")
        if not isinstance(self.description, str):
            raise bad("description", f"is {self.description!r}; expected text.")


_FIX = "See model_zoo/*.yaml for complete examples (`thalia_viewer.ml.zoo` documents every field)."


def _check_stats(value: Any, bad: Any) -> dict[str, tuple[float, float]]:
    if value is None or value == BENCHMARK_STATS:
        return _benchmark_stats()
    if not isinstance(value, Mapping):
        raise bad(
            "normalisation", f"is {value!r}; expected {BENCHMARK_STATS!r} or {{variable: [mean, std]}}."
        )
    unknown = sorted(set(value) - set(schema.NORMALIZATION))
    missing = sorted(set(schema.NORMALIZATION) - set(value))
    if unknown or missing:
        raise bad(
            "normalisation",
            f"has unknown {unknown} / lacks {missing}; keys are {sorted(schema.NORMALIZATION)}.",
        )
    out: dict[str, tuple[float, float]] = {}
    for k, v in value.items():
        try:
            mean, std = (float(x) for x in v)
        except (TypeError, ValueError) as exc:
            raise bad("normalisation", f"gives {k!r} = {v!r}; expected [mean, std].") from exc
        if not (math.isfinite(mean) and math.isfinite(std) and std > 0):
            raise bad("normalisation", f"gives {k!r} = {v!r}; expected finite values and std > 0.")
        out[k] = (mean, std)
    return out


def _plain(value: Any) -> Any:
    """``value`` with tuples as lists and numpy scalars as Python numbers (safe YAML)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


# ---------------------------------------------------------------------------------------- files
@functools.lru_cache(maxsize=256)
def _yaml_of(text: str) -> Any:
    return yaml.safe_load(text)


def _parsed_yaml(text: str) -> Any:
    """``yaml.safe_load(text)``, parsed once per process per text (every new page of a served app lists the
    zoo: the cards' YAML was ~30 % of building a session); a copy, so a caller may change it."""
    return copy.deepcopy(_yaml_of(text))


def load_card(path: str | os.PathLike[str]) -> ModelCard:
    """Read and validate one card (YAML); :class:`ModelCardError` naming the file and field otherwise."""
    path = Path(path).expanduser().resolve()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        msg = f"model card {path} does not exist."
        raise ModelCardError(msg, "Check the path, or list the cards with `ModelZoo().names()`.") from exc
    except UnicodeDecodeError as exc:
        raise ModelCardError(f"model card {path} is not UTF-8 text.", _FIX) from exc
    except OSError as exc:
        raise ModelCardError(
            f"model card {path} cannot be read ({exc.strerror or type(exc).__name__}).", _FIX
        ) from exc
    try:
        data = _parsed_yaml(text)
    except (
        yaml.YAMLError
    ) as exc:  # its text quotes the offending line: name the place only, echo no file content
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        msg = f"{path} is not valid YAML ({problem}{where})."
        raise ModelCardError(msg, _FIX) from exc
    card = ModelCard.from_dict(data, source=str(path), path=path)
    check_weights_location(card)
    return card


def check_weights_location(card: ModelCard) -> None:
    """:class:`ModelCardError` when a card read from a file names weights outside its own folder.

    Weights live next to their card (a zoo folder is self-contained, and a card cannot make the loader read
    an arbitrary file, e.g. ``../../etc/passwd``); a checkpoint elsewhere is given explicitly
    (``--weights PATH``, :meth:`ModelCard.with_weights`).
    """
    if card.path is None or card.weights is None:
        return
    folder = card.path.parent.resolve()
    target = card.weights_path
    if Path(card.weights).expanduser().is_absolute() or target is None or not target.is_relative_to(folder):
        msg = f"{card.path}: field 'weights' points outside the card's folder {folder}."
        raise ModelCardError(
            msg,
            f"Keep the weights next to the card (weights: {card.name}{WEIGHTS_SUFFIX}); pass a checkpoint elsewhere with --weights PATH.",
        )


def write_card(
    card: ModelCard,
    directory: str | os.PathLike[str],
    model: nn.Module | None = None,
    *,
    overwrite: bool = False,
) -> Path:
    """Write ``<directory>/<name>.yaml`` (atomically); with ``model``, its weights as ``<name>.safetensors`` too.

    Returns the card's path. A model of that name already in ``directory`` is never replaced silently:
    :class:`ModelExistsError`, or with ``overwrite`` its files move to ``<directory>/.backup/<name>-<UTC time>/``
    first. Weights the card names elsewhere are copied next to it (a zoo folder is self-contained). The
    check and the write hold the folder's lock, so two writers cannot both take one name.
    """
    directory = Path(directory).expanduser().resolve()
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{card.name}{CARD_SUFFIX}"
    card = dataclasses.replace(card)
    with zoo_lock(directory):
        existing = model_files(directory, card.name)
        if existing and not overwrite:
            raise ModelExistsError(
                f"model {card.name!r} already exists in {directory} ({', '.join(p.name for p in existing)}).",
                f"Pick another name (e.g. {free_name(card.name, [directory])!r}), or overwrite it explicitly (--overwrite keeps the old files in {directory / BACKUP_DIR}).",
            )
        source = (
            card.weights_path
            if (
                model is None
                and card.weights is not None
                and (card.path is not None or Path(card.weights).expanduser().is_absolute())
            )
            else None
        )
        weights = directory / f"{card.name}{WEIGHTS_SUFFIX}"
        if existing:
            kept = backup_model(directory, card.name)
            if source is not None and kept is not None and source == weights:  # rewriting a card in place
                source = kept / weights.name
        if model is not None:
            from .weights import save_weights

            save_weights(model, weights, metadata={"card": card.name})
            card.weights = weights.name
        elif source is not None and source.is_file():
            if source.resolve() != weights:
                with replacing(weights) as tmp:
                    shutil.copyfile(source, tmp)
            card.weights = weights.name
        elif source is not None:
            card.weights = str(
                source
            )  # missing weights stay named as they were (the card says so when loaded)
        card.path = target
        card.validate(str(target))
        return write_text(
            target, yaml.safe_dump(card.to_dict(), sort_keys=False, allow_unicode=True, width=110)
        )


BACKUP_DIR: Final = ".backup"
LOCK_FILE: Final = ".zoo.lock"


@contextmanager
def zoo_lock(directory: Path, timeout_s: float = 30.0) -> Iterator[None]:
    """An exclusive ``flock`` on ``<directory>/.zoo.lock`` (released by the OS if its holder dies)."""

    def stuck() -> ModelExistsError:
        msg = f"the zoo folder {directory} stayed locked by another writer for {timeout_s:.0f} s."
        return ModelExistsError(msg, "Another process is writing a model there; retry in a moment.")

    with exclusive_lock(directory / LOCK_FILE, timeout_s, stuck, poll_s=0.01):
        yield


def model_files(directory: Path, name: str) -> list[Path]:
    """The card and weights files of model ``name`` that exist in ``directory``."""
    return [
        p for p in (directory / f"{name}{CARD_SUFFIX}", directory / f"{name}{WEIGHTS_SUFFIX}") if p.exists()
    ]


def free_name(base: str, directories: Iterable[str | os.PathLike[str]]) -> str:
    """``base`` if no folder holds a model of that name, else ``base-2``, ``base-3``, ... (the first free one)."""
    folders = [Path(d).expanduser() for d in directories]

    def taken(name: str) -> bool:
        return any(model_files(d, name) for d in folders)

    if not taken(base):
        return base
    n = 2
    while taken(f"{base}-{n}"):
        n += 1
    return f"{base}-{n}"


def numbered_name(base: str, directories: Iterable[str | os.PathLike[str]]) -> str:
    """``base-1``, ``base-2``, ...: the first that no folder holds a model of."""
    folders = [Path(d).expanduser() for d in directories]
    n = 1
    while any(model_files(d, f"{base}-{n}") for d in folders):
        n += 1
    return f"{base}-{n}"


def backup_model(directory: Path, name: str) -> Path | None:
    """Move model ``name``'s files into ``<directory>/.backup/<name>-<UTC time>/`` (kept as they were); that folder."""
    files = model_files(directory, name)
    if not files:
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    folder = directory / BACKUP_DIR / f"{name}-{stamp}"
    folder.mkdir(parents=True)
    for f in files:
        os.replace(f, folder / f.name)
    return folder


def user_zoo() -> Path:
    """The user's zoo folder: ``$THALIA_ZOO`` or ``~/.thalia/zoo``."""
    return Path(os.environ.get(ZOO_ENV) or USER_ZOO).expanduser()


class ModelZooWarning(UserWarning):
    """A model card of the zoo was skipped (malformed); the message names it and says why."""


class ModelZoo:
    """The model cards of some folders (later folders win on equal names).

    A malformed card is skipped with a :class:`ModelZooWarning` naming it and its error, kept in
    :attr:`problems` (one bad user card cannot hide the others); ``strict=True`` raises its
    :class:`ModelCardError` instead.
    """

    def __init__(
        self, directories: Iterable[str | os.PathLike[str]] | None = None, strict: bool = False
    ) -> None:
        dirs = [PACKAGED_ZOO, user_zoo()] if directories is None else list(directories)
        self.directories = [Path(d).expanduser().resolve() for d in dirs]
        self.strict = strict
        self.problems: dict[Path, ModelCardError] = {}
        self._cards: dict[str, ModelCard] | None = None

    def __repr__(self) -> str:
        return f"ModelZoo({[str(d) for d in self.directories]})"

    def reload(self) -> None:
        """Forget the cards read so far (after a card was written or a folder changed)."""
        self._cards = None

    def _load(self) -> dict[str, ModelCard]:
        if self._cards is None:
            cards: dict[str, ModelCard] = {}
            self.problems = {}
            for d in self.directories:
                if d.is_dir():
                    for p in sorted(d.glob(f"*{CARD_SUFFIX}")):
                        try:
                            card = load_card(p)
                        except ModelCardError as exc:
                            if self.strict:
                                raise
                            self.problems[p] = exc
                            warnings.warn(
                                f"skipped a malformed model card: {exc}", ModelZooWarning, stacklevel=2
                            )
                            continue
                        cards[card.name] = card
            self._cards = cards
        return self._cards

    def cards(self) -> list[ModelCard]:
        """Every card, sorted by name."""
        return [self._load()[n] for n in self.names()]

    def names(self) -> list[str]:
        """Card names, sorted."""
        return sorted(self._load())

    def __contains__(self, name: object) -> bool:
        return name in self._load()

    def get(self, name: str) -> ModelCard:
        """The card called ``name``; :class:`UnknownModelError` listing the names otherwise."""
        cards = self._load()
        if name in cards:
            return cards[name]
        folders = ", ".join(str(d) for d in self.directories)
        msg = f"no model {name!r} in the zoo ({folders}).{did_you_mean(name, cards)}"
        raise UnknownModelError(msg, f"Models: {', '.join(sorted(cards)) or 'none'}.")


def resolve_card(model: str | os.PathLike[str] | ModelCard, zoo: ModelZoo | None = None) -> ModelCard:
    """A card from a card, a YAML path (``*.yaml`` / ``*.yml``) or a zoo name."""
    if isinstance(model, ModelCard):
        return model
    text = os.fspath(model)
    if text.endswith((".yaml", ".yml")):
        return load_card(text)
    return (zoo or ModelZoo()).get(text)


# ---------------------------------------------------------------------------------------- models
def build_model(card: ModelCard) -> nn.Module:
    """The card's network with random weights, built offline (no ImageNet download)."""
    from .torch_env import import_smp

    smp = import_smp()
    cls = getattr(smp, "MODEL_ARCHITECTURES_MAPPING", {}).get(card.architecture)
    if cls is not None and not card.encoder.startswith(
        TIMM_PREFIX
    ):  # smp passes extra kwargs to timm encoders only
        accepted = set(inspect.signature(cls.__init__).parameters) - {"self", "kwargs"}
        unknown = sorted(set(card.options) - accepted)
        if unknown:
            msg = f"model card {card.name!r}: field 'options' does not fit {card.architecture} (unknown {unknown})."
            raise ModelCardError(msg, f"{card.architecture} takes {', '.join(sorted(accepted))}.")
    try:
        model = smp.create_model(
            card.architecture,
            encoder_name=card.encoder,
            encoder_weights=None,
            in_channels=card.in_channels,
            classes=card.num_outputs,
            **card.options,
        )
    except (KeyError, ValueError) as exc:
        text = exc.args[0] if exc.args else exc
        msg = f"model card {card.name!r}: segmentation-models-pytorch cannot build {card.architecture} with encoder {card.encoder!r} ({str(text)[:300]})."
        raise ModelCardError(
            msg,
            "Pick an encoder smp supports offline, e.g. resnet18, resnet50, mobilenet_v2, efficientnet-b0, mit_b0.",
        ) from exc
    except TypeError as exc:
        msg = f"model card {card.name!r}: field 'options' does not fit {card.architecture} ({exc})."
        raise ModelCardError(
            msg, "Use constructor arguments of that smp architecture (e.g. decoder_channels)."
        ) from exc
    except ImportError as exc:
        raise ModelStackError(
            f"cannot build model {card.name!r}: {exc}", "Install the pinned stack."
        ) from exc
    return model


def load_model(
    card: ModelCard, device: str | torch.device | None = None, weights: str | os.PathLike[str] | None = None
) -> nn.Module:
    """The card's network with its weights (or ``weights`` instead), in eval mode on ``device``."""
    from .torch_env import resolve_device
    from .weights import load_state_dict

    path: Path | None
    if weights is not None:
        path = Path(weights).expanduser().resolve()
        if not path.is_file():
            msg = f"weights file {path} does not exist."
            raise MissingWeightsError(
                msg, "Check the weights= path (a .safetensors file or a torch checkpoint)."
            )
    else:
        path = card.weights_path
    if path is None:
        msg = f"model {card.name!r} has no weights (its card says weights: null)."
        raise MissingWeightsError(
            msg,
            f"Train weights with `thalia-viewer train ROOT --model {card.name} --out NEW_NAME`, or pass a checkpoint (e.g. the official one) as weights=PATH.",
        )
    if not path.is_file():
        msg = f"the weights file of model {card.name!r} does not exist: {path}."
        raise MissingWeightsError(
            msg,
            f"Train weights with `thalia-viewer train ROOT --model {card.name} --out {card.name}`, or pass weights=PATH.",
        )
    model = build_model(card)
    load_state_dict(path, model)
    return model.to(resolve_device(device)).eval()
