"""Model inputs computed from the event itself, as the domain declares them (domains/NAME/
domain.toml, section ``model_inputs``). Keeping the recipe in the domain's file means a second
domain brings its own inputs as data, and training and serving compute them the same way."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from driftloop.contracts.domain import Domain

Compute = Callable[[Mapping[str, Any]], float]


class ModelInputsError(ValueError):
    """The domain's model_inputs section is malformed."""


_ZERO = timedelta(0)


def _number(value: Any) -> float:
    return 0.0 if value is None else float(value)


def _hour(value: Any) -> float:
    # fastavro decodes timestamp-millis to an aware datetime; the HTTP path has epoch ms.
    if isinstance(value, datetime):
        return float(value.hour if value.utcoffset() == _ZERO else
                     value.astimezone(UTC).hour)
    if value is None:
        return 0.0
    return float((int(value) // 3_600_000) % 24)


def _equals(fld: str, value: Any) -> Compute:
    return lambda e: 1.0 if e.get(fld) == value else 0.0


def _compile(spec: Mapping[str, Any]) -> list[tuple[str, Compute]]:
    kind, fld = spec.get("kind"), spec.get("field")
    if not isinstance(fld, str):
        raise ModelInputsError(f"input {spec!r} has no 'field'")
    if kind == "one_hot":
        return [(f"{fld}={value}", _equals(fld, value)) for value in spec["values"]]
    name = spec.get("name")
    if not isinstance(name, str):
        raise ModelInputsError(f"input {spec!r} has no 'name'")
    if kind == "numeric":
        return [(name, lambda e: _number(e.get(fld)))]
    if kind == "log1p":
        return [(name, lambda e: math.log1p(max(_number(e.get(fld)), 0.0)))]
    if kind == "hour_of_day":
        return [(name, lambda e: _hour(e.get(fld)))]
    if kind == "in_set":
        members = frozenset(spec["values"])
        return [(name, lambda e: 1.0 if e.get(fld) in members else 0.0)]
    if kind == "in_range":
        low = float(spec.get("low", -math.inf))
        high = float(spec.get("high", math.inf))
        return [(name, lambda e: 1.0 if low <= _number(e.get(fld)) < high else 0.0)]
    raise ModelInputsError(f"input {name!r}: unknown kind {kind!r}")


@dataclass(frozen=True)
class ModelInputs:
    """The ordered event-derived inputs of a domain and how to compute each from an event."""

    computes: tuple[tuple[str, Compute], ...]
    baseline: Mapping[str, Any]

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> ModelInputs:
        computes: list[tuple[str, Compute]] = []
        for spec in section.get("inputs", []):
            computes.extend(_compile(spec))
        names = [name for name, _ in computes]
        if len(set(names)) != len(names):
            raise ModelInputsError(f"duplicate input names in {names}")
        return cls(tuple(computes), dict(section.get("baseline", {})))

    @classmethod
    def load(cls, domain: str | None = None, directory: Path | None = None) -> ModelInputs:
        declared = Domain.load(domain, directory)
        if not declared.model_inputs:
            raise ModelInputsError(f"{declared.directory / 'domain.toml'} declares no "
                                   "model_inputs")
        return cls.from_config(declared.model_inputs)

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.computes]

    def compute(self, event: Mapping[str, Any]) -> dict[str, float]:
        return {name: fn(event) for name, fn in self.computes}
