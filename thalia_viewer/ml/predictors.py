"""The zoo's models that can predict, and one loaded :class:`~thalia_viewer.ml.inference.Predictor` of each
per process (shared by every caller: the app's sessions, a notebook). No torch until a model is loaded."""

from __future__ import annotations

import threading
import warnings
from typing import Any

from .zoo import DEFAULT_MODEL

_PREDICTORS: dict[tuple[str, str], Any] = {}  # (model name, weights file) -> Predictor
_LOCK = threading.Lock()


def zoo_models(problems: list[str] | None = None) -> list[str]:
    """Zoo models that can predict (their weights are there), the default model first; a malformed card is
    skipped, and what is wrong with it appended to ``problems`` (for people to see)."""
    from .zoo import ModelZoo

    zoo = ModelZoo()
    zoo.reload()
    with warnings.catch_warnings():  # each skipped card is reported through ``problems`` instead
        warnings.simplefilter("ignore", UserWarning)
        names = [c.name for c in zoo.cards() if c.has_weights]
    if problems is not None:
        problems.extend(f"A model card was skipped: {exc}" for exc in zoo.problems.values())
    return sorted(names, key=lambda n: (n != DEFAULT_MODEL, n))


def zoo_predictor(name: str) -> Any:
    """The process's predictor of zoo model ``name`` (loaded once; loaded again when its weights file is
    another one); raises ``ThaliaError`` for an unknown model or unusable weights."""
    from .inference import Predictor
    from .zoo import ModelZoo

    zoo = ModelZoo()
    zoo.reload()
    card = zoo.get(name)
    key = (name, str(card.weights_path))
    with _LOCK:
        if key not in _PREDICTORS:
            _PREDICTORS[key] = Predictor(card)
        return _PREDICTORS[key]
