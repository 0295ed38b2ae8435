"""Write a golden sample for every schema version that has none yet:
``python -m tests.contract.golden_writer``. Run it whenever a schema changes; never delete or
rewrite a golden file (the folder only grows: old data must stay readable)."""

from __future__ import annotations

import json
from pathlib import Path

from driftloop.contracts import AvroCodec, load_schemas
from driftloop.contracts.schema_registry import LocalSchemaRegistry, local_schema_id
from tests.contract.samples import sample_for

GOLDEN = Path(__file__).parent / "golden"


def main() -> None:
    schemas = load_schemas()
    codec = AvroCodec(schemas, LocalSchemaRegistry(schemas))
    for schema in schemas:
        folder = GOLDEN / schema.name
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"{local_schema_id(schema):010d}"
        if (folder / f"{stem}.bin").exists():
            continue
        (folder / f"{stem}.avsc").write_text(json.dumps(schema.raw, indent=2) + "\n")
        (folder / f"{stem}.bin").write_bytes(codec.encode(schema.name, sample_for(schema.name)))
        print(f"wrote golden sample {folder.name}/{stem}")


if __name__ == "__main__":
    main()
