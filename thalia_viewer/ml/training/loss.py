"""The Thalia focal loss (gamma 2, alpha 0.25) for one-logit (sigmoid) and several-logit (softmax) models.

Thalia's ``FocalLoss(gamma=2, alpha=0.25)`` turns alpha into class weights ``[alpha, 1 - alpha]`` for
(no deformation, deformation): ``loss = -w[t] * (1 - p_t) ** gamma * log(p_t)``, averaged over pixels.
``smp.losses.FocalLoss(alpha=0.25)`` does not fit: it follows RetinaNet, weighting the *positive* class
by alpha (0.25, the opposite), and in multiclass mode sums one-vs-all sigmoid losses instead of a softmax.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import ALPHA, GAMMA


class FocalLoss(nn.Module):
    """Focal loss of binary deformation targets (N, H, W) given logits (N, K, H, W).

    ``K == 1``: one deformation logit (sigmoid). ``K >= 2``: softmax over classes, deformation at
    ``deformation_index``, every other pixel the first other class (the benchmark maps earthquake to 1).
    """

    def __init__(self, alpha: float = ALPHA, gamma: float = GAMMA, deformation_index: int = 0) -> None:
        super().__init__()
        if not 0.0 <= alpha <= 1.0 or gamma < 0:
            msg = f"focal loss needs 0 <= alpha <= 1 and gamma >= 0, got alpha={alpha}, gamma={gamma}."
            raise ValueError(msg)
        self.alpha = float(alpha)
        self.gamma = float(gamma)
        self.deformation_index = int(deformation_index)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean loss over pixels; ``target`` is 0/1 (any integer or bool dtype)."""
        positive = target.to(logits.device) != 0
        if logits.shape[1] == 1:
            z = logits[:, 0]
            log_pt = -F.binary_cross_entropy_with_logits(z, positive.to(z.dtype), reduction="none")
        else:
            background = 0 if self.deformation_index != 0 else 1
            index = torch.where(positive, self.deformation_index, background).long()
            log_pt = F.log_softmax(logits, dim=1).gather(1, index[:, None])[:, 0]
        weight = torch.where(positive, 1.0 - self.alpha, self.alpha).to(log_pt.dtype)
        pt = log_pt.exp()
        return (-weight * (1.0 - pt).pow(self.gamma) * log_pt).mean()
