"""Reading (and writing) Feast's online store without Feast: Redis or Feast's SQLite store.

Both speak Feast's own layout (see ``redis_layout``; SQLite: one table ``<project>_<view>``
with a row per entity key and feature), so Feast's CLI, ``materialize`` and
``get_online_features`` see the same values."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Protocol

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from driftloop.featurestore import redis_layout as layout
from driftloop.featurestore.declarations import ServiceDeclaration, ViewDeclaration

#: One entity row's features: name -> value, only those present online.
Row = dict[str, float]
#: What a lookup is about: join key -> entity id, one per entity of the feature service
#: (Feast's ``entity_rows``). A view whose join key a row lacks is simply absent online.
EntityRow = Mapping[str, str]


class OnlineStore(Protocol):
    async def read(self, entity_rows: Sequence[EntityRow]) -> list[Row]: ...

    async def close(self) -> None: ...


class RedisOnlineStore:
    """One pipeline of HMGETs per lookup: one round trip whatever the batch size."""

    def __init__(self, url: str, project: str, service: ServiceDeclaration,
                 timeout_s: float) -> None:
        # No retries: redis-py's default retry policy turns a frozen server into a ~58 s
        # stall. The caller's deadline and circuit breaker decide what happens instead.
        self._redis = aioredis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0), retry_on_error=[], health_check_interval=0)
        self._project = project
        # The key of an entity depends only on its join key; views of one entity share it.
        self._plan: list[tuple[str, list[bytes], list[str]]] = []
        for view in service.views:
            fields = [layout.feature_field(view.name, f.name) for f in view.features]
            self._plan.append((view.entity.join_key, fields, [f.name for f in view.features]))

    async def read(self, entity_rows: Sequence[EntityRow]) -> list[Row]:
        pipe = self._redis.pipeline(transaction=False)
        asked: list[tuple[int, list[str]]] = []  # (row index, feature names) per HMGET
        for join_key, fields, names in self._plan:
            for i, entity_row in enumerate(entity_rows):
                entity_id = entity_row.get(join_key)
                if entity_id is None:
                    continue
                pipe.hmget(layout.entity_key(self._project, join_key, entity_id),  # type: ignore[arg-type]
                          fields)
                asked.append((i, names))
        replies = await pipe.execute() if asked else []
        rows: list[Row] = [{} for _ in entity_rows]
        for (i, names), reply in zip(asked, replies, strict=True):
            row = rows[i]
            for name, raw in zip(names, reply, strict=True):
                value = layout.decode_number(raw)
                if value is not None:
                    row[name] = value
        return rows

    async def write(self, view: ViewDeclaration, rows: Mapping[str, tuple[datetime, Row]],
                    ) -> None:
        """Write the newest features of each entity (what Feast's online write does)."""
        if not rows:
            return
        ts_key = layout.ts_field(view.name)
        fields = {f.name: layout.feature_field(view.name, f.name) for f in view.features}
        pipe = self._redis.pipeline(transaction=False)
        for entity_id, (when, values) in rows.items():
            mapping: dict[bytes, bytes] = {ts_key: layout.encode_timestamp(when)}
            for name, value in values.items():
                mapping[fields[name]] = layout.encode_double(value)
            key = layout.entity_key(self._project, view.entity.join_key, entity_id)
            pipe.hset(key, mapping=mapping)  # type: ignore[arg-type]
        await pipe.execute()

    async def close(self) -> None:
        await self._redis.aclose()


class SqliteOnlineStore:
    """Feast's SQLite online store (the embedded default), read in a worker thread."""

    def __init__(self, path: Path, project: str, service: ServiceDeclaration) -> None:
        self._path = path
        self._project = project
        self._service = service
        self._conn: sqlite3.Connection | None = None

    def _read(self, entity_rows: Sequence[EntityRow]) -> list[Row]:
        if self._conn is None:
            self._conn = sqlite3.connect(self._path, check_same_thread=False)
        rows: list[Row] = [{} for _ in entity_rows]
        for view in self._service.views:
            join_key = view.entity.join_key
            keys: dict[bytes, list[int]] = {}
            for i, entity_row in enumerate(entity_rows):
                if join_key in entity_row:
                    keys.setdefault(layout.entity_key("", join_key, entity_row[join_key]),
                                    []).append(i)
            if not keys:
                continue
            wanted = {f.name for f in view.features}
            marks = ",".join("?" * len(keys))
            try:
                found = self._conn.execute(
                    f'SELECT entity_key, feature_name, value FROM "{self._project}_{view.name}" '  # noqa: S608
                    f"WHERE entity_key IN ({marks})", list(keys)).fetchall()
            except sqlite3.OperationalError:  # table not created yet: nothing online
                continue
            for key, name, raw in found:
                value = layout.decode_number(raw)
                if name in wanted and value is not None:
                    for i in keys[bytes(key)]:
                        rows[i][name] = value
        return rows

    async def read(self, entity_rows: Sequence[EntityRow]) -> list[Row]:
        return await asyncio.to_thread(self._read, entity_rows)

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
