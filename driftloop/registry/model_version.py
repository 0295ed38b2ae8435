"""One immutable model version: what the scorer needs to run it and what a person needs to
know where it came from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Metadata keys every version must carry: the scorer builds its input from them.
REQUIRED_METADATA = ("features", "input_name", "output_name", "threshold")


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
