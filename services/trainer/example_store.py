"""Durable join of predictions and labels by event id: the training examples.

A label may arrive before its prediction, hours after it, or twice; the store keeps each side
in its own SQLite table keyed by event id and joins at training time, so arrival order does not
matter. Duplicates are ignored (the first prediction is the features as the champion scored
them; the first label wins, which also makes runs reproducible). Every insert takes the next
sequence number, so a run records the high-water marks of both tables (and the start of its
event-time window) and a rerun selects exactly the same rows."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    event_time INTEGER NOT NULL,
    model_version TEXT NOT NULL,
    features TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS labels (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    label INTEGER NOT NULL,
    labelled_at INTEGER NOT NULL,
    labelled_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS documents (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Marks:
    """High-water marks of both tables and the oldest event time: the rows a training run saw."""

    prediction_seq: int
    label_seq: int
    since_ms: int = 0  # events before this are left out (a concept change made them stale)

    def since(self, since_ms: int) -> Marks:
        return Marks(self.prediction_seq, self.label_seq, since_ms)


@dataclass(frozen=True)
class Example:
    event_id: str
    event_time: int
    features: dict[str, float]
    label: int
    labelled_at: int
    model_version: str


class ExampleStore:
    """Predictions and labels in one SQLite file (``:memory:`` for tests)."""

    def __init__(self, path: Path | str) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # One connection, used by the consumer's handler and by the training thread at once:
        # every method holds the lock, so no transaction interleaves with another.
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.executescript(_SCHEMA)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.commit()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def add_predictions(self, predictions: Iterable[dict[str, Any]]) -> int:
        """Store champion predictions; returns how many were new. Skipped: shadow scores (not
        what serving acted on) and degraded ones (the online store was down or slow, so their
        online features are the declared defaults, not the event's: a model learning from
        them learns that defaults predict whatever those events turned out to be)."""
        with self._lock:
            rows = [(p["event_id"], _millis(p["event_time"]), p["model_version"],
                     json.dumps(p["features"], sort_keys=True))
                    for p in predictions
                    if not p.get("shadow", False) and not p.get("degraded", False)]
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR IGNORE INTO predictions (event_id, event_time, model_version,"
                " features) VALUES (?, ?, ?, ?)", rows)
            self._db.commit()
            return self._db.total_changes - before

    def add_labels(self, labels: Iterable[dict[str, Any]]) -> int:
        """Store labels; returns how many were new (duplicates do not count)."""
        with self._lock:
            rows = [(lab["event_id"], int(lab["label"]), _millis(lab["labelled_at"]),
                     lab.get("labelled_by", "")) for lab in labels]
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR IGNORE INTO labels (event_id, label, labelled_at, labelled_by)"
                " VALUES (?, ?, ?, ?)", rows)
            self._db.commit()
            return self._db.total_changes - before

    def marks(self) -> Marks:
        with self._lock:
            pred = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM predictions").fetchone()
            lab = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM labels").fetchone()
            return Marks(int(pred[0]), int(lab[0]))

    def examples(self, marks: Marks | None = None) -> list[Example]:
        """Labelled examples up to ``marks`` and from its ``since_ms`` on (default:
        everything), oldest event first."""
        with self._lock:
            marks = marks or self.marks()
            cursor = self._db.execute(
                "SELECT p.event_id, p.event_time, p.features, l.label, l.labelled_at,"
                " p.model_version FROM predictions p JOIN labels l ON p.event_id = l.event_id"
                " WHERE p.seq <= ? AND l.seq <= ? AND p.event_time >= ?"
                " ORDER BY p.event_time, p.event_id",
                (marks.prediction_seq, marks.label_seq, marks.since_ms))
            rows = cursor.fetchall()
        # parsed outside the lock: the consumer's inserts need not wait for it
        return [Example(r[0], int(r[1]), json.loads(r[2]), int(r[3]), int(r[4]), r[5])
                for r in rows]

    def first_event_time(self) -> int | None:
        """Event time of the oldest prediction stored: where the history the features were
        computed over began, as far as this trainer knows."""
        with self._lock:
            row = self._db.execute("SELECT MIN(event_time) FROM predictions").fetchone()
        return None if row[0] is None else int(row[0])

    def count_labelled(self) -> int:
        with self._lock:
            return int(self._db.execute(
                "SELECT COUNT(*) FROM predictions p JOIN labels l ON p.event_id = l.event_id"
            ).fetchone()[0])

    def unmatched_labels(self) -> int:
        """Labels still waiting for their prediction."""
        with self._lock:
            return int(self._db.execute(
                "SELECT COUNT(*) FROM labels l LEFT JOIN predictions p"
                " ON p.event_id = l.event_id WHERE p.event_id IS NULL").fetchone()[0])

    def labels_since(self, label_seq: int) -> int:
        with self._lock:
            return int(self._db.execute(
                "SELECT COUNT(*) FROM labels WHERE seq > ?", (label_seq,)).fetchone()[0])

    def count_labelled_since(self, since_ms: int) -> int:
        """Labelled examples of events at or after ``since_ms``: what a run would train on."""
        with self._lock:
            return int(self._db.execute(
                "SELECT COUNT(*) FROM labels l JOIN predictions p ON p.event_id = l.event_id"
                " WHERE p.event_time >= ?", (since_ms,)).fetchone()[0])

    def get_state(self, key: str, default: int = 0) -> int:
        with self._lock:
            row = self._db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
            return default if row is None else int(row[0])

    def set_state(self, key: str, value: int) -> None:
        with self._lock:
            self._db.execute("INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT(key)"
                             " DO UPDATE SET value = excluded.value", (key, value))
            self._db.commit()

    def get_document(self, key: str) -> dict[str, Any] | None:
        """A JSON document of the trainer's state (a pending request, the last run), or None."""
        with self._lock:
            row = self._db.execute("SELECT value FROM documents WHERE key = ?",
                                   (key,)).fetchone()
            return None if row is None else dict(json.loads(row[0]))

    def set_document(self, key: str, value: dict[str, Any] | None) -> None:
        """Store (or, with None, delete) a JSON document; durable once this returns."""
        with self._lock:
            if value is None:
                self._db.execute("DELETE FROM documents WHERE key = ?", (key,))
            else:
                self._db.execute("INSERT INTO documents (key, value) VALUES (?, ?)"
                                 " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                                 (key, json.dumps(value, sort_keys=True)))
            self._db.commit()


def _millis(value: Any) -> int:
    """fastavro decodes timestamp-millis as an aware datetime; plain ints pass through."""
    if hasattr(value, "timestamp"):
        return int(value.timestamp() * 1000)
    return int(value)
