"""Time from a retrain request to a registered, gated model (train + export + parity + gate
against the champion and the baseline + register + promote/reject), for 10k and 100k labelled
rows, with the trainer's default settings, on this machine's CPU (or GPU when present)."""

from __future__ import annotations

import tempfile
import time

import numpy as np

from driftloop.registry import ModelRegistry, RunTracker
from services.trainer.example_store import ExampleStore
from services.trainer.mlp import pick_device
from services.trainer.retrain_job import RetrainJob
from services.trainer.settings import TrainerSettings

N_FEATURES = 30


def fill(store: ExampleStore, n: int, seed: int = 0) -> None:
    """A seeded fraud-like stream: ~3% positives, non-linear in a few of 30 features."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, N_FEATURES))
    logit = -4.0 + 1.5 * x[:, 0] + 2.5 * x[:, 1] * x[:, 2] - x[:, 3] + 0.5 * x[:, 4] ** 2
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    names = [f"f{j:02d}" for j in range(N_FEATURES)]
    t0 = 1_700_000_000_000
    store.add_predictions({"event_id": f"e{i:07d}", "event_time": t0 + i * 1000,
                           "model_version": "baseline-0",
                           "features": dict(zip(names, x[i].tolist(), strict=True))}
                          for i in range(n))
    store.add_labels({"event_id": f"e{i:07d}", "label": int(y[i]), "labelled_at": t0 + i * 1000,
                      "labelled_by": "bench"} for i in range(n))


def main() -> None:
    settings = TrainerSettings()
    print(f"device: {pick_device()}, defaults: epochs<={settings.trainer_epochs}, "
          f"hidden={settings.trainer_hidden}, batch={settings.trainer_batch_size}, "
          f"{N_FEATURES} features")
    header = (f"{'rows':>7} {'run':>9} {'total s':>8} {'data':>6} {'train':>6} {'export':>6} "
              f"{'gate':>6} {'epochs':>6} {'auc':>6} {'base auc':>8}  decision")
    print(header)
    print("-" * len(header))
    for n in (10_000, 100_000):
        root = tempfile.mkdtemp(prefix="bench-trainer-")
        store = ExampleStore(":memory:")
        fill(store, n)
        job = RetrainJob(ModelRegistry(root), store, RunTracker(root),
                         settings.retrain_config())
        for label in ("first", "vs champ"):
            started = time.perf_counter()
            outcome = job.run("bench", reason="bench", requested_by="bench", request_id=label)
            total = time.perf_counter() - started
            run, t = outcome.run, outcome.run["timings"]
            meta = outcome.version.metadata["training"]
            print(f"{n:>7} {label:>9} {total:>8.2f} {t['data_s']:>6.2f} {t['train_s']:>6.2f} "
                  f"{t['export_s']:>6.2f} {t['gate_s']:>6.2f} {meta['epochs_run']:>6} "
                  f"{run['metrics']['roc_auc']:>6.3f} {run['baseline_metrics']['roc_auc']:>8.3f}"
                  f"  {run['status']}", flush=True)
        store.close()


if __name__ == "__main__":
    main()
