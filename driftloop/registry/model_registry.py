"""The model registry: immutable versions, aliases and an append-only history, on a local
directory or any fsspec filesystem (s3://, gs://, memory://).

Layout under the root::

    models/<name>/versions/v0007/model.onnx     the artifact, never rewritten
    models/<name>/versions/v0007/version.json   sha256 + metadata, written last: a version
                                                whose version.json exists is complete
    models/<name>/aliases.json                  {"champion": "v0007", "challenger": null}
    models/<name>/history/<ns>-<id>.json        one file per event: append-only by design,
                                                two writers never touch the same file

Why this is safe with two processes on a local directory: a new version number is claimed by
``mkdir`` (atomic: exactly one process creates a directory), files are written under a temporary
name and renamed into place (readers never see half a file), and alias changes are a
read-modify-write under an ``flock`` on ``models/<name>/.lock``. On object stores (which have no
rename or locks) objects are still written whole; run one trainer per model there.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from driftloop.registry.model_version import (
    ModelVersion,
    check_metadata,
    version_name,
    version_number,
)
from driftloop.registry.registry_errors import IntegrityError, InvalidMetadata, RegistryError

__all__ = ["IntegrityError", "InvalidMetadata", "ModelRegistry", "RegistryError"]

CHAMPION = "champion"
CHALLENGER = "challenger"


def _now() -> tuple[int, str]:
    ms = int(time.time() * 1000)
    return ms, datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


class ModelRegistry:
    """Model versions under ``root``: a directory path or any fsspec URL."""

    def __init__(self, root: str) -> None:
        self.root = str(root)
        try:
            fs, path = fsspec.core.url_to_fs(self.root)
        except (ValueError, ImportError) as exc:
            raise RegistryError(f"cannot open registry at {self.root!r}: {exc}") from exc
        self._fs = fs
        self._base = path.rstrip("/")
        self._local = isinstance(fs, LocalFileSystem)
        self._cache: dict[tuple[str, str], ModelVersion] = {}

    # -- paths -------------------------------------------------------------------------------
    def _model_dir(self, model_name: str) -> str:
        if not model_name or "/" in model_name or model_name.startswith("."):
            raise RegistryError(f"invalid model name {model_name!r}")
        return f"{self._base}/models/{model_name}"

    def _version_dir(self, model_name: str, version: str) -> str:
        return f"{self._model_dir(model_name)}/versions/{version}"

    # -- low-level I/O -----------------------------------------------------------------------
    def _write(self, path: str, data: bytes) -> None:
        """Write ``path`` whole: via a temporary file and a rename on local disks, as one
        object put elsewhere."""
        if self._local:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = f"{path}.{uuid.uuid4().hex}.tmp"
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        else:
            self._fs.pipe_file(path, data)

    def _read(self, path: str) -> bytes | None:
        try:
            return bytes(self._fs.cat_file(path))
        except FileNotFoundError:
            return None

    def _read_json(self, path: str) -> Any:
        raw = self._read(path)
        return None if raw is None else json.loads(raw)

    def _children(self, path: str) -> list[str]:
        try:
            entries = self._fs.ls(path, detail=False)
        except FileNotFoundError:
            return []
        return sorted(str(e).rstrip("/").rsplit("/", 1)[-1] for e in entries)

    def _claim(self, path: str) -> bool:
        """Create the directory ``path``; False if it already exists (someone else has it)."""
        if self._local:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            try:
                os.mkdir(path)
            except FileExistsError:
                return False
            return True
        if self._fs.exists(f"{path}/model.onnx"):
            return False
        return True

    @contextlib.contextmanager
    def _locked(self, model_name: str) -> Iterator[None]:
        if not self._local:
            yield
            return
        import fcntl  # POSIX only, like the rest of the stack

        directory = self._model_dir(model_name)
        os.makedirs(directory, exist_ok=True)
        with open(f"{directory}/.lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # -- versions ----------------------------------------------------------------------------
    def models(self) -> list[str]:
        """Names of the models that have at least one version."""
        return [name for name in self._children(f"{self._base}/models") if self.versions(name)]

    def register(self, model_name: str, onnx_bytes: bytes, metadata: dict[str, Any]
                 ) -> ModelVersion:
        """Store a new immutable version; returns it with its number and sha256."""
        if not onnx_bytes:
            raise RegistryError("empty ONNX artifact")
        try:
            meta = json.loads(json.dumps(metadata))
        except (TypeError, ValueError) as exc:
            raise InvalidMetadata(f"metadata is not JSON: {exc}") from exc
        check_metadata(meta)  # as it will be read back: tuples are lists by now
        digest = hashlib.sha256(onnx_bytes).hexdigest()
        existing = self._children(f"{self._model_dir(model_name)}/versions")
        number = max((version_number(v) for v in existing if _is_version(v)), default=0) + 1
        while not self._claim(self._version_dir(model_name, version_name(number))):
            number += 1  # another process took this number between our listing and mkdir
        version = version_name(number)
        at_ms, at_iso = _now()
        meta["registered_at"] = at_iso  # when this version was made, even for copied metadata
        directory = self._version_dir(model_name, version)
        self._write(f"{directory}/model.onnx", onnx_bytes)
        record = {"model_name": model_name, "version": version, "sha256": digest,
                  "metadata": meta}
        self._write(f"{directory}/version.json", json.dumps(record, indent=2).encode())
        mv = ModelVersion(model_name, version, digest, meta)
        self._cache[(model_name, version)] = mv
        self.record_event(model_name, "TRAINED", version, reason="registered", actor="registry",
                          sha256=digest)
        return mv

    def get(self, model_name: str, version: str) -> ModelVersion:
        cached = self._cache.get((model_name, version))
        if cached is not None:
            return cached
        if not _is_version(version):
            raise RegistryError(f"{model_name}: {version!r} is not a version name (v0001...)")
        path = f"{self._version_dir(model_name, version)}/version.json"
        try:
            record = self._read_json(path)
        except ValueError as exc:  # not JSON (UnicodeDecodeError is a ValueError too)
            raise InvalidMetadata(f"{model_name} {version}: version.json is not JSON: {exc}"
                                  ) from exc
        if record is None:
            raise RegistryError(f"{model_name} has no version {version}")
        mv = ModelVersion.from_record(record)
        self._cache[(model_name, version)] = mv
        return mv

    def versions(self, model_name: str) -> list[ModelVersion]:
        """Every complete version, oldest first."""
        names = [v for v in self._children(f"{self._model_dir(model_name)}/versions")
                 if _is_version(v)]
        out = []
        for name in sorted(names, key=version_number):
            try:
                out.append(self.get(model_name, name))
            except InvalidMetadata:
                continue  # never servable: `get` names why
            except RegistryError:
                continue  # still being written by another process
        return out

    def load_onnx(self, mv: ModelVersion) -> bytes:
        """The artifact's bytes, verified against the sha256 recorded at registration."""
        data = self._read(f"{self._version_dir(mv.model_name, mv.version)}/model.onnx")
        if data is None:
            raise RegistryError(f"{mv.model_name} {mv.version}: artifact is missing")
        actual = hashlib.sha256(data).hexdigest()
        if actual != mv.sha256:
            raise IntegrityError(
                f"{mv.model_name} {mv.version}: artifact sha256 {actual} does not match the "
                f"registered {mv.sha256}; refusing to load it")
        return data

    # -- aliases -----------------------------------------------------------------------------
    def _aliases(self, model_name: str) -> dict[str, str | None]:
        return dict(self._read_json(f"{self._model_dir(model_name)}/aliases.json") or {})

    def alias(self, model_name: str, alias: str) -> ModelVersion | None:
        version = self._aliases(model_name).get(alias)
        return None if version is None else self.get(model_name, version)

    def _set(self, model_name: str, alias: str, version: str | None, action: str,
             reason: str, actor: str, **extra: Any) -> str | None:
        """Point ``alias`` at ``version`` (caller holds the lock); returns the old target."""
        if version is not None:
            self.get(model_name, version)  # must exist
        aliases = self._aliases(model_name)
        previous = aliases.get(alias)
        aliases[alias] = version
        if alias == CHAMPION and version is not None and aliases.get(CHALLENGER) == version:
            aliases[CHALLENGER] = None  # a promoted challenger is no longer a challenger
        self._write(f"{self._model_dir(model_name)}/aliases.json",
                    json.dumps(aliases, indent=2, sort_keys=True).encode())
        self.record_event(model_name, action, version, reason=reason, actor=actor,
                          alias=alias, previous=previous, **extra)
        return previous

    def set_alias(self, model_name: str, alias: str, version: str | None, reason: str,
                  actor: str) -> None:
        """Point ``alias`` at ``version`` (None removes it); recorded in the history."""
        action = {CHAMPION: "PROMOTED", CHALLENGER: "CHALLENGER"}.get(alias, "OTHER")
        with self._locked(model_name):
            self._set(model_name, alias, version, action, reason, actor)

    def promote(self, model_name: str, version: str, reason: str, actor: str
                ) -> ModelVersion | None:
        """Make ``version`` the champion; returns the previous champion (None if there was
        none). Promoting the current champion again changes nothing."""
        with self._locked(model_name):
            current = self._aliases(model_name).get(CHAMPION)
            if current == version:
                return self.get(model_name, version)
            previous = self._set(model_name, CHAMPION, version, "PROMOTED", reason, actor)
        return None if previous is None else self.get(model_name, previous)

    def rollback(self, model_name: str, reason: str, actor: str) -> ModelVersion:
        """Put back the champion that the current one replaced; returns the new champion."""
        with self._locked(model_name):
            current = self._aliases(model_name).get(CHAMPION)
            if current is None:
                raise RegistryError(f"{model_name} has no champion to roll back")
            target = self._replaced_by(model_name, current)
            if target is None:
                raise RegistryError(
                    f"{model_name}: champion {current} replaced no earlier champion")
            self._set(model_name, CHAMPION, target, "ROLLED_BACK", reason, actor)
        return self.get(model_name, target)

    def champion_history(self, model_name: str) -> list[str]:
        """Every version that has been champion: the current one first, then the earlier
        ones, the most recently serving first. A consumer that cannot serve the champion
        (a corrupt or incomplete version) falls back along this list."""
        current = self._aliases(model_name).get(CHAMPION)
        seen: list[str] = [current] if current else []
        for event in reversed(self.history(model_name)):
            if event.get("alias") != CHAMPION:
                continue
            for version in (event.get("version"), event.get("previous")):
                if version and version not in seen:
                    seen.append(str(version))
        return seen

    def _replaced_by(self, model_name: str, version: str) -> str | None:
        """The champion ``version`` replaced when it was (last) promoted."""
        for event in reversed(self.history(model_name)):
            if (event.get("alias") == CHAMPION and event.get("version") == version
                    and event.get("action") == "PROMOTED"):
                previous = event.get("previous")
                return str(previous) if previous else None
        return None

    # -- history -----------------------------------------------------------------------------
    def record_event(self, model_name: str, action: str, version: str | None, *, reason: str,
                     actor: str, **extra: Any) -> dict[str, Any]:
        """Append one event (e.g. a REJECTED verdict) to the model's history."""
        at_ms, at_iso = _now()
        event = {"model_name": model_name, "action": action, "version": version,
                 "reason": reason, "actor": actor, "at": at_ms, "at_iso": at_iso, **extra}
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.json"
        self._write(f"{self._model_dir(model_name)}/history/{name}",
                    json.dumps(event, sort_keys=True).encode())
        return event

    def history(self, model_name: str) -> list[dict[str, Any]]:
        """Every registration, promotion, rejection and rollback, oldest first."""
        directory = f"{self._model_dir(model_name)}/history"
        events = []
        for name in self._children(directory):
            if name.endswith(".json"):
                event = self._read_json(f"{directory}/{name}")
                if event is not None:
                    events.append(event)
        return events


def _is_version(name: str) -> bool:
    return name.startswith("v") and name[1:].isdigit()
