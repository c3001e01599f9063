"""Code overlays the map draws over its layers: small integer rasters (0 = nothing), one colour per code.

- Ground truth vs prediction, as in the Thalia paper's figures: :class:`TruthPrediction` codes from
  :func:`truth_prediction_codes`, coloured by :data:`~thalia_viewer.viz.elements.TRUTH_PREDICTION_COLORS`.
- The pixels two versions of a mask differ in: ``MaskDiff.codes()`` (1 added, 2 removed), coloured by
  :data:`~thalia_viewer.viz.elements.DIFF_COLORS`.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final

import numpy as np

TRUTH_PREDICTION_TITLE: Final = "Truth / prediction (1 truth, 2 prediction, 3 both)"
DIFF_TITLE: Final = "Change (1 added, 2 removed)"


class TruthPrediction(IntEnum):
    """Codes of the truth / prediction overlay."""

    NONE = 0
    TRUTH_ONLY = 1  # labelled, not predicted (red)
    PREDICTION_ONLY = 2  # predicted, not labelled (green)
    BOTH = 3  # labelled and predicted (yellow)


def truth_prediction_codes(truth: np.ndarray | None, prediction: np.ndarray | None) -> np.ndarray:
    """One overlay raster (uint8): 1 truth only, 2 prediction only, 3 both (either may be left out, not both).

    >>> truth_prediction_codes(np.array([1, 1, 0, 0]), np.array([1, 0, 1, 0])).tolist()
    [3, 1, 2, 0]
    """
    if truth is None and prediction is None:
        msg = "truth_prediction_codes needs a truth or a prediction mask"
        raise ValueError(msg)
    shape = (truth if truth is not None else prediction).shape  # type: ignore[union-attr]
    t = np.zeros(shape, bool) if truth is None else np.asarray(truth) > 0
    p = np.zeros(shape, bool) if prediction is None else np.asarray(prediction) > 0
    return (t * TruthPrediction.TRUTH_ONLY + p * TruthPrediction.PREDICTION_ONLY).astype(np.uint8)
