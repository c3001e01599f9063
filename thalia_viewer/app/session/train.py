"""``TrainSession``: fine-tune a zoo model on a label snapshot in the background, with live curves and cancel.

The run is :func:`thalia_viewer.ml.training.train` on a worker thread of its own, limited to one torch thread
on the CPU, so browsing and editing stay responsive on the same server. Each training step and epoch comes
back to the session as a point of the loss and metric curves; Cancel stops it between two steps (its
checkpoint stays for a resume). When it ends, the parent and the new model are scored on the validation split
with the same labels, side by side, and the new model is in the zoo for Predict and Review.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Final

import param

from thalia_viewer.app import background
from thalia_viewer.app.messages import Level
from thalia_viewer.app.session.state import AppState
from thalia_viewer.core.annotations import store_location
from thalia_viewer.core.errors import ThaliaError
from thalia_viewer.core.roles import LOCAL, Action, Identity, PermissionDenied
from thalia_viewer.ml.training.phases import TrainPhase

SOURCE: Final = "source (the cubes' labels)"
TIP: Final = "latest corrections (store tip)"
VAL_SEEDS: Final = (0,)  # crop seeds of the before / after scores (the val split; fast)


def session_user(identity: Identity = LOCAL) -> str:
    """The logged-in user of ``identity`` (``panel serve`` auth), else ``user``; as a card-name part."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(identity.user or "user")).strip("-.") or "user"


def suggest_name(parent: str, user: str) -> str:
    """A fine-tune name no model has yet: ``<parent>-ft-<user>-<n>`` with the first free counter ``n``.

    Two sessions (or users) never get the same name while the zoo holds the first one's model; if both start
    before either finishes, the engine saves the second under the next free name (it never replaces a model).
    """
    from thalia_viewer.ml.zoo import ModelZoo, numbered_name, user_zoo

    return numbered_name(f"{parent}-ft-{user}", [user_zoo(), *ModelZoo().directories])


def name_taken(name: str) -> str | None:
    """Where a model called ``name`` already is (its card), or ``None``."""
    from thalia_viewer.ml.zoo import ModelZoo, model_files, user_zoo

    zoo = ModelZoo()
    zoo.reload()
    if name in zoo:
        return str(zoo.get(name).path)
    found = model_files(user_zoo(), name) if user_zoo().is_dir() else []
    return str(found[0]) if found else None


def parent_models() -> list[str]:
    """Zoo models a fine-tune can start from (any card; ones with weights first, the default model first)."""
    from thalia_viewer.ml.zoo import DEFAULT_MODEL, ModelZoo

    zoo = ModelZoo()
    zoo.reload()
    return [
        c.name
        for c in sorted(zoo.cards(), key=lambda c: (not c.has_weights, c.name != DEFAULT_MODEL, c.name))
    ]


class TrainSession(param.Parameterized):
    """The fine-tune being set up or running: parent, labels, recipe, progress, curves and results."""

    model = param.Selector(default=None, objects=[], doc="Parent model (architecture and starting weights)")
    labels = param.Selector(default=SOURCE, objects=[SOURCE], doc="Label snapshot to learn from")
    out = param.String(default="", label="New model name", doc="Name of the new zoo card")
    epochs = param.Integer(default=2, bounds=(1, 200))
    crop = param.Integer(default=256, bounds=(64, 1024), label="Crop (px)")
    batch_size = param.Integer(default=4, bounds=(1, 64), label="Batch size")
    lr = param.Number(default=1e-4, bounds=(1e-7, 1.0), label="Learning rate")
    running = param.Boolean(default=False)
    progress = param.Integer(default=0, bounds=(0, 100))
    phase = param.String(default="", doc="What the run does now")
    revision = param.Integer(default=0, doc="Bumped with every new point of the curves")
    status = param.String(default="")
    new_model = param.String(default="", doc="The model the last run wrote")

    def __init__(
        self,
        state: AppState,
        on_new_model: Callable[[str], None] | None = None,
        identity: Identity = LOCAL,
        **params: Any,
    ) -> None:
        super().__init__(**params)
        self.state = state
        self.identity = identity
        self.on_new_model = on_new_model
        self.steps: list[dict[str, Any]] = []  # {"step", "loss"} per training step
        self.epochs_done: list[dict[str, Any]] = []  # the engine's per-epoch metrics
        self.before: dict[str, Any] | None = None
        self.after: dict[str, Any] | None = None
        self._cancel = threading.Event()
        self._future: Future | None = None
        self._suggested = ""
        self.refresh()

    def refresh(self) -> None:
        """Re-read the zoo and the store's tags."""
        try:
            names = parent_models()
        except ThaliaError as exc:
            self.state.notify(Level.ERROR, str(exc))
            names = []
        self.param.model.objects = names
        if self.model not in names:
            self.model = names[0] if names else None
        self.param.labels.objects = self._label_choices()
        if not self.out or self.out == self._suggested:  # a name the user typed is theirs to keep
            self._suggested = self.out = suggest_name(self.model or "model", session_user(self.identity))

    def _label_choices(self) -> dict[str, str] | list[str]:
        location = store_location(self.state.root) if self.state.root else None
        choices = {SOURCE: SOURCE}
        if location is not None:
            try:
                from thalia_viewer.core.annotations import AnnotationStore

                store = AnnotationStore(location, create=False)
                choices[TIP] = location
                for tag in store.tags():
                    choices[f"tag {tag}"] = f"{location}@{tag}"
            except ThaliaError:
                pass  # no store yet: only the source
        return choices

    # ---------------------------------------------------------------------------------------- run
    def start(self) -> None:
        """Start the fine-tune in the background."""
        from thalia_viewer.ml.training import TrainConfig

        if self.running:
            return
        try:
            self.identity.require(Action.TRAIN)  # on the server, whatever the page shows
        except PermissionDenied as exc:
            self.state.notify(Level.ERROR, str(exc))
            return
        if not self.model:
            self.state.notify(Level.WARNING, "The zoo has no model to start from.")
            return
        store = None if self.labels == SOURCE else self.labels
        if self.out == self._suggested:  # another session may have taken the suggested name meanwhile
            self._suggested = self.out = suggest_name(self.model, session_user(self.identity))
        taken = name_taken(self.out.strip())
        if taken:
            self.state.notify(
                Level.WARNING,
                f"A model named {self.out.strip()!r} is already in the zoo ({taken}); the app never replaces one. "
                f"Pick another name, e.g. {suggest_name(self.model, session_user(self.identity))!r}.",
            )
            return
        try:
            config = TrainConfig(
                root=self.state.root,
                model=self.model,
                out=self.out.strip(),
                store=store,
                epochs=self.epochs,
                crop=self.crop,
                batch_size=self.batch_size,
                lr=self.lr,
                threads=1,
                eval_seeds=(),
                command=f"(app) fine-tune {self.model} -> {self.out.strip()}",
                author=self.author(),
            )
        except ThaliaError as exc:
            self.state.notify(Level.ERROR, str(exc))
            return
        self.steps, self.epochs_done, self.before, self.after = [], [], None, None
        self._cancel.clear()
        self.running, self.progress, self.phase, self.new_model = True, 0, "starting", ""
        self.status = f"fine-tuning {self.model} into {config.out}…"
        self.revision += 1
        report, finish = background.in_session(self._report), background.in_session(self._finish)

        def job() -> None:
            from thalia_viewer.ml.training import evaluate, train

            try:
                before = _val_scores(evaluate, config.root, config.model, store)
                result = train(config, progress=report, cancel=self._cancel)
                after = (
                    None
                    if result.card is None
                    else _new_val_scores(evaluate, config.root, result.card, store)
                )
            except ThaliaError as exc:
                finish(None, None, None, str(exc))
            except Exception as exc:  # a failed run must end with a message, not silently
                finish(None, None, None, f"{type(exc).__name__}: {exc}")
            else:
                finish(result, before, after, None)

        self._future = background.submit(background.Lane.TRAIN, job)

    def author(self) -> str:
        """Who the new model is by (recorded in its card and in the store's history)."""
        return _author_of(self.identity)

    def _log_model(self, name: str, parent: str | None) -> None:
        """Log the new model in the annotation store's history (who trained what, when), if there is a store."""
        location = store_location(self.state.root) if self.state.root else None
        if location is None:
            return
        from thalia_viewer.core.annotations import AnnotationStore, Kind

        try:
            AnnotationStore(location, create=False).log_event(
                Kind.MODEL,
                self.author(),
                f"model {name} trained on {self.labels}",
                model=name,
                parent=parent,
                labels=self.labels,
            )
        except ThaliaError as exc:
            self.state.notify(
                Level.WARNING, f"The model is in the zoo but could not be logged in the store: {exc}"
            )

    def cancel(self) -> None:
        """Stop the run after the current step (its checkpoint stays)."""
        if self.running:
            self._cancel.set()
            self.phase = "cancelling"

    def wait(self, timeout: float | None = None) -> None:
        """Block until the run ends (scripts and tests)."""
        if self._future is not None:
            self._future.result(timeout)

    def _report(self, p: Any) -> None:
        if p.phase == TrainPhase.TRAIN and p.loss is not None:
            self.steps.append({"step": len(self.steps) + 1, "epoch": p.epoch, "loss": float(p.loss)})
        elif p.phase == TrainPhase.EPOCH and p.metrics:
            self.epochs_done.append({"epoch": p.epoch, **p.metrics})
        done = (p.epoch - 1 + (p.step / max(p.total, 1) if p.phase == TrainPhase.TRAIN else 1.0)) / max(
            p.epochs, 1
        )
        self.progress = max(self.progress, min(99, round(100 * done)))
        self.phase = f"epoch {p.epoch}/{p.epochs} · {p.phase} {p.step}/{p.total}"
        self.revision += 1

    def _finish(self, result: Any, before: dict | None, after: dict | None, error: str | None) -> None:
        self.running = False
        if error is not None:
            self.phase, self.status = "failed", f"fine-tune failed: {error}"
            self.state.notify(Level.ERROR, f"Fine-tune failed: {error}")
            return
        self.before, self.after = before, after
        if result.cancelled or result.card is None:
            self.phase, self.status = "cancelled", f"cancelled; resume from {result.checkpoint}"
        else:
            self.progress, self.phase = 100, "done"
            self.new_model = result.card.name
            self.status = (
                f"{result.card.name} is in the zoo ({result.seconds:.0f} s, best epoch {result.best_epoch})"
            )
            self.state.notify(
                Level.INFO, f"New model {result.card.name} is in the zoo: pick it in Predict or Review."
            )
            self._log_model(result.card.name, result.card.provenance.get("parent"))
            if self.on_new_model is not None:
                self.on_new_model(result.card.name)
            self.refresh()
        self.revision += 1


def _author_of(identity: Identity) -> str:
    """Who a model is by: the login, else the local account (a single user on localhost)."""
    if identity.user is not None:
        return identity.user
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "local user"


def _new_val_scores(evaluate: Any, root: str, card: Any, store: str | None) -> dict[str, Any] | None:
    """The new model's validation scores: the ones training picked its threshold with (same split, labels,
    whole-frame crops of seed 0 and threshold), else a run of :func:`_val_scores`."""
    from thalia_viewer.ml.metrics import SCORES

    scores = card.metrics.get("val_at_threshold")
    if scores and card.provenance.get("recipe", {}).get("seed") == VAL_SEEDS[0]:
        return {k: scores[k] for k in SCORES}
    return _val_scores(evaluate, root, card, store)


def _val_scores(evaluate: Any, root: str, model: Any, store: str | None) -> dict[str, Any] | None:
    """Validation-split means of precision / recall / F1 / IoU (``None`` when the model has no weights yet)."""
    from thalia_viewer.ml.zoo import resolve_card

    card = resolve_card(model)
    if not card.has_weights:
        return None
    try:
        ev = evaluate(root, card, split="val", seeds=VAL_SEEDS, store=store)
    except ThaliaError as exc:
        return {"error": str(exc)}
    return {k: v["mean"] for k, v in ev.summary.items()}
