"""Run tracking: one JSON record per training run (parameters, data marks and digest, code
version, metrics, confusion matrix, duration, device, decision, error analysis), next to the
registry so that `driftloop runs` answers from anywhere the registry is reachable. A run's
artifacts (its error analysis as JSON and PNG) sit in a folder named by the run beside it."""

from __future__ import annotations

import functools
import json
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fsspec

#: git is asked about the checkout this code runs from
REPO_ROOT = Path(__file__).resolve().parents[2]


@functools.lru_cache(maxsize=1)
def git_code_version() -> str:
    """The git commit of this code (with ``-dirty`` for uncommitted changes), or "unknown"
    where there is no git (a container image names its version in settings instead)."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                              text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=REPO_ROOT, capture_output=True, text=True, timeout=10,
                               check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}-dirty" if dirty else head


def new_run_id() -> str:
    """Sortable by start time (to the microsecond), unique across trainers."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%f") + "-" + uuid.uuid4().hex[:6]


class RunTracker:
    """Run records under ``<root>/runs/<model>/<run_id>.json``, their artifacts under
    ``<root>/runs/<model>/<run_id>/`` (any fsspec URL)."""

    def __init__(self, root: str) -> None:
        self._fs, path = fsspec.core.url_to_fs(str(root))
        self._base = path.rstrip("/") + "/runs"

    def save(self, record: dict[str, Any]) -> None:
        directory = f"{self._base}/{record['model_name']}"
        self._fs.makedirs(directory, exist_ok=True)
        self._fs.pipe_file(f"{directory}/{record['run_id']}.json",
                           json.dumps(record, indent=2, sort_keys=True).encode())

    def runs(self, model_name: str) -> list[dict[str, Any]]:
        """Every run of ``model_name``, oldest first."""
        try:
            paths = sorted(self._fs.ls(f"{self._base}/{model_name}", detail=False))
        except FileNotFoundError:
            return []
        return [json.loads(self._fs.cat_file(p)) for p in paths if str(p).endswith(".json")]

    def get(self, model_name: str, run_id: str) -> dict[str, Any]:
        try:
            return dict(json.loads(self._fs.cat_file(f"{self._base}/{model_name}/{run_id}.json")))
        except FileNotFoundError:
            raise KeyError(f"no run {run_id} of {model_name}") from None

    def artifact_location(self, model_name: str, run_id: str, name: str) -> str:
        """Where a run's artifact is (a path, or a URL for a remote store)."""
        path = f"{self._base}/{model_name}/{run_id}/{name}"
        protocol = self._fs.protocol
        local = "file" in (protocol if isinstance(protocol, tuple) else (protocol,))
        return path if local else str(self._fs.unstrip_protocol(path))

    def save_artifact(self, model_name: str, run_id: str, name: str, data: bytes) -> str:
        """Store one artifact of a run (saved before its record, which names it); returns
        its location."""
        directory = f"{self._base}/{model_name}/{run_id}"
        self._fs.makedirs(directory, exist_ok=True)
        self._fs.pipe_file(f"{directory}/{name}", data)
        return self.artifact_location(model_name, run_id, name)

    def artifact(self, model_name: str, run_id: str, name: str) -> bytes:
        try:
            return bytes(self._fs.cat_file(f"{self._base}/{model_name}/{run_id}/{name}"))
        except FileNotFoundError:
            raise KeyError(f"no artifact {name} of run {run_id} of {model_name}") from None
