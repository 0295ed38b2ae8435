"""A run beside the consumer: one at a time, and a bounded stop that cancels a long run."""

from __future__ import annotations

import asyncio
import threading

import pytest
import torch

from services.trainer.background_run import BackgroundRun, RunCancelled
from services.trainer.example_store import ExampleStore
from services.trainer.mlp import TrainParams, train_mlp
from services.trainer.training_set import TrainingSet
from tests.unit.trainer.synthetic import synthetic


async def test_one_run_at_a_time_and_a_bounded_stop() -> None:
    background = BackgroundRun()
    entered = threading.Event()
    outcome: list[str] = []

    def endless() -> None:  # a run that only ends when asked to
        entered.set()
        while True:
            background.check()
            threading.Event().wait(0.001)

    async def run() -> None:
        try:
            await asyncio.to_thread(endless)
        except RunCancelled:
            outcome.append("cancelled")
            raise

    assert background.start(run)
    assert not background.start(run)  # one in flight: the second is refused
    await asyncio.to_thread(entered.wait, 10)
    assert background.busy
    await asyncio.wait_for(background.stop(grace_s=0.01), 10)
    assert outcome == ["cancelled"] and not background.busy
    assert not background.start(run)  # stopped: no new runs


def test_training_stops_within_a_mini_batch_when_asked() -> None:
    store = ExampleStore(":memory:")
    predictions, labels = synthetic(400, seed=1)
    store.add_predictions(predictions)
    store.add_labels(labels)
    data = TrainingSet.from_examples(store.examples())
    calls: list[int] = []

    def stop_on_third() -> bool:
        calls.append(1)
        return len(calls) >= 3

    with pytest.raises(RunCancelled, match="stopped in epoch 1"):
        train_mlp(data, TrainParams(batch_size=64), torch.device("cpu"), stop_on_third)
    assert len(calls) == 3
