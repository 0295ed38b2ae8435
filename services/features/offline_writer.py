"""The offline history: append-only parquet files, one per view per partition per flush.

Feast's own file offline write rewrites the whole parquet, so two writers lose each other's
rows. Here every flush is a new file named by partition and offsets, so each partition has
exactly one writer and nothing is ever rewritten. Timestamps are ``timestamp[us, UTC]``:
Feast's duckdb offline store fails on nanosecond parquet timestamps."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from driftloop.featurestore.declarations import ViewDeclaration


class OfflineWriter:
    def __init__(self, data_dir: Path, view: ViewDeclaration) -> None:
        self.view = view
        self.directory = data_dir.resolve() / "offline" / view.name
        self._names = [f.name for f in view.features]

    def write(self, partition: int, first_offset: int, last_offset: int,
              rows: list[tuple[str, datetime, dict[str, float]]]) -> Path | None:
        """Write ``rows`` (entity id, event time, features); returns the file written."""
        if not rows:
            return None
        self.directory.mkdir(parents=True, exist_ok=True)
        columns: dict[str, pa.Array] = {
            self.view.entity.join_key: pa.array([r[0] for r in rows], pa.string()),
            "event_timestamp": pa.array([r[1] for r in rows], pa.timestamp("us", tz="UTC")),
        }
        for name in self._names:
            columns[name] = pa.array([r[2][name] for r in rows], pa.float64())
        path = self.directory / f"p{partition:04d}-{first_offset:012d}-{last_offset:012d}.parquet"
        tmp = path.with_suffix(".tmp")  # readers glob *.parquet: never see a half file
        pq.write_table(pa.table(columns), tmp)
        tmp.replace(path)
        return path
