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


def test_a_concept_change_moves_the_training_window_forward_only(tmp_path: Path) -> None:
    trainer = Trainer(TrainerSettings(data_dir=tmp_path, trainer_min_new_labels=0,
                                      trainer_min_rows=50))
    predictions, labels = synthetic(600, seed=2)
    trainer.store.add_predictions(predictions)
    trainer.store.add_labels(labels)
    start = int(predictions[0]["event_time"])  # type: ignore[arg-type]
    change = start + 400_000  # events 400..599 are after the change

    def request(rid: str, window: object) -> dict[str, object]:
        return {"model_name": trainer.model_name, "request_id": rid, "reason": "drift",
                "requested_by": "monitor", "evidence": {"window_start_ms": str(window)}}

    why = trainer.trigger([request("r1", change)])
    outcome = trainer.retrain(why)  # type: ignore[arg-type]
    assert outcome is not None
    lineage = outcome.run
    assert lineage["rows"] == 200 and lineage["marks"]["since_ms"] == change
    assert outcome.version.metadata["lineage"]["label_window_start"] == change
    # an older change point (a second request of an earlier episode) never widens it again
    trainer.trigger([request("r2", start + 100_000)])
    # nor does evidence that is not a time
    trainer.trigger([request("r3", "yesterday")])
    assert trainer.store.get_state("window_start_ms") == change
    # and a window with too few rows is refused with the reason, not trained on old rows
    trainer.trigger([request("r4", start + 590_000)])
    assert trainer.retrain({"request_id": "r4", "reason": "drift",
                            "requested_by": "monitor"}) is None
