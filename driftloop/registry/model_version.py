"""One immutable model version: what the scorer needs to run it and what a person needs to
know where it came from."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from driftloop.registry.registry_errors import InvalidMetadata

#: Metadata keys every version must carry: the scorer builds its input from them.
REQUIRED_METADATA = ("features", "input_name", "output_name", "threshold")


def check_metadata(metadata: Any) -> None:
    """Raise InvalidMetadata unless ``metadata`` holds what serving needs, in the right form:
    ``features`` a non-empty list of distinct non-empty names, ``threshold`` a finite number
    in [0, 1], ``input_name`` and ``output_name`` non-empty strings. Checked at registration
    and again at every load: a version.json edited or written by another tool is data too."""
    if not isinstance(metadata, dict):
        raise InvalidMetadata(f"metadata is {type(metadata).__name__}, not an object")
    missing = [key for key in REQUIRED_METADATA if key not in metadata]
    if missing:
        raise InvalidMetadata(f"metadata lacks {missing}; required: {list(REQUIRED_METADATA)}")
    features = metadata["features"]
    if (not isinstance(features, list) or not features
            or not all(isinstance(f, str) and f for f in features)):
        raise InvalidMetadata(f"features must be a non-empty list of names, not {features!r}")
    if len(set(features)) != len(features):
        raise InvalidMetadata(f"features name an input twice: {features!r}")
    threshold = metadata["threshold"]
    if (isinstance(threshold, bool) or not isinstance(threshold, int | float)
            or not math.isfinite(threshold) or not 0.0 <= threshold <= 1.0):
        raise InvalidMetadata(f"threshold must be a number in [0, 1], not {threshold!r}")
    for key in ("input_name", "output_name"):
        if not isinstance(metadata[key], str) or not metadata[key]:
            raise InvalidMetadata(f"{key} must be a non-empty string, not {metadata[key]!r}")


@dataclass(frozen=True)
class ModelVersion:
    """``version`` is unique, immutable and sortable ("v0007"); ``sha256`` is the digest of the
    ONNX bytes; ``metadata`` is JSON (features, input_name, output_name, threshold, metrics,
    lineage, gate...)."""

    model_name: str
    version: str
    sha256: str
    metadata: dict[str, Any]

    @property
    def features(self) -> list[str]:
        """Ordered input feature names: column i of the ONNX input is ``features[i]``."""
        return list(self.metadata["features"])

    @property
    def threshold(self) -> float:
        """Operating threshold on P(positive) that turns a score into a label."""
        return float(self.metadata["threshold"])

    @property
    def input_name(self) -> str:
        return str(self.metadata["input_name"])

    @property
    def output_name(self) -> str:
        return str(self.metadata["output_name"])

    @property
    def metrics(self) -> dict[str, float]:
        return dict(self.metadata.get("metrics", {}))

    @property
    def lineage(self) -> dict[str, Any]:
        return dict(self.metadata.get("lineage", {}))

    @classmethod
    def from_record(cls, record: Any) -> ModelVersion:
        """A version from its version.json record, refused unless complete and valid."""
        if not isinstance(record, dict):
            raise InvalidMetadata(f"version record is {type(record).__name__}, not an object")
        missing = [k for k in ("model_name", "version", "sha256", "metadata") if k not in record]
        if missing:
            raise InvalidMetadata(f"version record lacks {missing}")
        label = f"{record['model_name']} {record['version']}"
        try:
            check_metadata(record["metadata"])
        except InvalidMetadata as exc:
            raise InvalidMetadata(f"{label}: {exc}") from None
        return cls(str(record["model_name"]), str(record["version"]), str(record["sha256"]),
                   record["metadata"])

    @property
    def number(self) -> int:
        """The version's sequence number ("v0007" -> 7), for ordering past v9999."""
        return version_number(self.version)


def version_name(number: int) -> str:
    return f"v{number:04d}"


def version_number(version: str) -> int:
    if not version.startswith("v") or not version[1:].isdigit():
        raise ValueError(f"not a version name: {version!r}")
    return int(version[1:])
