"""Errors of the model layer; like :mod:`thalia_viewer.core.errors`, each names the problem and the fix.

They derive from :class:`~thalia_viewer.core.errors.ThaliaError`, so the CLI prints them without a
traceback and the app shows them as notifications.
"""

from __future__ import annotations

from ..core.errors import ThaliaError


class ModelStackError(ThaliaError, ImportError):
    """torch / torchvision / segmentation-models-pytorch cannot be imported, or the device is unusable."""


class ModelCardError(ThaliaError, ValueError):
    """A model card (YAML) is malformed: a field is missing, unknown or has a bad value."""


class UnknownModelError(ThaliaError, KeyError):
    """No model card of that name in the zoo."""


class ModelWeightsError(ThaliaError, ValueError):
    """A weights file is unsafe (a pickle that would run code), corrupt, not a model, or does not fit the card."""


class MissingWeightsError(ThaliaError, FileNotFoundError):
    """A model card has no weights, or its weights file does not exist."""


class ModelExistsError(ThaliaError, FileExistsError):
    """A model of that name is already in the zoo folder (training never replaces one silently)."""


class InputError(ThaliaError, ValueError):
    """Model input that cannot be built: a bad window, setting, sequence or channel count."""


class PredictionOutputError(ThaliaError, ValueError):
    """A prediction output folder belongs to another model or dataset, or cannot be written."""
