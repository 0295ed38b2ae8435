"""When the trainer trains without being asked: early while only the baseline serves, on the
slower schedule once a champion exists; a retrain request always wins."""

from __future__ import annotations

from pathlib import Path

from services.trainer.app import Trainer
from services.trainer.settings import TrainerSettings
from tests.unit.trainer.synthetic import synthetic


def test_first_model_early_then_the_schedule(tmp_path: Path) -> None:
    trainer = Trainer(TrainerSettings(data_dir=tmp_path, trainer_min_new_labels=1000,
                                      trainer_first_model_labels=100))
    _, labels = synthetic(150, seed=1)
    trainer.store.add_labels(labels[:99])
    assert trainer.trigger([]) is None
    trainer.store.add_labels(labels[99:100])
    assert trainer.trigger([])["reason"] == "100 new labels (>= 100)"  # type: ignore[index]
    request = {"model_name": trainer.model_name, "request_id": "r1", "reason": "drift",
               "requested_by": "monitor"}
    assert trainer.trigger([request])["request_id"] == "r1"  # type: ignore[index]
    trainer.registry.register(trainer.model_name, b"onnx", {
        "features": [], "input_name": "features", "output_name": "score", "threshold": 0.5})
    trainer.registry.promote(trainer.model_name, "v0001", "test", "test")
    assert trainer.trigger([]) is None  # a champion serves: back to 1,000 new labels
