"""Loading a model version from the registry into something that may serve: its artifact must
match the registry's sha256 (and the lifecycle event's, when it names one), load in
onnxruntime, take the declared inputs and pass the golden-batch smoke test."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from driftloop.registry.model_version import check_metadata
from driftloop.registry.registry_errors import InvalidMetadata
from services.scorer.onnx_model import ModelRejected, OnnxModel


class VersionInfo(Protocol):
    """The parts of a registry ModelVersion the scorer reads."""

    @property
    def model_name(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def sha256(self) -> str: ...

    @property
    def metadata(self) -> Mapping[str, Any]: ...

    @property
    def features(self) -> Sequence[str]: ...

    @property
    def threshold(self) -> float: ...


class ModelStore(Protocol):
    """The registry as the scorer uses it (driftloop.registry.ModelRegistry fits)."""

    def get(self, model_name: str, version: str) -> Any: ...

    def load_onnx(self, mv: Any) -> bytes: ...

    def alias(self, model_name: str, alias: str) -> Any: ...

    def champion_history(self, model_name: str) -> list[str]: ...


@dataclass(frozen=True)
class StartingChampion:
    """What a starting scorer serves: ``model`` (None: no version loads, the baseline serves)
    and every version refused on the way there, with the reason, current champion first."""

    model: OnnxModel | None
    refused: list[tuple[str, str]] = field(default_factory=list)


class ModelLoader:
    def __init__(self, store: ModelStore) -> None:
        self._store = store

    def load(self, model_name: str, version: str, expected_sha256: str | None = None
             ) -> OnnxModel:
        try:
            mv: VersionInfo = self._store.get(model_name, version)
        except InvalidMetadata as exc:
            raise ModelRejected(f"invalid version metadata: {exc}") from exc
        except Exception as exc:  # the registry's own errors (unknown version, I/O)
            raise ModelRejected(f"{model_name} {version}: not in the registry: {exc}") from exc
        return self.load_version(mv, expected_sha256)

    def load_version(self, mv: VersionInfo, expected_sha256: str | None = None) -> OnnxModel:
        try:
            return self._checked(mv, expected_sha256)
        except ModelRejected:
            raise
        except Exception as exc:  # a check that breaks refuses the version, never the scorer
            raise ModelRejected(f"{mv.model_name} {mv.version}: could not be checked: "
                                f"{type(exc).__name__}: {exc}") from exc

    def _checked(self, mv: VersionInfo, expected_sha256: str | None) -> OnnxModel:
        label = f"{mv.model_name} {mv.version}"
        try:  # whatever store it came from: features and threshold are read below
            check_metadata(mv.metadata)
        except InvalidMetadata as exc:
            raise ModelRejected(f"invalid version metadata: {label}: {exc}") from exc
        if expected_sha256 and expected_sha256 != mv.sha256:
            raise ModelRejected(f"{label}: event names sha256 {expected_sha256[:12]}..., "
                                f"registry has {mv.sha256[:12]}...")
        try:
            data = self._store.load_onnx(mv)
        except Exception as exc:  # IntegrityError and I/O errors alike refuse the version
            raise ModelRejected(f"{label}: artifact refused: {exc}") from exc
        # Checked here too: the scorer trusts no artifact it has not hashed itself.
        if hashlib.sha256(data).hexdigest() != mv.sha256:
            raise ModelRejected(f"{label}: artifact does not match its sha256")
        model = OnnxModel.from_bytes(mv.model_name, mv.version, data, mv.metadata,
                                     list(mv.features), mv.threshold)
        model.smoke_test()
        return model

    def champion(self, model_name: str) -> StartingChampion:
        """The registry's champion or, when it cannot serve, the newest loadable version of
        the alias's history (the champions before it, the most recent first): a restart must
        never leave the scorer on nothing because the last promotion was bad."""
        refused: list[tuple[str, str]] = []
        try:
            candidates = self._store.champion_history(model_name)
        except Exception as exc:  # an unreadable registry: the baseline serves meanwhile
            return StartingChampion(None, [("registry", f"{type(exc).__name__}: {exc}")])
        for version in candidates:
            try:
                return StartingChampion(self.load(model_name, version), refused)
            except ModelRejected as exc:
                refused.append((version, str(exc)))
        return StartingChampion(None, refused)

    def challenger(self, model_name: str) -> OnnxModel | None:
        mv = self._store.alias(model_name, "challenger")
        return None if mv is None else self.load_version(mv)
