"""The model registry on a real directory (and fsspec's memory filesystem): immutable versions
checked by hash, aliases, append-only history, rollback, two writers at once."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
from pathlib import Path

import pytest

from driftloop.contracts import AvroCodec, load_schemas
from driftloop.contracts.schema_registry import LocalSchemaRegistry
from driftloop.registry import (
    IntegrityError,
    InvalidMetadata,
    ModelRegistry,
    RegistryError,
    RegistrySettings,
    lifecycle_record,
)

META = {"features": ["a", "b"], "input_name": "features", "output_name": "probability",
        "threshold": 0.4, "metrics": {"roc_auc": 0.9, "confusion": [[1, 2], [3, 4]]},
        "lineage": {"data_digest": "abc", "rows": 10, "request_id": "r1"}}


def test_register_get_versions(tmp_path: Path) -> None:
    registry = ModelRegistry(str(tmp_path))
    first = registry.register("fraud", b"onnx-1", META)
    second = registry.register("fraud", b"onnx-2", META)
    assert (first.version, second.version) == ("v0001", "v0002")
    assert first.sha256 == hashlib.sha256(b"onnx-1").hexdigest()
    assert first.features == ["a", "b"] and first.threshold == 0.4
    assert registry.get("fraud", "v0002") == second
    # a fresh instance (another process) reads the same, without a cache
    again = ModelRegistry(str(tmp_path))
    assert [v.version for v in again.versions("fraud")] == ["v0001", "v0002"]
    assert again.load_onnx(again.get("fraud", "v0001")) == b"onnx-1"
    assert again.models() == ["fraud"]
    with pytest.raises(RegistryError):
        again.get("fraud", "v0003")
    with pytest.raises(RegistryError, match="metadata lacks"):
        registry.register("fraud", b"x", {"features": []})


def test_tampered_artifact_fails_its_hash_check(tmp_path: Path) -> None:
    registry = ModelRegistry(str(tmp_path))
    mv = registry.register("fraud", b"genuine bytes", META)
    (tmp_path / "models/fraud/versions/v0001/model.onnx").write_bytes(b"evil bytes")
    with pytest.raises(IntegrityError, match="does not match"):
        ModelRegistry(str(tmp_path)).load_onnx(mv)


def test_promote_rollback_and_history(tmp_path: Path) -> None:
    registry = ModelRegistry(str(tmp_path))
    v1, v2, v3 = (registry.register("fraud", bytes([i]), META) for i in range(3))
    assert registry.alias("fraud", "champion") is None
    assert registry.promote("fraud", "v0001", "first", "trainer") is None
    assert registry.promote("fraud", "v0002", "better", "trainer") == v1
    registry.set_alias("fraud", "challenger", "v0003", "shadow it", "trainer")
    assert registry.promote("fraud", "v0003", "better still", "alice") == v2
    assert registry.alias("fraud", "challenger") is None  # promoted: no longer a challenger
    assert registry.rollback("fraud", "bad live recall", "monitor") == v2
    assert registry.alias("fraud", "champion") == v2
    assert registry.rollback("fraud", "still bad", "bob") == v1
    with pytest.raises(RegistryError, match="replaced no earlier champion"):
        registry.rollback("fraud", "again", "bob")
    registry.record_event("fraud", "REJECTED", "v0003", reason="worse", actor="trainer")
    history = ModelRegistry(str(tmp_path)).history("fraud")
    moves = [(e["action"], e["version"], e.get("previous"), e["actor"]) for e in history
             if e["action"] != "TRAINED"]
    assert moves == [
        ("PROMOTED", "v0001", None, "trainer"),
        ("PROMOTED", "v0002", "v0001", "trainer"),
        ("CHALLENGER", "v0003", None, "trainer"),
        ("PROMOTED", "v0003", "v0002", "alice"),
        ("ROLLED_BACK", "v0002", "v0003", "monitor"),
        ("ROLLED_BACK", "v0001", "v0002", "bob"),
        ("REJECTED", "v0003", None, "trainer"),
    ]
    assert [e["version"] for e in history if e["action"] == "TRAINED"] == ["v0001", "v0002",
                                                                           "v0003"]
    assert all(e["reason"] and e["at"] > 0 for e in history)
    assert v3.version == "v0003"


def test_rollback_without_champion_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="no champion"):
        ModelRegistry(str(tmp_path)).rollback("fraud", "why", "me")


def _register_many(root: str, worker: int) -> None:
    registry = ModelRegistry(root)
    for i in range(8):
        mv = registry.register("fraud", f"{worker}-{i}".encode(), META)
        registry.promote("fraud", mv.version, f"worker {worker}", f"w{worker}")


def test_two_processes_write_at_once(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_register_many, args=(str(tmp_path), w)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    registry = ModelRegistry(str(tmp_path))
    versions = registry.versions("fraud")
    assert [v.version for v in versions] == [f"v{i:04d}" for i in range(1, 17)]
    assert len({registry.load_onnx(v) for v in versions}) == 16
    promotions = [e for e in registry.history("fraud") if e["action"] == "PROMOTED"]
    assert len(promotions) == 16
    # each promotion saw the champion the one before it left: no lost update
    assert [e["previous"] for e in promotions[1:]] == [e["version"] for e in promotions[:-1]]


def test_fsspec_url(tmp_path: Path) -> None:
    registry = ModelRegistry("memory://driftloop-test-registry")
    mv = registry.register("fraud", b"in memory", META)
    registry.promote("fraud", mv.version, "only one", "test")
    assert registry.alias("fraud", "champion") == mv
    assert registry.load_onnx(mv) == b"in memory"


def test_settings_default_root_and_url(tmp_path: Path) -> None:
    assert RegistrySettings(data_dir=tmp_path).registry_root() == str(tmp_path / "registry")
    assert RegistrySettings(registry_url="s3://b/r").registry_root() == "s3://b/r"


def test_lifecycle_record_encodes(tmp_path: Path) -> None:
    mv = ModelRegistry(str(tmp_path)).register("fraud", b"x", META)
    record = lifecycle_record("PROMOTED", mv, previous=None, reason="better", actor="trainer")
    assert record["metrics"] == {"roc_auc": 0.9}
    assert record["lineage"] == {"data_digest": "abc", "rows": "10", "request_id": "r1"}
    schemas = load_schemas()
    codec = AvroCodec(schemas, LocalSchemaRegistry(schemas))
    decoded = codec.decode(codec.encode("driftloop.models.ModelLifecycle", record),
                           "driftloop.models.ModelLifecycle")
    assert (decoded["action"], decoded["version"], decoded["sha256"]) == (
        "PROMOTED", "v0001", mv.sha256)
    with pytest.raises(ValueError):
        lifecycle_record("EXPLODED", mv, previous=None, reason="", actor="")


def test_champion_history_is_most_recent_first(tmp_path: Path) -> None:
    registry = ModelRegistry(str(tmp_path))
    assert registry.champion_history("fraud") == []
    for i in range(3):
        registry.register("fraud", bytes([i]), META)
    registry.promote("fraud", "v0001", "first", "trainer")
    registry.promote("fraud", "v0002", "better", "trainer")
    registry.rollback("fraud", "worse", "monitor")
    registry.set_alias("fraud", "challenger", "v0003", "shadow it", "trainer")
    assert registry.champion_history("fraud") == ["v0001", "v0002"]
    registry.set_alias("fraud", "champion", "v0003", "by hand", "ops")
    assert registry.champion_history("fraud") == ["v0003", "v0001", "v0002"]


BAD_METADATA = [
    ({k: v for k, v in META.items() if k != "features"}, r"lacks \['features'\]"),
    ({k: v for k, v in META.items() if k != "threshold"}, r"lacks \['threshold'\]"),
    ({k: v for k, v in META.items() if k not in ("input_name", "output_name")},
     r"lacks \['input_name', 'output_name'\]"),
    ({**META, "features": []}, "features must be a non-empty list"),
    ({**META, "features": "a,b"}, "features must be a non-empty list"),
    ({**META, "features": ["a", 3]}, "features must be a non-empty list"),
    ({**META, "features": ["a", "a"]}, "name an input twice"),
    ({**META, "threshold": "0.5"}, r"threshold must be a number in \[0, 1\]"),
    ({**META, "threshold": float("nan")}, r"threshold must be a number in \[0, 1\]"),
    ({**META, "threshold": 1.5}, r"threshold must be a number in \[0, 1\]"),
    ({**META, "threshold": True}, r"threshold must be a number in \[0, 1\]"),
    ({**META, "input_name": ""}, "input_name must be a non-empty string"),
    ({**META, "output_name": None}, "output_name must be a non-empty string"),
]
BAD_IDS = ["no-features", "no-threshold", "no-io-names", "empty-features", "features-str",
           "features-int", "features-twice", "threshold-str", "threshold-nan", "threshold-1.5",
           "threshold-bool", "input-empty", "output-none"]


@pytest.mark.parametrize(("meta", "match"), BAD_METADATA, ids=BAD_IDS)
def test_invalid_metadata_is_refused_at_registration(tmp_path: Path, meta: dict,
                                                     match: str) -> None:
    registry = ModelRegistry(str(tmp_path))
    with pytest.raises(InvalidMetadata, match=match):
        registry.register("fraud", b"onnx", meta)
    assert registry.versions("fraud") == [] and registry.history("fraud") == []


@pytest.mark.parametrize(("meta", "match"), BAD_METADATA, ids=BAD_IDS)
def test_invalid_metadata_is_refused_at_load(tmp_path: Path, meta: dict, match: str) -> None:
    """A version.json edited by hand or written by another tool once gave a KeyError in the
    scorer; the registry refuses it with the reason."""
    ModelRegistry(str(tmp_path)).register("fraud", b"onnx", META)
    path = tmp_path / "models/fraud/versions/v0001/version.json"
    record = json.loads(path.read_text())
    path.write_text(json.dumps({**record, "metadata": meta}))
    fresh = ModelRegistry(str(tmp_path))
    with pytest.raises(InvalidMetadata, match=f"^fraud v0001: .*{match}"):
        fresh.get("fraud", "v0001")
    assert fresh.versions("fraud") == []  # never listed as servable


def test_unreadable_version_json_is_refused(tmp_path: Path) -> None:
    ModelRegistry(str(tmp_path)).register("fraud", b"onnx", META)
    (tmp_path / "models/fraud/versions/v0001/version.json").write_bytes(b"{\xff truncated")
    with pytest.raises(InvalidMetadata, match="version.json is not JSON"):
        ModelRegistry(str(tmp_path)).get("fraud", "v0001")
