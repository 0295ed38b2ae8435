"""The candidate model: a small MLP whose input normalisation is part of the network, so the
exported ONNX graph takes raw features exactly as the scorer has them, and its training loop
(seeded, deterministic on CPU, early stopping, class imbalance via a positive-class weight)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from services.trainer.background_run import RunCancelled
from services.trainer.objective import Objective
from services.trainer.training_set import TrainingSet


@dataclass(frozen=True)
class TrainParams:
    """Everything that decides the trained weights, recorded with every run."""

    hidden: tuple[int, ...] = (64, 64)
    epochs: int = 40
    batch_size: int = 512
    lr: float = 3e-3
    weight_decay: float = 1e-4
    patience: int = 4
    val_fraction: float = 0.15
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["hidden"] = list(self.hidden)
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TrainParams:
        known = {k: v for k, v in raw.items() if k in cls.__dataclass_fields__}
        if "hidden" in known:
            known["hidden"] = tuple(int(h) for h in known["hidden"])
        return cls(**known)


#: Standardised inputs are clipped to this many standard deviations.
CLIP_SD = 5.0


def squash(x: np.ndarray) -> np.ndarray:
    """sign(x) * log(1 + |x|), as the graph computes it (numpy, for the scaling statistics)."""
    return np.sign(x) * np.log1p(np.abs(x))


class ScoringMLP(nn.Module):
    """P(positive | raw features). The input scaling is part of the graph, so serving never
    re-implements it: ``sign(x) * log(1 + |x|)`` tames counts and sums with heavy tails, then
    ``(x - mean) / std`` with buffers fitted on the training rows, clipped to ``CLIP_SD``.
    The clip is for drifting streams: windowed counts and sums grow past anything the training
    window held (a model retrained right after a change has seen a few seconds of it), and an
    unclipped input extrapolates linearly through the ReLUs into confident nonsense."""

    def __init__(self, n_features: int, hidden: tuple[int, ...],
                 mean: np.ndarray, std: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))
        layers: list[nn.Module] = []
        width = n_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    mean: torch.Tensor
    std: torch.Tensor

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        z = (torch.sign(x) * torch.log1p(torch.abs(x)) - self.mean) / self.std
        return self.net(torch.clamp(z, -CLIP_SD, CLIP_SD)).squeeze(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(x))


@dataclass(frozen=True)
class TrainResult:
    model: ScoringMLP          # on the CPU, in eval mode
    threshold: float           # chosen on the validation slice (max F1), not the held-out one
    epochs_run: int
    best_epoch: int
    val_loss: float
    pos_weight: float
    device: str
    seconds: float


def pick_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def train_mlp(data: TrainingSet, params: TrainParams, device: torch.device | None = None,
              should_stop: Callable[[], bool] | None = None,
              objective: Objective | None = None) -> TrainResult:
    """Train on ``data`` (the past); its most recent ``val_fraction`` is the validation slice
    for early stopping and the threshold (the best cut for the domain's ``objective``), so
    the held-out slice stays unseen. ``should_stop`` is polled every mini-batch: a trainer
    that is shutting down stops within one."""
    started = time.perf_counter()
    device = device or pick_device()
    torch.manual_seed(params.seed)
    if device.type == "cpu":
        torch.set_num_threads(1)
        torch.use_deterministic_algorithms(True)
    n_val = max(1, int(round(len(data) * params.val_fraction)))
    fit, val = data.slice(0, len(data) - n_val), data.slice(len(data) - n_val, len(data))
    squashed = squash(fit.x)
    mean = squashed.mean(axis=0)
    std = squashed.std(axis=0)
    std = np.where(std < 1e-6, 1.0, std).astype(np.float32)
    model = ScoringMLP(len(data.features), params.hidden, mean, std).to(device)
    positives = max(fit.positives, 1)
    # sqrt of the imbalance: rare positives still pull their weight, and scores stay closer
    # to calibrated probabilities than with the full ratio
    pos_weight = math.sqrt(max(len(fit) - positives, 1) / positives)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pos_weight, device=device))
    optimiser = torch.optim.AdamW(model.parameters(), lr=params.lr,
                                  weight_decay=params.weight_decay)
    x_fit = torch.from_numpy(fit.x).to(device)
    y_fit = torch.from_numpy(fit.y).to(device)
    x_val = torch.from_numpy(val.x).to(device)
    y_val = torch.from_numpy(val.y).to(device)
    generator = torch.Generator().manual_seed(params.seed)
    best_loss, best_epoch, best_state, epochs_run = math.inf, 0, None, 0
    for epoch in range(1, params.epochs + 1):
        model.train()
        order = torch.randperm(len(fit), generator=generator).to(device)
        for start in range(0, len(fit), params.batch_size):
            if should_stop is not None and should_stop():
                raise RunCancelled(f"stopped in epoch {epoch}")
            idx = order[start:start + params.batch_size]
            optimiser.zero_grad(set_to_none=True)
            loss = loss_fn(model.logits(x_fit[idx]), y_fit[idx])
            loss.backward()
            optimiser.step()
        model.eval()
        with torch.no_grad():
            val_loss = float(loss_fn(model.logits(x_val), y_val))
        epochs_run = epoch
        if val_loss < best_loss - 1e-5:
            best_loss, best_epoch = val_loss, epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        elif epoch - best_epoch >= params.patience:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model = model.cpu().eval()
    with torch.no_grad():
        p_val = model(torch.from_numpy(val.x)).numpy()
    return TrainResult(
        model=model, threshold=(objective or Objective()).threshold(p_val, val.y),
        epochs_run=epochs_run, best_epoch=best_epoch, val_loss=best_loss, pos_weight=pos_weight,
        device=str(device), seconds=time.perf_counter() - started)
