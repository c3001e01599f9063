"""What a training run is doing when it reports (no torch: the app imports it before any model loads)."""

from __future__ import annotations

from enum import StrEnum


class TrainPhase(StrEnum):
    """What a training run is doing when it reports."""

    TRAIN = "train"  # after a training step
    VAL = "val"  # validating
    EPOCH = "epoch"  # an epoch is done
    THRESHOLD = "threshold"  # calibrating the threshold on the validation split
    TEST = "test"  # testing (after a batch)
