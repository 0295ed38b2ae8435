"""The durable join: labels before or long after their prediction, duplicates, shadows."""

from __future__ import annotations

from pathlib import Path

from services.trainer.example_store import ExampleStore, Marks
from services.trainer.training_set import TrainingSet


def pred(eid: str, t: int, shadow: bool = False, amount: float = 1.0) -> dict[str, object]:
    return {"event_id": eid, "event_time": t, "model_version": "v0001", "shadow": shadow,
            "features": {"amount": amount, "age": 2.0}}


def label(eid: str, y: int, at: int = 10_000) -> dict[str, object]:
    return {"event_id": eid, "label": y, "labelled_at": at, "labelled_by": "alice"}


def test_join_in_any_order_with_duplicates(tmp_path: Path) -> None:
    store = ExampleStore(tmp_path / "t.db")
    assert store.add_labels([label("early", 1)]) == 1          # label before its prediction
    assert store.add_predictions([pred("a", 3000), pred("b", 1000), pred("early", 2000)]) == 3
    assert store.add_predictions([pred("a", 3000, amount=99.0)]) == 0  # re-delivered: ignored
    assert store.add_predictions([pred("shadow", 500, shadow=True)]) == 0  # challenger: skipped
    # scored while the online store was down: its features are defaults, not the event's
    assert store.add_predictions([{**pred("degraded", 600), "degraded": True}]) == 0
    assert store.add_labels([label("a", 0), label("a", 1), label("nobody", 1)]) == 2
    assert store.unmatched_labels() == 1
    store.close()
    store = ExampleStore(tmp_path / "t.db")  # durable: survives a restart
    examples = store.examples()
    assert [(e.event_id, e.event_time, e.label, e.features["amount"]) for e in examples] == [
        ("early", 2000, 1, 1.0), ("a", 3000, 0, 1.0)]
    assert store.add_labels([label("b", 1, at=99_000_000)]) == 1  # hours later
    assert [e.event_id for e in store.examples()] == ["b", "early", "a"]
    # sequence numbers only grow (an ignored duplicate may leave a gap): 5 inserts tried
    assert store.marks() == Marks(prediction_seq=3, label_seq=5)
    assert store.labels_since(2) == 2
    # the marks of an earlier run select exactly the rows that run saw
    assert [e.event_id for e in store.examples(Marks(3, 3))] == ["early", "a"]


def test_training_set_columns_digest_and_time_split() -> None:
    store = ExampleStore(":memory:")
    store.add_predictions([pred(f"e{i}", 1000 * (10 - i), amount=float(i)) for i in range(10)])
    store.add_labels([label(f"e{i}", i % 2) for i in range(10)])
    data = TrainingSet.from_examples(store.examples())
    assert data.features == ["age", "amount"]
    assert data.x[:, 1].tolist() == [9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0, 0.0]
    past, recent = data.split_by_time(0.3)
    assert recent.event_ids == ["e2", "e1", "e0"]   # the most recent three, not a random three
    assert past.event_time.max() < recent.event_time.min()
    assert data.digest() == TrainingSet.from_examples(list(reversed(store.examples()))).digest()
    assert data.columns(["amount", "missing"])[:2].tolist() == [[9.0, 0.0], [8.0, 0.0]]
