"""Sources: where a view's rows come from.

Each view gets a PushSource (rows pushed by a stream processor: the features service) backed
by a FileSource (the offline history). One push source per view on purpose: a push source
feeding N views writes N copies of every row offline.

The offline history is append-only parquet under DRIFTLOOP_DATA_DIR/offline/<view>/: every
micro-batch of every partition is a new file, so writers never rewrite each other's data.
Paths are absolute because duckdb resolves relative ones against the working directory."""

import os
from pathlib import Path

from entities import DECLARATIONS
from feast import FileSource, PushSource

DATA_DIR = Path(os.environ.get("DRIFTLOOP_DATA_DIR", ".driftloop")).resolve()

PUSH_SOURCES = {
    name: PushSource(
        name=f"{name}_push",
        batch_source=FileSource(
            name=f"{name}_history",
            path=str(DATA_DIR / "offline" / name / "*.parquet"),
            timestamp_field="event_timestamp",
        ),
    )
    for name in DECLARATIONS.views
}

# Feast finds objects by scanning each module's attributes: publish every one by name.
globals().update({f"push_{name}": source for name, source in PUSH_SOURCES.items()})
