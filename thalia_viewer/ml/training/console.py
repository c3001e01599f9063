"""Training progress on a terminal: a step bar per epoch (tqdm when installed) and one metrics line per epoch."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from .engine import TrainProgress
from .phases import TrainPhase


def epoch_line(metrics: dict[str, Any], epochs: int) -> str:
    """``epoch 3/40: train loss 0.0123, val loss 0.0150, P 71.2 R 65.0 F1 68.0 IoU 51.5 % (12.3 s) best``."""
    val = metrics.get("val_loss")
    text = f"epoch {metrics['epoch']}/{epochs}: train loss {metrics['train_loss']:.4f}"
    if val is not None:
        scores = " ".join(
            f"{name} {100 * metrics[key]:.1f}"
            for key, name in (("precision", "P"), ("recall", "R"), ("f1", "F1"), ("iou", "IoU"))
        )
        text += f", val loss {val:.4f}, {scores} %"
    text += f" ({metrics['seconds']:.1f} s)"
    return text + (" best" if metrics.get("best") else "")


class ConsoleProgress:
    """A ``progress`` callback for :func:`~.engine.train` that draws on a terminal."""

    def __init__(self, out: TextIO | None = None, bar: bool = True) -> None:
        self.out = out or sys.stdout
        self._bar: Any = None
        self._tqdm: Any = None
        if bar:
            try:
                from tqdm import tqdm
            except ImportError:
                tqdm = None
            self._tqdm = tqdm

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __call__(self, p: TrainProgress) -> None:
        if p.phase in (TrainPhase.TRAIN, TrainPhase.THRESHOLD, TrainPhase.TEST):
            label = f"epoch {p.epoch}/{p.epochs}" if p.phase is TrainPhase.TRAIN else p.phase
            if self._tqdm is not None:
                if self._bar is None or p.step == 1:
                    self._close()
                    self._bar = self._tqdm(
                        total=p.total, desc=label, unit="batch", leave=False, file=sys.stderr
                    )
                self._bar.update(1)
                if p.loss is not None:
                    self._bar.set_postfix(loss=f"{p.loss:.4f}")
            elif p.step == p.total:
                loss = f", loss {p.loss:.4f}" if p.loss is not None else ""
                print(f"{label}: {p.step}/{p.total} batches{loss}", file=self.out, flush=True)
        elif p.phase is TrainPhase.EPOCH and p.metrics is not None:
            self._close()
            print(epoch_line(p.metrics, p.epochs), file=self.out, flush=True)
        elif p.phase is TrainPhase.VAL:
            self._close()
