"""The simple baseline every network must beat: scikit-learn's logistic regression on
standardised features with balanced class weights. A network that cannot beat it is not worth
serving; but when the champion is worse still (right after a change, with few labels, a
linear model often wins), the baseline itself is the better model to serve. So it is fitted
as a servable model: its coefficients become a small graph exported to ONNX like the network."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from torch import nn

from services.trainer.objective import Objective
from services.trainer.training_set import TrainingSet


class LinearScorer(nn.Module):
    """P(positive | raw features) = sigmoid(coef · (x - mean) / scale + intercept)."""

    def __init__(self, mean: np.ndarray, scale: np.ndarray, coef: np.ndarray,
                 intercept: float) -> None:
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))
        self.register_buffer("coef", torch.as_tensor(coef, dtype=torch.float32))
        self.register_buffer("intercept", torch.tensor(float(intercept), dtype=torch.float32))

    mean: torch.Tensor
    scale: torch.Tensor
    coef: torch.Tensor
    intercept: torch.Tensor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(((x - self.mean) / self.scale) @ self.coef + self.intercept)


@dataclass(frozen=True)
class BaselineResult:
    model: LinearScorer  # eval mode, on the CPU
    threshold: float     # the objective's best cut on the training rows (a linear model
    #                      barely overfits them)


def train_baseline(train: TrainingSet, seed: int = 0,
                   objective: Objective | None = None) -> BaselineResult:
    scaler = StandardScaler().fit(train.x)  # zero-variance columns get scale 1
    regression = LogisticRegression(class_weight="balanced", max_iter=1000, random_state=seed)
    regression.fit(scaler.transform(train.x), train.y.astype(int))
    model = LinearScorer(scaler.mean_, scaler.scale_, regression.coef_[0],
                         float(regression.intercept_[0])).eval()
    with torch.no_grad():
        p_train = model(torch.from_numpy(np.asarray(train.x, np.float32))).numpy()
    return BaselineResult(model, (objective or Objective()).threshold(p_train, train.y))
