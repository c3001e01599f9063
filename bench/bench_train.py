"""Training steps per second (forward, focal loss, backward, AdamW) of thalia-small vs UNet-ResNet50.

Random inputs of the base setting (3 channels, 1 time step), so only the model's cost is measured (the
loader has its own benchmark). CPU: 256 px crops, batch 2 and 4; CUDA: the benchmark's 512 px, batch 4
and 8. The ratio is how many times more steps thalia-small makes than the paper-sized UNet-ResNet50.
"""

from __future__ import annotations

import torch

from bench.common import print_ratio, time_it, timing_dict, write_results
from thalia_viewer.ml.torch_env import default_device, import_torch
from thalia_viewer.ml.training.loss import FocalLoss
from thalia_viewer.ml.zoo import DEFAULT_MODEL, ModelZoo, build_model

MODELS = (DEFAULT_MODEL, "unet-resnet50-base-t1")


def _step_timer(name: str, batch: int, crop: int, device: torch.device):
    card = ModelZoo().get(name)
    torch.manual_seed(0)
    model = build_model(card).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=1e-2)
    loss_fn = FocalLoss()
    x = torch.randn(batch, card.in_channels, crop, crop, device=device)
    y = (torch.rand(batch, crop, crop, device=device) > 0.9).to(torch.uint8)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()

    return step, sum(p.numel() for p in model.parameters())


def main() -> dict:
    import_torch()
    device = default_device()
    cuda = device.type == "cuda"
    crop = 512 if cuda else 256
    batches = (4, 8) if cuda else (2, 4)
    figures: dict = {
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
        "crop_px": crop,
        "runs": {},
    }
    ratios = []
    for batch in batches:
        timings = {}
        for name in MODELS:
            step, params = _step_timer(name, batch, crop, device)
            timings[name] = time_it(step, repeats=5, warmup=2)
            figures["runs"][f"{name}/batch{batch}"] = {
                "params": params,
                "step": timing_dict(timings[name]),
                "steps_per_s": round(1 / timings[name].median_s, 2),
                "samples_per_s": round(batch / timings[name].median_s, 1),
            }
        ratios.append(
            print_ratio(
                f"train step, batch {batch} x {crop} px on {device}",
                timings[MODELS[0]],
                timings[MODELS[1]],
                MODELS[0],
                MODELS[1],
            )
        )
    figures["ratio"] = round(ratios[-1], 2)
    write_results("train", figures)
    return figures


if __name__ == "__main__":
    main()
