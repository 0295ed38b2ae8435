"""The simple baseline every candidate must beat: scikit-learn's logistic regression on
standardised features with balanced class weights. A neural net that cannot beat it is not
worth serving."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from services.trainer.training_set import TrainingSet


def baseline_scores(train: TrainingSet, holdout: TrainingSet, seed: int = 0) -> np.ndarray:
    """Fit on ``train``, return P(positive) on ``holdout``."""
    pipeline = make_pipeline(
        StandardScaler(),
        LogisticRegression(class_weight="balanced", max_iter=1000, random_state=seed),
    )
    pipeline.fit(train.x, train.y.astype(int))
    return np.asarray(pipeline.predict_proba(holdout.x)[:, 1], dtype=np.float64)
