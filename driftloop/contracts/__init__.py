"""Contracts: what travels between services. Avro schemas from schemas/, the Confluent wire
format, schema registries (local or Confluent-compatible), topic names, domain config and the
validation rules declared in the schemas."""

from __future__ import annotations

from driftloop.contracts.codec import AvroCodec, DecodeError, EncodeError
from driftloop.contracts.domain import Domain
from driftloop.contracts.schema_registry import (
    ConfluentSchemaRegistry,
    LocalSchemaRegistry,
    SchemaRegistry,
    SchemaRegistryError,
)
from driftloop.contracts.schemas import SchemaSet, load_schemas
from driftloop.contracts.topics import Topic, Topics
from driftloop.contracts.validation import RecordValidator, ValidationError

__all__ = [
    "AvroCodec",
    "ConfluentSchemaRegistry",
    "DecodeError",
    "Domain",
    "EncodeError",
    "LocalSchemaRegistry",
    "RecordValidator",
    "SchemaRegistry",
    "SchemaRegistryError",
    "SchemaSet",
    "Topic",
    "Topics",
    "ValidationError",
    "load_schemas",
]
