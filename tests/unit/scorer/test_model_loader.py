"""Loading versions through the real registry (a temporary directory) and real onnxruntime:
good versions serve, every kind of broken artifact is refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from driftloop.registry import ModelRegistry, ModelVersion
from services.scorer.model_loader import ModelLoader, StartingChampion
from services.scorer.onnx_model import ModelRejected, golden_batch
from tests.unit.scorer.onnx_factory import logistic_onnx, metadata, nan_above_onnx

FEATURES = ["log_amount", "channel=ONLINE", "amount_count_10m"]


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    return ModelRegistry(str(tmp_path / "registry"))


def test_good_version_loads_and_scores(registry: ModelRegistry) -> None:
    mv = registry.register("fraud", logistic_onnx([1.0, 2.0, 0.5], -1.0), metadata(FEATURES, 0.4))
    model = ModelLoader(registry).load("fraud", mv.version, mv.sha256)
    assert (model.version, model.features, model.threshold) == ("v0001", tuple(FEATURES), 0.4)
    scores = model.predict(np.asarray([[0, 0, 0], [1, 1, 2]], np.float32))
    assert scores.shape == (2,)
    assert scores[0] == pytest.approx(1 / (1 + np.exp(1.0)), abs=1e-6)
    assert scores[1] == pytest.approx(1 / (1 + np.exp(-3.0)), abs=1e-6)


def test_champion_alias(registry: ModelRegistry) -> None:
    assert ModelLoader(registry).champion("fraud") == StartingChampion(None, [])
    mv = registry.register("fraud", logistic_onnx([1.0, 2.0, 0.5], 0.0), metadata(FEATURES))
    registry.promote("fraud", mv.version, "test", "pytest")
    start = ModelLoader(registry).champion("fraud")
    assert start.model is not None and start.model.version == "v0001" and start.refused == []


def corrupt(root: Path, version: str) -> None:
    path = root / "models" / "fraud" / "versions" / version / "model.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_bad_champion_falls_back_to_the_newest_loadable_former_one(
        registry: ModelRegistry, tmp_path: Path) -> None:
    """v1, v2 and v3 served in turn, v3 was rolled back to v2, then v4 was promoted: the
    champions before v4, the most recent first, are v2, v3, v1. With v4 and v2 corrupt the
    start serves v3."""
    good = logistic_onnx([1.0, 2.0, 0.5], 0.0)
    for _ in range(4):
        registry.register("fraud", good, metadata(FEATURES))
    for version in ("v0001", "v0002", "v0003"):
        registry.promote("fraud", version, "test", "pytest")
    registry.rollback("fraud", "worse", "pytest")
    registry.promote("fraud", "v0004", "test", "pytest")
    assert registry.champion_history("fraud") == ["v0004", "v0002", "v0003", "v0001"]
    corrupt(tmp_path / "registry", "v0004")
    corrupt(tmp_path / "registry", "v0002")
    start = ModelLoader(ModelRegistry(str(tmp_path / "registry"))).champion("fraud")
    assert start.model is not None and start.model.version == "v0003"
    assert [version for version, _ in start.refused] == ["v0004", "v0002"]
    assert all("sha256" in reason for _, reason in start.refused)


def test_no_loadable_champion_leaves_the_baseline(registry: ModelRegistry,
                                                   tmp_path: Path) -> None:
    registry.register("fraud", b"not onnx", metadata(FEATURES))
    registry.promote("fraud", "v0001", "test", "pytest")
    start = ModelLoader(registry).champion("fraud")
    assert start.model is None
    assert [version for version, _ in start.refused] == ["v0001"]


def test_flipped_byte_is_refused(registry: ModelRegistry, tmp_path: Path) -> None:
    mv = registry.register("fraud", logistic_onnx([1.0, 2.0, 0.5], 0.0), metadata(FEATURES))
    path = tmp_path / "registry" / "models" / "fraud" / "versions" / mv.version / "model.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelRejected, match="sha256"):
        ModelLoader(ModelRegistry(str(tmp_path / "registry"))).load("fraud", mv.version)


def test_sha_mismatch_with_the_event_is_refused(registry: ModelRegistry) -> None:
    mv = registry.register("fraud", logistic_onnx([1.0, 2.0, 0.5], 0.0), metadata(FEATURES))
    with pytest.raises(ModelRejected, match="event names sha256"):
        ModelLoader(registry).load("fraud", mv.version, "0" * 64)


@pytest.mark.parametrize(("artifact", "match"), [
    (logistic_onnx([1.0, 2.0, 0.5], 0.0)[:-20], "not a loadable ONNX"),
    (logistic_onnx([1.0, 2.0], 0.0), "does not take 3 features"),
    (b"this is not an ONNX model at all", "not a loadable ONNX"),
], ids=["truncated", "wrong-input-shape", "not-onnx"])
def test_broken_artifacts_are_refused(registry: ModelRegistry, artifact: bytes,
                                      match: str) -> None:
    mv = registry.register("fraud", artifact, metadata(FEATURES))
    with pytest.raises(ModelRejected, match=match):
        ModelLoader(registry).load("fraud", mv.version, mv.sha256)


def test_non_probability_outputs_fail_the_smoke_test(registry: ModelRegistry) -> None:
    # Infinite weights: the golden batch's all-zero row gives 0 * inf = NaN.
    mv = registry.register("fraud", logistic_onnx([np.inf, 0.0, 0.0], -np.inf),
                           metadata(FEATURES))
    with pytest.raises(ModelRejected, match="not probabilities"):
        ModelLoader(registry).load("fraud", mv.version, mv.sha256)


def test_unknown_version_is_refused(registry: ModelRegistry) -> None:
    with pytest.raises(ModelRejected, match="not in the registry"):
        ModelLoader(registry).load("fraud", "v0042")


def test_a_model_that_is_nan_above_60_fails_the_smoke_test(registry: ModelRegistry) -> None:
    """Typical values (0-50) alone once let this model serve: 20 of 20 null scores."""
    mv = registry.register("fraud", nan_above_onnx([0.1, 0.2, 0.3], 0.0, 60.0),
                           metadata(FEATURES))
    with pytest.raises(ModelRejected, match="not probabilities in .0, 1. on 21 of 44 golden"):
        ModelLoader(registry).load("fraud", mv.version, mv.sha256)


@pytest.mark.parametrize("n_features", [1, 3, 12])
def test_golden_batch_reaches_edge_and_large_values_of_every_input(n_features: int) -> None:
    batch = golden_batch(n_features)
    assert batch.dtype == np.float32 and batch.shape == (16 + 9 + n_features + 16, n_features)
    assert np.array_equal(batch, golden_batch(n_features))  # seeded: the same every time
    for column in batch.T:
        assert {0.0, 1.0, -1.0, 1e6, -1e6, 1e7} <= set(column.tolist())
        assert column.max() >= 1e7 and column.min() <= -1e6
    # each input alone at a large value, the others at 1, so a fault in one input shows
    alone = batch[25:25 + n_features]
    assert np.array_equal(alone, np.where(np.eye(n_features) == 1, 1e6, 1.0).astype(np.float32))


@pytest.mark.parametrize("key", ["features", "threshold", "input_name", "output_name"])
def test_version_json_without_serving_metadata_is_refused_not_a_key_error(
        registry: ModelRegistry, tmp_path: Path, key: str) -> None:
    mv = registry.register("fraud", logistic_onnx([1.0, 2.0, 0.5], 0.0), metadata(FEATURES))
    path = tmp_path / "registry" / "models" / "fraud" / "versions" / mv.version / "version.json"
    record = json.loads(path.read_text())
    del record["metadata"][key]
    path.write_text(json.dumps(record))
    with pytest.raises(ModelRejected, match=rf"^invalid version metadata: fraud v0001: .*'{key}'"):
        ModelLoader(ModelRegistry(str(tmp_path / "registry"))).load("fraud", mv.version)


def test_metadata_from_any_store_is_checked() -> None:
    """The loader checks what a store hands it, not only what the registry checked."""
    version = ModelVersion("fraud", "v0001", "0" * 64, {**metadata(FEATURES), "threshold": 7})
    with pytest.raises(ModelRejected, match=r"threshold must be a number in \[0, 1\], not 7"):
        ModelLoader(ModelRegistry("memory://unused")).load_version(version)
