"""Loading the Avro schemas: the only definition of what travels between services. The shared
topics' schemas live in schemas/; each domain's event schema in its folder (domains/NAME/)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro

from driftloop.contracts.domain import domains_dir

#: The repository's schemas/ folder: the schemas of the shared topics.
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
    """Read every ``*.avsc`` in ``directory``; by default the shared schemas/ and every
    domain's event schemas (domains/*/), so any service can decode any domain's events."""
    paths = sorted(directory.glob("*.avsc")) if directory else [
        *sorted(DEFAULT_SCHEMAS_DIR.glob("*.avsc")), *sorted(domains_dir().glob("*/*.avsc"))]
    directory = directory or DEFAULT_SCHEMAS_DIR
    schemas: dict[str, Schema] = {}
    for path in paths:
        schema = parse_schema(json.loads(path.read_text()))
        if schema.name in schemas:
            raise ValueError(f"{path} declares {schema.name}, which another schema file "
                             "already declares")
        schemas[schema.name] = schema
    if not schemas:
        raise FileNotFoundError(f"no *.avsc schemas found in {directory}")
    return SchemaSet(schemas=schemas, directory=directory)
