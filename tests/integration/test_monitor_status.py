"""``driftloop status`` against the real broker and a registry."""

from __future__ import annotations

import asyncio
from pathlib import Path

from typer.testing import CliRunner

from driftloop.cli.main import app
from driftloop.contracts import AvroCodec, load_schemas
from driftloop.contracts.schema_registry import LocalSchemaRegistry
from driftloop.messaging import ensure_topics
from driftloop.registry import ModelRegistry, lifecycle_record
from driftloop.runtime import CommonSettings
from tests.integration.kafka_helpers import produce


async def test_status_shows_champion_and_lifecycle(kafka_bootstrap: str, topic_prefix: str,
                                                   tmp_path: Path, monkeypatch) -> None:
    registry = ModelRegistry(str(tmp_path / "registry"))
    v1 = registry.register("fraud", b"x", {"features": ["a"], "input_name": "x",
                                           "output_name": "p", "threshold": 0.5})
    registry.promote("fraud", v1.version, "first", "test")
    topics = CommonSettings(topic_prefix=topic_prefix).topics()
    await ensure_topics(kafka_bootstrap, topics.all_names(), 1)
    schemas = load_schemas()
    codec = AvroCodec(schemas, LocalSchemaRegistry(schemas))
    record = lifecycle_record("PROMOTED", v1, previous=None, reason="first", actor="trainer")
    await produce(kafka_bootstrap, topics.lifecycle,
                  [(b"fraud", codec.encode("driftloop.models.ModelLifecycle", record))])
    for key, value in {"KAFKA_BOOTSTRAP": kafka_bootstrap, "TOPIC_PREFIX": topic_prefix,
                       "DATA_DIR": str(tmp_path)}.items():
        monkeypatch.setenv(f"DRIFTLOOP_{key}", value)
    result = await asyncio.to_thread(CliRunner().invoke, app, ["status"])
    assert result.exit_code == 0, result.output
    assert f"champion {v1.version}" in result.output
    assert "PROMOTED" in result.output and "drift signals since the last model change: 0" in (
        result.output)
