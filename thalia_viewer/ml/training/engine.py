"""Train (or fine-tune) a segmentation model on a Thalia root and write its model card and weights.

One epoch: every positive training sample plus as many random negatives, cropped and augmented
(:mod:`.loader`), AdamW on the focal loss; then the validation split's loss and deformation scores. The
model with the lowest validation loss is kept; its operating threshold is the one with the best validation
IoU on evaluation-sized crops (``calibrate``: the focal loss leaves probabilities for which 0.5 is rarely
the best cut). After every epoch a checkpoint (model, optimizer, RNG, history, best model) is written;
``resume=True`` continues from it (with ``epochs`` equal to the checkpoint's, it only finishes the run:
threshold, test scores, card) and gives the same result as an uninterrupted run (everything random about
an epoch derives from ``(seed, epoch)``). ``progress`` hears of every step and epoch; ``cancel`` (a
``threading.Event`` or a callable) is checked between steps.

>>> result = train(TrainConfig(root="data/default", model="thalia-small", out="my-model", epochs=5))
>>> result.card_path       # <zoo>/my-model.yaml, next to my-model.safetensors
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Final

import torch

from ...core.dataset import ThaliaDataset
from ..errors import InputError, ModelExistsError
from ..files import replacing
from ..metrics import ThresholdSweep
from ..torch_env import import_torch, resolve_device
from ..weights import check_finite, load_state_dict
from ..zoo import (
    BACKUP_DIR,
    ModelCard,
    ModelZoo,
    build_model,
    free_name,
    model_files,
    resolve_card,
    write_card,
)
from .augment import Augment
from .config import RESUMABLE, TrainConfig
from .evaluation import Evaluation, evaluate_model, score_loader
from .labels import Labels
from .loader import CropDataset, CropSpec, make_loader
from .loss import FocalLoss
from .phases import TrainPhase
from .samples import build_samples, counts
from .sampling import epoch_items, fixed_items

CHECKPOINT_VERSION: Final = 1


@dataclass(frozen=True)
class TrainProgress:
    """What :func:`train` reports: ``phase`` is ``train`` (after a step), ``val``, ``epoch`` (done), then
    ``threshold`` (calibration on the validation split) and ``test`` (after a batch)."""

    phase: TrainPhase
    epoch: int  # 1-based
    epochs: int
    step: int  # steps (batches) done in this phase
    total: int  # steps in this phase
    loss: float | None = None  # mean training loss of the epoch so far
    metrics: dict[str, Any] | None = (
        None  # at "epoch": train_loss, val_loss, precision, recall, f1, iou, seconds
    )


Cancel = Callable[[], bool] | Any  # a callable, or anything with is_set() (threading.Event)


@dataclass
class TrainResult:
    """What a run produced; ``card`` is None when it was cancelled (its checkpoint stays for a resume)."""

    card: ModelCard | None
    card_path: Path | None
    history: list[dict[str, Any]]
    best_epoch: int | None
    best_val_loss: float | None
    cancelled: bool
    checkpoint: Path
    test: Evaluation | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def _cancelled(cancel: Cancel | None) -> bool:
    if cancel is None:
        return False
    is_set = getattr(cancel, "is_set", None)
    return bool(is_set() if callable(is_set) else cancel())


def _new_card(parent: ModelCard, config: TrainConfig) -> ModelCard:
    card = dataclasses.replace(
        parent,
        name=config.out,
        setting=config.setting or parent.setting,
        timesteps=config.timesteps or parent.timesteps,
        weights=None,
        provenance={},
        metrics={},
        path=None,
    )
    card.validate(f"the new card {config.out!r}")
    return card


def _initial_weights(parent: ModelCard, card: ModelCard, config: TrainConfig) -> Path | None:
    """The parent's weights file to start from, or None (random initialisation)."""
    if config.scratch or not parent.has_weights:
        return None
    if (parent.in_channels, parent.classes) != (card.in_channels, card.classes):
        msg = (
            f"model {parent.name!r} takes {parent.in_channels} input channels ({parent.setting}, {parent.timesteps} "
            f"time step(s)), but the run asks for {card.in_channels} ({card.setting}, {card.timesteps})."
        )
        raise InputError(
            msg, "Keep the parent's setting= and timesteps= to fine-tune it, or pass scratch=True."
        )
    return parent.weights_path


def _save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    with replacing(path) as tmp:
        torch.save(state, tmp)


def _load_checkpoint(path: Path, config: TrainConfig, labels: str) -> dict[str, Any]:
    if not path.is_file():
        msg = f"there is no checkpoint to resume at {path}."
        raise InputError(
            msg, "Run without resume=True to start training (it writes a checkpoint every epoch)."
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        msg = f"checkpoint {path} cannot be read ({type(exc).__name__}: {str(exc)[:200]})."
        raise InputError(
            msg, "It is damaged or not from thalia-viewer: delete it and train without resume=True."
        ) from exc
    if state.get("version") != CHECKPOINT_VERSION:
        msg = (
            f"checkpoint {path} has format {state.get('version')!r}, this version reads {CHECKPOINT_VERSION}."
        )
        raise InputError(msg, "Train without resume=True.")
    saved, now = state["recipe"], config.recipe()
    # a learning-rate drop may be added or moved as long as the epochs already run keep their rates
    done = int(state["epoch"])
    same_past = config.replace(lr_drop=saved.get("lr_drop")).lr_until(done) == config.lr_until(done)
    free = RESUMABLE + (("lr_drop",) if same_past else ())
    changed = [
        f"{k}: {saved.get(k)!r} -> {now[k]!r}"
        for k in sorted(now)
        if k not in free and saved.get(k) != now[k]
    ]
    if state.get("root") != config.root:
        changed.append(f"root: {state.get('root')!r} -> {config.root!r}")
    if state.get("labels") != labels:
        changed.append(f"labels: {state.get('labels')!r} -> {labels!r}")
    if changed:
        what = ", ".join(changed)
        msg = f"checkpoint {path} was made with other settings ({what})."
        raise InputError(
            msg,
            "Resume with the same settings (only epochs= may grow, and lr_drop= may name an epoch not yet run), or train without resume=True.",
        )
    if state["epoch"] > config.epochs:
        msg = f"checkpoint {path} already holds {state['epoch']} epochs, more than epochs={config.epochs}."
        raise InputError(msg, f"Pass epochs={state['epoch']} to finish that run, or more to train further.")
    return state


def _state_copy(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()}


def _step_report(
    report: Callable[[TrainProgress], None], epoch: int, epochs: int, total: int, step: int, loss: float
) -> None:
    report(TrainProgress(TrainPhase.TRAIN, epoch, epochs, step, total, loss))


def _fit_epoch(
    model: torch.nn.Module,
    loader: Any,
    optimizer: torch.optim.Optimizer,
    loss_fn: torch.nn.Module,
    device: torch.device,
    cancel: Cancel | None,
    step_done: Callable[[int, float], None],
) -> float | None:
    """One pass over ``loader``: the mean training loss, or None when ``cancel`` stopped it between steps."""
    model.train()
    loss_sum, seen = 0.0, 0
    for step, (x, y) in enumerate(loader, start=1):
        if _cancelled(cancel):
            return None
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x.to(device)), y.to(device))
        loss.backward()
        optimizer.step()
        loss_sum += float(loss.detach()) * len(x)
        seen += len(x)
        step_done(step, loss_sum / seen)
    return loss_sum / max(seen, 1)


def train(
    config: TrainConfig,
    progress: Callable[[TrainProgress], None] | None = None,
    cancel: Cancel | None = None,
    zoo: ModelZoo | None = None,
) -> TrainResult:
    """Run ``config``; write ``<zoo>/<out>.yaml`` + ``.safetensors`` unless cancelled. See the module docstring."""
    import_torch()
    threads = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    try:
        return _train(config, progress, cancel, zoo)
    finally:
        torch.set_num_threads(threads)  # a process-wide setting: give the caller (an app worker) its own back


def _train(
    config: TrainConfig,
    progress: Callable[[TrainProgress], None] | None,
    cancel: Cancel | None,
    zoo: ModelZoo | None,
) -> TrainResult:
    start = time.perf_counter()
    device = resolve_device(config.device)
    report = progress or (lambda _p: None)
    parent = resolve_card(config.model, zoo)
    card = _new_card(parent, config)
    _check_name_free(config, zoo)
    config = config.replace(setting=card.setting, timesteps=card.timesteps)  # the recipe records what ran
    init = _initial_weights(parent, card, config)

    dataset = ThaliaDataset(config.root)
    labels = Labels.from_spec(dataset, config.store)
    train_samples = build_samples(dataset, "train", labels, card.timesteps, training=True)
    val_samples = build_samples(dataset, "val", labels, card.timesteps)
    n_pos, _ = counts(train_samples)
    if n_pos == 0:
        msg = f"the train split of {config.root} has no positive sample (labels: {labels.snapshot.describe()}), so there is nothing to learn."
        raise InputError(
            msg,
            "Label deformation in some training pairs (primary dates up to 2019-05-31) or use another root.",
        )
    samples = train_samples + val_samples
    masks = labels.masks(p for s in samples for p in s.pairs)
    shapes = {f: dataset.frame(f).shape for f in sorted({s.frame for s in samples})}
    stats = card.normalisation
    train_data = CropDataset(
        CropSpec(config.root, card.setting, config.crop, stats, Augment() if config.augment else None),
        train_samples,
        masks,
        shapes,
    )
    val_data = CropDataset(
        CropSpec(config.root, card.setting, config.crop, stats), val_samples, masks, shapes
    )

    torch.manual_seed(config.seed)
    model = build_model(card)
    if init is not None:
        load_state_dict(init, model)
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    loss_fn = FocalLoss(config.focal_alpha, config.focal_gamma, card.deformation_index)

    checkpoint = config.checkpoint_path()
    history: list[dict[str, Any]] = []
    best: dict[str, Any] = {"epoch": None, "val_loss": None, "state": None}
    first = 1
    if config.resume:
        state = _load_checkpoint(checkpoint, config, labels.snapshot.describe())
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        history, best, first = list(state["history"]), dict(state["best"]), int(state["epoch"]) + 1
        torch.set_rng_state(state["rng"])

    if config.inputs_only:
        return _check_inputs(config, card, dataset, train_samples, val_samples, checkpoint, start)

    flags = [s.positive for s in train_samples]
    loader, sampler = make_loader(train_data, [], config.batch_size, config.num_workers)
    val_loader, _ = make_loader(val_data, fixed_items(len(val_samples), config.seed), config.batch_size)
    notes = [] if val_samples else ["the val split is empty: the last epoch is kept, not the best"]
    cancelled = False
    for epoch in range(first, config.epochs + 1):
        t0 = time.perf_counter()
        sampler.items = epoch_items(flags, config.seed, epoch)
        for group in optimizer.param_groups:
            group["lr"] = config.lr_at(epoch)
        total = len(loader)
        step_done = partial(_step_report, report, epoch, config.epochs, total)
        train_loss = _fit_epoch(model, loader, optimizer, loss_fn, device, cancel, step_done)
        if train_loss is None:
            cancelled = True
            break
        validate = bool(val_samples) and (epoch % config.val_every == 0 or epoch == config.epochs)
        row: dict[str, Any] = {"epoch": epoch, "train_loss": round(train_loss, 6), "val_loss": None}
        if validate:
            report(TrainProgress(TrainPhase.VAL, epoch, config.epochs, 0, len(val_loader), row["train_loss"]))
            val_loss, conf = score_loader(model, card, val_loader, device, loss_fn)
            row.update(
                val_loss=round(val_loss or 0.0, 6), **{k: round(v, 4) for k, v in conf.scores().items()}
            )
            if best["val_loss"] is None or row["val_loss"] < best["val_loss"]:
                best = {"epoch": epoch, "val_loss": row["val_loss"], "state": _state_copy(model)}
        elif not val_samples:  # nothing to select with: the latest epoch is the best
            best = {"epoch": epoch, "val_loss": None, "state": _state_copy(model)}
        row["seconds"] = round(time.perf_counter() - t0, 2)
        history.append(row)
        _save_checkpoint(
            checkpoint,
            {
                "version": CHECKPOINT_VERSION,
                "epoch": epoch,
                "model": _state_copy(model),
                "optimizer": optimizer.state_dict(),
                "history": history,
                "best": best,
                "rng": torch.get_rng_state(),
                "recipe": config.recipe(),
                "root": config.root,
                "labels": labels.snapshot.describe(),
            },
        )
        report(
            TrainProgress(
                TrainPhase.EPOCH,
                epoch,
                config.epochs,
                total,
                total,
                row["train_loss"],
                dict(row, best=best["epoch"] == epoch),
            )
        )
    if cancelled:
        return TrainResult(
            None,
            None,
            history,
            best["epoch"],
            best["val_loss"],
            True,
            checkpoint,
            seconds=time.perf_counter() - start,
            notes=notes,
        )

    finishing = time.perf_counter()
    model.load_state_dict(best["state"])
    calibration = None
    if config.calibrate and any(s.positive for s in val_samples):
        calibration = calibrate_threshold(
            model,
            card,
            dataset,
            labels,
            config.seed,
            config.batch_size,
            device,
            progress=lambda k, n: report(
                TrainProgress(TrainPhase.THRESHOLD, config.epochs, config.epochs, k, n)
            ),
        )
    test = None
    if config.eval_seeds:
        try:
            test = evaluate_model(
                model,
                card,
                dataset,
                labels,
                "test",
                config.eval_seeds,
                batch_size=config.batch_size,
                device=device,
                progress=lambda k, n: report(
                    TrainProgress(TrainPhase.TEST, config.epochs, config.epochs, k, n)
                ),
            )
        except InputError as exc:  # no test pairs or no positives there: the card says so
            notes.append(f"no test scores: {exc.message}")
    # the epochs' own times (a resumed run counts the earlier ones too) and this finishing phase
    seconds = sum(r.get("seconds", 0.0) for r in history) + time.perf_counter() - finishing
    _describe(card, parent, config, labels, init, history, best, test, seconds, notes, device, calibration)
    check_finite(model.state_dict(), f"the trained model {card.name!r}")
    path = _write_new_card(card, config, model, notes)
    card.path, card.weights = path, path.with_suffix(".safetensors").name
    return TrainResult(
        card, path, history, best["epoch"], best["val_loss"], False, checkpoint, test, seconds, notes
    )


def _check_name_free(config: TrainConfig, zoo: ModelZoo | None) -> None:
    """Refuse, before any work, a name a model already has (in the output folder, or in the zoo it would shadow)."""
    folder = config.zoo_dir()
    if config.overwrite or config.resume:  # a resumed run replaces its own earlier card (kept in .backup)
        return
    existing = model_files(folder.resolve(), config.out) if folder.is_dir() else []
    others = zoo or ModelZoo()
    other = others.get(config.out).path if config.out in others else None
    shadowed = other is not None and other.parent != folder.resolve()
    if existing or shadowed:
        where = folder if existing else other
        dirs = [folder, *others.directories]
        msg = f"model {config.out!r} already exists ({where}); training never replaces a model silently."
        hint = f"Pick another out= (e.g. out={free_name(config.out, dirs)!r}), or pass overwrite=True (the old files are kept in {folder / BACKUP_DIR})."
        if shadowed and not existing:
            hint = f"A card of that name in {folder} would replace it for every process. " + hint
        raise ModelExistsError(msg, hint)


def _write_new_card(card: ModelCard, config: TrainConfig, model: torch.nn.Module, notes: list[str]) -> Path:
    """Write the trained card; if another run took its name meanwhile, under the next free name (noted)."""
    folder = config.zoo_dir()
    try:
        return write_card(card, folder, model=model, overwrite=config.overwrite or config.resume)
    except ModelExistsError:
        taken = card.name
        card.name = free_name(taken, [folder])
        card.description = card.description.replace(taken, card.name, 1)
        notes.append(
            f"model {taken!r} was written by another run meanwhile; this one is saved as {card.name!r}"
        )
        return write_card(card, folder, model=model)


def _check_inputs(
    config: TrainConfig,
    card: ModelCard,
    dataset: ThaliaDataset,
    train_samples: list,
    val_samples: list,
    checkpoint: Path,
    start: float,
) -> TrainResult:
    """``inputs_only``: read every training and validation sample's whole input once (what a run may read); write nothing."""
    from ..inputs import sequence_input

    for sample in [*train_samples, *val_samples]:
        sequence_input(dataset.frame(sample.frame), sample.pairs, card.setting, None, card.normalisation)
    notes = [
        f"check passed: parent model and weights load, {config.out!r} is free in {config.zoo_dir()}, "
        f"{len(train_samples)} training and {len(val_samples)} validation samples read; nothing trained or written"
    ]
    return TrainResult(
        None, None, [], None, None, False, checkpoint, seconds=time.perf_counter() - start, notes=notes
    )


def calibrate_threshold(
    model: torch.nn.Module,
    card: ModelCard,
    dataset: ThaliaDataset,
    labels: Labels,
    seed: int,
    batch_size: int,
    device: torch.device,
    score: str = "iou",
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Set ``card.threshold`` to the grid value with the best pooled ``score`` on the validation split.

    Scored like the test split (:func:`evaluate_model`: whole frames up to 512 px, as Predict sees them),
    not on training crops: the best cut moves with how much background a crop holds. Returns what the
    card records: the value, what it was chosen on, the grid, the crop, the threshold it replaced and the
    scores at the new one.
    """
    sweep = ThresholdSweep()
    scored = evaluate_model(
        model,
        card,
        dataset,
        labels,
        "val",
        (seed,),
        batch_size=batch_size,
        device=device,
        progress=progress,
        sweep=sweep,
    )
    before = card.threshold
    card.threshold, at = sweep.best(score)
    grid = sweep.thresholds
    return {
        "value": card.threshold,
        "chosen_on": f"val split, best pooled {score}",
        "replaced": before,
        "grid": [float(grid[0]), float(grid[-1]), round(float(grid[1] - grid[0]), 2)],
        "crop": scored.crop,
        "scores": {k: round(v, 4) for k, v in at.scores().items()},
    }


def _describe(
    card: ModelCard,
    parent: ModelCard,
    config: TrainConfig,
    labels: Labels,
    init: Path | None,
    history: list[dict[str, Any]],
    best: dict[str, Any],
    test: Evaluation | None,
    seconds: float,
    notes: list[str],
    device: torch.device,
    calibration: dict[str, Any] | None = None,
) -> None:
    """Fill the new card's provenance and metrics in place."""
    best_row = next((r for r in history if r["epoch"] == best["epoch"]), history[-1] if history else {})
    card.provenance = {
        "data_snapshot": {"root": config.root, "labels": labels.snapshot.to_dict()},
        "parent": parent.name if init is not None else None,
        "architecture_from": parent.name,
        "recipe": config.recipe(),
        "command": config.command or None,
        "author": config.author or None,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "training_seconds": round(seconds, 1),
        "device": str(device),
        "best_epoch": best["epoch"],
    }
    if init is not None:
        # a fine-tune learnt from its parent's labels too: keep the whole chain, nearest ancestor first
        ancestor = {
            "name": parent.name,
            **{k: parent.provenance.get(k) for k in ("data_snapshot", "command")},
        }
        earlier = parent.provenance.get("lineage")
        card.provenance["lineage"] = [ancestor, *(earlier if isinstance(earlier, list) else [])]
    # the epochs' validation ran on training-sized crops at the parent's threshold; say so beside the scores
    val = {k: v for k, v in best_row.items() if k != "seconds"}
    card.metrics = {
        "val": {
            **val,
            "crop": config.crop,
            "threshold": calibration["replaced"] if calibration else card.threshold,
        }
    }
    if calibration is not None:
        card.provenance["threshold"] = {k: v for k, v in calibration.items() if k != "scores"}
        card.metrics["val_at_threshold"] = {
            **calibration["scores"],
            "crop": calibration["crop"],
            "threshold": calibration["value"],
        }
    if test is not None:
        card.metrics["test"] = test.to_dict()
    if notes:
        card.provenance["notes"] = list(notes)
    if card.name != parent.name or not card.description:
        start = (
            f"fine-tuned from {parent.name}"
            if init is not None
            else f"trained from scratch ({parent.name}'s architecture)"
        )
        card.description = (
            f"{card.architecture} / {card.encoder}, {card.setting} setting, {card.timesteps} time step(s), {start} "
            f"on {config.root} with labels {labels.snapshot.describe()} by `thalia-viewer train`."
        )
