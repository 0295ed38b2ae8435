"""When the trainer trains without being asked: early while only the baseline serves, on the
slower schedule once a champion exists; a retrain request always wins, and waits (pending,
never dropped) while its window holds too few labels."""

from __future__ import annotations

from pathlib import Path

from services.trainer.app import Trainer
from services.trainer.settings import TrainerSettings
from tests.unit.trainer.synthetic import synthetic


def request(trainer: Trainer, rid: str, window: object = None) -> dict[str, object]:
    evidence = {} if window is None else {"window_start_ms": str(window)}
    return {"model_name": trainer.model_name, "request_id": rid, "reason": f"drift {rid}",
            "requested_by": "monitor", "evidence": evidence}


def test_first_model_early_then_the_schedule(tmp_path: Path) -> None:
    trainer = Trainer(TrainerSettings(data_dir=tmp_path, trainer_min_new_labels=1000,
                                      trainer_first_model_labels=100, trainer_min_rows=100))
    predictions, labels = synthetic(150, seed=1)
    trainer.store.add_predictions(predictions)
    trainer.store.add_labels(labels[:99])
    assert trainer.trigger() is None
    trainer.store.add_labels(labels[99:100])
    assert trainer.trigger()["reason"] == "100 new labels (>= 100)"  # type: ignore[index]
    trainer.accept([request(trainer, "r1")])
    assert trainer.trigger()["request_id"] == "r1"  # type: ignore[index]
    trainer._set_pending(None)
    trainer.registry.register(trainer.model_name, b"onnx", {
        "features": ["amount"], "input_name": "features", "output_name": "score", "threshold": 0.5})
    trainer.registry.promote(trainer.model_name, "v0001", "test", "test")
    assert trainer.trigger() is None  # a champion serves: back to 1,000 new labels


def test_newer_requests_supersede_and_are_kept_durably(tmp_path: Path) -> None:
    settings = TrainerSettings(data_dir=tmp_path, trainer_min_new_labels=0,
                               trainer_min_rows=100)
    trainer = Trainer(settings)
    predictions, labels = synthetic(100, seed=1)
    trainer.store.add_predictions(predictions)
    trainer.store.add_labels(labels)
    trainer.accept([request(trainer, "r1"), request(trainer, "r1")])  # re-delivered: once
    trainer.accept([request(trainer, "r2"), request(trainer, "r3")])
    trainer.store.close()
    again = Trainer(settings)  # a restart finds the request it owes a run
    pending = again.pending()
    assert pending is not None
    assert (pending.request_id, pending.supersedes) == ("r3", ("r1", "r2"))
    assert again.trigger() == {"request_id": "r1,r2,r3", "reason": "drift r3",
                               "requested_by": "monitor", "pending": "r3"}
    assert again.pending_gauge._value.get() == 1


def test_a_concept_change_moves_the_training_window_forward_only(tmp_path: Path) -> None:
    trainer = Trainer(TrainerSettings(data_dir=tmp_path, trainer_min_new_labels=0,
                                      trainer_min_rows=50))
    predictions, labels = synthetic(600, seed=2)
    trainer.store.add_predictions(predictions)
    trainer.store.add_labels(labels)
    start = int(predictions[0]["event_time"])  # type: ignore[arg-type]
    change = start + 400_000  # events 400..599 are after the change

    trainer.accept([request(trainer, "r1", change)])
    why = trainer.trigger()
    outcome = trainer.retrain(why)  # type: ignore[arg-type]
    assert not isinstance(outcome, str)
    trainer._settle(why, outcome)  # type: ignore[arg-type]
    assert trainer.pending() is None
    lineage = outcome.run
    assert lineage["rows"] == 200 and lineage["marks"]["since_ms"] == change
    assert outcome.version.metadata["lineage"]["label_window_start"] == change
    # an older change point (a second request of an earlier episode) never widens it again
    trainer.accept([request(trainer, "r2", start + 100_000)])
    # nor does evidence that is not a time
    trainer.accept([request(trainer, "r3", "yesterday")])
    assert trainer.store.get_state("window_start_ms") == change
    # a window with too few rows is refused with the reason, not trained on old rows; the
    # request stays pending, and is not tried again until new labels arrive
    trainer.accept([request(trainer, "r4", start + 590_000)])
    assert trainer.trigger() is None  # not worth starting a run
    pending = trainer.pending()
    assert pending is not None and pending.request_id == "r4" and pending.attempts == 1
    assert pending.waiting_for == (f"10 labelled examples since event time {start + 590_000};"
                                   " at least 50 are needed")
    assert trainer.trigger() is None and trainer.pending().attempts == 1  # type: ignore[union-attr]
    # the job refuses such a window too, should a run be started anyway
    assert trainer.retrain({"request_id": "r4", "reason": "drift", "requested_by": "m"}) == \
        pending.waiting_for
    more_predictions, more_labels = synthetic(
        50, seed=3, start_ms=int(predictions[-1]["event_time"]) + 1000)  # type: ignore[call-overload]
    trainer.store.add_predictions([{**p, "event_id": f"n{p['event_id']}"}
                                   for p in more_predictions])
    trainer.store.add_labels([{**lab, "event_id": f"n{lab['event_id']}"}
                              for lab in more_labels])
    why = trainer.trigger()
    assert why is not None and why["request_id"] == "r2,r3,r4"
    outcome = trainer.retrain(why)
    assert not isinstance(outcome, str) and outcome.run["rows"] == 60
    trainer._settle(why, outcome)
    assert trainer.pending() is None
