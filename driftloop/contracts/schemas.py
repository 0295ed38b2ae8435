"""Loading the Avro schemas in schemas/: the only definition of what travels between services."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro

#: The repository's schemas/ folder; deployments may point DRIFTLOOP_SCHEMAS_DIR elsewhere.
DEFAULT_SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "schemas"


@dataclass(frozen=True)
class Schema:
    """One Avro schema: its full name, the JSON as written, and fastavro's parsed form."""

    name: str
    raw: dict[str, Any]
    parsed: Any
    canonical: str

    def field_names(self) -> list[str]:
        return [f["name"] for f in self.raw["fields"]]


@dataclass(frozen=True)
class SchemaSet:
    """All schemas of a schemas/ folder, by full name (namespace.Name)."""

    schemas: dict[str, Schema]
    directory: Path

    def __getitem__(self, name: str) -> Schema:
        try:
            return self.schemas[name]
        except KeyError:
            known = ", ".join(sorted(self.schemas))
            raise KeyError(
                f"no schema named {name!r} in {self.directory} (known: {known})"
            ) from None

    def __iter__(self) -> Iterator[Schema]:
        return iter(self.schemas.values())

    def __len__(self) -> int:
        return len(self.schemas)


def parse_schema(raw: dict[str, Any]) -> Schema:
    """Parse one schema dict; custom driftloop.* attributes stay in ``raw`` for validation."""
    parsed = fastavro.parse_schema(raw)
    name = f"{raw['namespace']}.{raw['name']}" if "namespace" in raw else raw["name"]
    canonical = fastavro.schema.to_parsing_canonical_form(raw)
    return Schema(name=name, raw=raw, parsed=parsed, canonical=canonical)


def load_schemas(directory: Path | None = None) -> SchemaSet:
    """Read every ``*.avsc`` in ``directory`` (default: the repository's schemas/)."""
    directory = directory or DEFAULT_SCHEMAS_DIR
    schemas: dict[str, Schema] = {}
    for path in sorted(directory.glob("*.avsc")):
        schema = parse_schema(json.loads(path.read_text()))
        schemas[schema.name] = schema
    if not schemas:
        raise FileNotFoundError(f"no *.avsc schemas found in {directory}")
    return SchemaSet(schemas=schemas, directory=directory)
