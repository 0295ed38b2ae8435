"""Trainer settings (DRIFTLOOP_TRAINER_* plus the common DRIFTLOOP_* ones and the registry's
DRIFTLOOP_REGISTRY_URL)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from driftloop.contracts.model_inputs import ModelInputs, ModelInputsError
from driftloop.contracts.rule_baseline import BaselineModel
from driftloop.contracts.slices import Slices
from driftloop.featurestore.declarations import FeatureDeclarations
from driftloop.registry import RegistrySettings
from driftloop.runtime import CommonSettings
from services.trainer.feature_maturity import growing_windows
from services.trainer.gate import Gate
from services.trainer.mlp import TrainParams
from services.trainer.objective import Objective
from services.trainer.retrain_job import RetrainConfig


class TrainerSettings(CommonSettings, RegistrySettings):
    trainer_port: int = Field(8004, description="HTTP port of /healthz, /readyz, /metrics.")
    trainer_group: str = Field("trainer", description="Consumer group on its input topics.")
    trainer_model_name: str | None = Field(None, description="Model to train; unset: domain's.")
    trainer_store_path: Path | None = Field(
        None, description="SQLite join of predictions and labels; unset: DATA_DIR/trainer.db.")
    trainer_min_new_labels: int = Field(
        1000, ge=0, description="Retrain after this many new labels (0: only on request).")
    trainer_first_model_labels: int = Field(
        0, ge=0, description="While no champion exists, train once this many labels are in "
        "(0: as MIN_NEW_LABELS).")
    trainer_min_rows: int = Field(200, ge=10, description="Fewest labelled examples to train.")
    trainer_holdout_fraction: float = Field(0.2, gt=0, lt=1, description="Most recent slice.")
    trainer_gate_metric: str = Field("roc_auc", description="Metric the gate compares.")
    trainer_gate_margin: float = Field(0.005, description="Needed lead over champion/baseline.")
    trainer_hidden: tuple[int, ...] = Field((64, 64), description="MLP hidden widths (JSON).")
    trainer_epochs: int = Field(40, ge=1, description="Most epochs (early stopping).")
    trainer_batch_size: int = Field(512, ge=1, description="Mini-batch size.")
    trainer_lr: float = Field(3e-3, gt=0, description="AdamW learning rate.")
    trainer_patience: int = Field(4, ge=1, description="Epochs without improvement to stop.")
    trainer_seed: int = Field(0, description="Seed of every random choice in training.")
    trainer_stop_grace_s: float = Field(
        30.0, gt=0, description="On shutdown, how long a run in flight may finish before it is "
        "cancelled (it then stops within one mini-batch; its request stays pending).")
    trainer_mature_features_only: bool = Field(
        True, description="Leave a windowed count/sum/distinct/max out of a run until the "
        "history before its first row covers the window (it grows until then).")
    feature_repo: Path | None = Field(None, description="feature_repo/ folder; unset: built in.")
    trainer_code_version: str | None = Field(
        None, description="Code version recorded in lineage; unset: git commit.")

    def model_name(self) -> str:
        return self.trainer_model_name or self.load_domain().model_name

    def store_path(self) -> Path:
        return self.trainer_store_path or self.data_dir / "trainer.db"

    def retrain_config(self) -> RetrainConfig:
        domain = self.load_domain()
        try:
            rule = ModelInputs.load(domain.name).baseline
        except ModelInputsError:  # a domain with no declared rule: no standard before a model
            rule = {}
        return RetrainConfig(
            objective=Objective.parse(domain.objective),
            rule=BaselineModel.from_config(self.model_name(), rule) if rule else None,
            slices=Slices.from_config(domain.slices, domain.model_inputs),
            growing_windows=(growing_windows(FeatureDeclarations.load(self.feature_repo))
                             if self.trainer_mature_features_only else {}),
            params=TrainParams(hidden=self.trainer_hidden, epochs=self.trainer_epochs,
                               batch_size=self.trainer_batch_size, lr=self.trainer_lr,
                               patience=self.trainer_patience, seed=self.trainer_seed),
            holdout_fraction=self.trainer_holdout_fraction,
            min_rows=self.trainer_min_rows,
            gate=Gate(self.trainer_gate_metric, self.trainer_gate_margin),
            code_version=self.trainer_code_version,
        )
