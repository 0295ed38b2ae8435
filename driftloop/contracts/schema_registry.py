"""Schema ids for the Confluent wire format.

Two registries behind one interface: ``ConfluentSchemaRegistry`` talks to any
Confluent-compatible registry (DRIFTLOOP_SCHEMA_REGISTRY_URL); ``LocalSchemaRegistry`` derives
stable ids from the schemas themselves, so the embedded stack needs no registry process and
every process computes the same id for the same schema."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Protocol

import httpx

from driftloop.contracts.schemas import Schema, SchemaSet, parse_schema


class SchemaRegistryError(RuntimeError):
    """The registry could not register or find a schema."""


class SchemaRegistry(Protocol):
    def register(self, subject: str, schema: Schema) -> int:
        """Return the id under which ``schema`` is known for ``subject``."""
        ...

    def lookup(self, schema_id: int) -> Schema:
        """Return the writer schema for ``schema_id``."""
        ...


def local_schema_id(schema: Schema) -> int:
    """A stable 31-bit id from the schema's Parsing Canonical Form (same schema, same id)."""
    digest = hashlib.sha256(schema.canonical.encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


class LocalSchemaRegistry:
    """Ids derived from schema content; knows the current schemas and, when the folder
    ``schemas/history/`` exists, every earlier version kept there, so old data stays readable."""

    def __init__(self, schemas: SchemaSet) -> None:
        self._by_id: dict[int, Schema] = {}
        for schema in schemas:
            self._by_id[local_schema_id(schema)] = schema
        history = schemas.directory / "history"
        if history.is_dir():
            for path in sorted(history.glob("*.avsc")):
                self.add(parse_schema(json.loads(path.read_text())))

    def add(self, schema: Schema) -> int:
        schema_id = local_schema_id(schema)
        self._by_id.setdefault(schema_id, schema)
        return schema_id

    def register(self, subject: str, schema: Schema) -> int:
        return self.add(schema)

    def lookup(self, schema_id: int) -> Schema:
        try:
            return self._by_id[schema_id]
        except KeyError:
            raise SchemaRegistryError(f"unknown schema id {schema_id}") from None


class ConfluentSchemaRegistry:
    """A Confluent-compatible registry over its REST API; subjects are ``<topic>-value``.

    Registration happens once per schema at start-up and lookups are cached, so the hot path
    never makes a request. Each subject is set to BACKWARD_TRANSITIVE compatibility."""

    def __init__(self, url: str, timeout_s: float = 5.0) -> None:
        self._client = httpx.Client(base_url=url.rstrip("/"), timeout=timeout_s)
        self._by_id: dict[int, Schema] = {}
        self._ids: dict[tuple[str, str], int] = {}

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        headers = {"Content-Type": "application/vnd.schemaregistry.v1+json"}
        try:
            response = self._client.request(method, path, json=body, headers=headers)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise SchemaRegistryError(f"schema registry {method} {path} failed: {exc}") from exc
        return response.json()

    def register(self, subject: str, schema: Schema) -> int:
        key = (subject, schema.canonical)
        if key not in self._ids:
            self._call("PUT", f"/config/{subject}", {"compatibility": "BACKWARD_TRANSITIVE"})
            reply = self._call(
                "POST", f"/subjects/{subject}/versions", {"schema": json.dumps(schema.raw)}
            )
            self._ids[key] = int(reply["id"])
            self._by_id[int(reply["id"])] = schema
        return self._ids[key]

    def lookup(self, schema_id: int) -> Schema:
        if schema_id not in self._by_id:
            reply = self._call("GET", f"/schemas/ids/{schema_id}")
            self._by_id[schema_id] = parse_schema(json.loads(reply["schema"]))
        return self._by_id[schema_id]


def registry_for(url: str | None, schemas: SchemaSet) -> SchemaRegistry:
    """The registry a deployment asked for: Confluent-compatible when a URL is set."""
    return ConfluentSchemaRegistry(url) if url else LocalSchemaRegistry(schemas)


def schemas_dir_history(directory: Path) -> Path:
    return directory / "history"
