"""Every schema parses and documents itself; every golden sample (old encoded data, a folder
that only grows) stays readable by today's schema: BACKWARD_TRANSITIVE compatibility."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from driftloop.contracts import AvroCodec, Domain, Topics, load_schemas
from driftloop.contracts.domain import domain_names
from driftloop.contracts.schema_registry import LocalSchemaRegistry
from driftloop.contracts.schemas import parse_schema

GOLDEN = Path(__file__).parent / "golden"
SCHEMAS = load_schemas()
GOLDEN_FILES = sorted(GOLDEN.glob("*/*.bin"))


def _fields(raw: dict) -> list[dict]:
    return raw.get("fields", [])


@pytest.mark.parametrize("schema", list(SCHEMAS), ids=lambda s: s.name)
def test_schema_documents_every_field(schema) -> None:
    assert schema.raw.get("doc"), f"{schema.name} has no doc"
    undocumented = [f["name"] for f in _fields(schema.raw) if not f.get("doc")]
    assert undocumented == []


@pytest.mark.parametrize("domain", domain_names())
def test_every_topic_names_an_existing_schema(domain: str) -> None:
    topics = Topics(event_schema=Domain.load(domain).event_schema)
    for topic in topics.catalog:
        schema = topics.schema_for(topic.base)
        if schema is not None:
            assert schema in SCHEMAS.schemas, f"{topic.base} -> {schema}"


def test_golden_exists_for_every_schema() -> None:
    missing = set(SCHEMAS.schemas) - {path.parent.name for path in GOLDEN_FILES}
    assert not missing, (f"no golden sample for {sorted(missing)}: run "
                         "`.venv/bin/python -m tests.contract.golden_writer` and commit "
                         "tests/contract/golden/ (a domain's sample is its generator's "
                         "first event)")


@pytest.mark.parametrize("path", GOLDEN_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_golden_sample_readable_by_current_schema(path: Path) -> None:
    """Reader = today's schema, writer = the version that wrote the sample."""
    writer = parse_schema(json.loads(path.with_suffix(".avsc").read_text()))
    registry = LocalSchemaRegistry(SCHEMAS)
    registry.add(writer)
    codec = AvroCodec(SCHEMAS, registry)
    record = codec.decode(path.read_bytes(), reader=path.parent.name, untrusted=True)
    current_fields = {f["name"] for f in SCHEMAS[path.parent.name].raw["fields"]}
    assert set(record) == current_fields


def test_an_incompatible_change_is_caught() -> None:
    """The check above can fail: a new required field without a default breaks old data."""
    current = SCHEMAS["driftloop.cards.CardTransaction"].raw
    broken = {**current, "fields": [*current["fields"],
                                     {"name": "risk", "type": "double", "doc": "new"}]}
    path = next(p for p in GOLDEN_FILES if p.parent.name == "driftloop.cards.CardTransaction")
    writer = parse_schema(json.loads(path.with_suffix(".avsc").read_text()))
    registry = LocalSchemaRegistry(SCHEMAS)
    registry.add(writer)
    reader_set = type(SCHEMAS)({**SCHEMAS.schemas, current["namespace"] + ".CardTransaction":
                                parse_schema(broken)}, SCHEMAS.directory)
    with pytest.raises(ValueError):
        AvroCodec(reader_set, registry).decode(path.read_bytes(), reader=path.parent.name)
