"""Slices: the named ways a domain cuts its events into groups, so that errors can be counted
per group ("on which kinds of events is the model wrong?") and not only over everything.

A domain declares them in domain.toml, one table per slice under ``[slices]``, in the event's
own terms (a field, its values, its bounds)::

    [slices.channel]            # one group per value: "POS", "ONLINE", ..., "(other)"
    kind = "values"
    field = "channel"           # values: those of the one_hot input on the field, or `values`

    [slices.country_risk]       # two groups: the input is 1 (labels[0]) or 0 (labels[1])
    kind = "flag"
    input = "country_high_risk" # an in_set or in_range model input
    labels = ["high", "low"]

    [slices.amount_band]        # bands between ascending bounds: "<20", "20-100", ">=100"
    kind = "bands"
    field = "amount"
    bounds = [20, 100]

Nothing downstream of the scorer sees the event itself: a prediction carries the model inputs
computed from it (``features``), and the trainer's examples are those predictions. So every
slice must be answerable from the logged inputs, and declaring one that is not is an error: a
``values`` slice reads the field's one_hot inputs, a ``bands`` slice its numeric (or log1p)
input, a ``flag`` slice its input. ``of_event`` labels an event from its fields,
``of_inputs`` labels logged inputs; both give the same label for the same event (a test checks
it on every domain's stream). One caveat: the inputs of the model that scored an event are
logged as float32, so a value within float32 rounding (6e-8 relative) of a bound may fall in
the neighbouring band. Reading slices needs only the standard library."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from driftloop.contracts.model_inputs import Compute, ModelInputs, ModelInputsError

#: the group of a value a ``values`` slice does not list
OTHER = "(other)"
#: the group of an event (or logged inputs) without the value the slice reads
MISSING = "(missing)"
KINDS = ("values", "bands", "flag")
_KEYS = {"values": {"field", "values"}, "bands": {"field", "bounds"},
         "flag": {"input", "labels"}}


class SliceError(ValueError):
    """A slice declaration is malformed, or cannot be answered from the model inputs."""


def _bound(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


@dataclass(frozen=True)
class Slice:
    """One declared slice and how to read it from an event and from logged model inputs."""

    name: str
    kind: str
    field: str = ""                      # the event field (values, bands)
    values: tuple[Any, ...] = ()         # values: the listed values, in order
    bounds: tuple[float, ...] = ()       # bands: ascending
    labels: tuple[str, str] = ("in", "out")  # flag: (input 1, input 0)
    input: str = ""                      # the model input read (bands, flag)
    log1p: bool = False                  # bands: the input is log(1 + field)
    # flag: the input's own rule on an event (model_inputs computes it the same way)
    compute: Compute | None = dataclasses.field(default=None, compare=False, repr=False)

    @property
    def groups(self) -> tuple[str, ...]:
        """Every label this slice can give, in reading order."""
        if self.kind == "values":
            return (*(str(v) for v in self.values), OTHER, MISSING)
        if self.kind == "bands":
            b = [_bound(x) for x in self.bounds]
            return (f"<{b[0]}", *(f"{lo}-{hi}" for lo, hi in zip(b, b[1:], strict=False)),
                    f">={b[-1]}", MISSING)
        return (*self.labels, MISSING)

    def _band(self, value: float, bounds: tuple[float, ...]) -> str:
        if math.isnan(value):
            return MISSING
        return self.groups[sum(value >= b for b in bounds)]

    def of_event(self, event: Mapping[str, Any]) -> str:
        """The group of an event, from its fields."""
        if self.kind == "flag":
            if self.compute is None:
                raise SliceError(f"slice {self.name!r}: a flag is built by Slices.from_config")
            return self.labels[0] if self.compute(event) >= 0.5 else self.labels[1]
        value = event.get(self.field)
        if value is None:
            return MISSING
        if self.kind == "values":
            # labelled as declared (an event's 2.0 is the declared 2, as its input "elevel=2")
            return str(self.values[self.values.index(value)]) if value in self.values else OTHER
        return self._band(float(value), self.bounds)

    def of_inputs(self, inputs: Mapping[str, float]) -> str:
        """The group of logged model inputs (a prediction's ``features``)."""
        if self.kind == "values":
            present = [v for v in self.values if f"{self.field}={v}" in inputs]
            if not present:
                return MISSING
            hot = [v for v in present if inputs[f"{self.field}={v}"] >= 0.5]
            return str(hot[0]) if hot else OTHER
        value = inputs.get(self.input)
        if value is None:
            return MISSING
        if self.kind == "flag":
            return self.labels[0] if value >= 0.5 else self.labels[1]
        # a log1p input is compared with the bounds through the same function: monotonic,
        # so the band is the field's own
        bounds = tuple(math.log1p(max(b, 0.0)) for b in self.bounds) if self.log1p \
            else self.bounds
        return self._band(float(value), bounds)


def _parse(name: str, raw: Mapping[str, Any], specs: list[Mapping[str, Any]]) -> Slice:
    kind = raw.get("kind")
    if kind not in KINDS:
        raise SliceError(f"slice {name!r}: kind {kind!r} is not one of {KINDS}")
    if unknown := set(raw) - _KEYS[kind] - {"kind", "doc"}:
        raise SliceError(f"slice {name!r} ({kind}) takes no {sorted(unknown)}")
    if kind == "flag":
        wanted = raw.get("input")
        spec = next((s for s in specs if s.get("name") == wanted), None)
        if spec is None or spec.get("kind") not in ("in_set", "in_range"):
            raise SliceError(f"slice {name!r}: input {wanted!r} is not an in_set or in_range "
                             "model input")
        labels = tuple(str(x) for x in raw.get("labels", ("in", "out")))
        if len(labels) != 2 or labels[0] == labels[1]:
            raise SliceError(f"slice {name!r}: labels must be two different names")
        try:
            compute = ModelInputs.from_config({"inputs": [dict(spec)]}).computes[0][1]
        except (ModelInputsError, KeyError, TypeError, ValueError) as exc:
            raise SliceError(f"slice {name!r}: input {wanted!r}: {exc}") from exc
        return Slice(name, kind, field=str(spec["field"]), labels=(labels[0], labels[1]),
                     input=str(wanted), compute=compute)
    fld = raw.get("field")
    if not isinstance(fld, str):
        raise SliceError(f"slice {name!r} names no 'field'")
    on_field = [s for s in specs if s.get("field") == fld]
    if kind == "values":
        one_hot = next((s for s in on_field if s.get("kind") == "one_hot"), None)
        if one_hot is None:
            raise SliceError(f"slice {name!r}: no one_hot model input on {fld!r}, so "
                             "predictions do not carry its value")
        values = tuple(raw.get("values", one_hot["values"]))
        if not values or (unlogged := [v for v in values if v not in one_hot["values"]]):
            raise SliceError(f"slice {name!r}: values must be some of the one_hot input's "
                             f"{list(one_hot['values'])}" + (f" (not {unlogged})"
                                                             if values else ""))
        return Slice(name, kind, field=fld, values=values)
    try:
        bounds = tuple(float(b) for b in raw.get("bounds", ()))
    except (TypeError, ValueError) as exc:
        raise SliceError(f"slice {name!r}: bounds must be numbers") from exc
    if not bounds or any(b >= c for b, c in zip(bounds, bounds[1:], strict=False)):
        raise SliceError(f"slice {name!r}: bounds must be ascending numbers, at least one")
    reader = (next((s for s in on_field if s.get("kind") == "numeric"), None)
              or next((s for s in on_field if s.get("kind") == "log1p"), None))
    if reader is None:
        raise SliceError(f"slice {name!r}: no numeric or log1p model input on {fld!r}, so "
                         "predictions do not carry its value")
    return Slice(name, kind, field=fld, bounds=bounds, input=str(reader["name"]),
                 log1p=reader["kind"] == "log1p")


@dataclass(frozen=True)
class Slices:
    """A domain's declared slices, in declaration order."""

    slices: tuple[Slice, ...] = ()

    @classmethod
    def from_config(cls, section: Mapping[str, Any],
                    model_inputs: Mapping[str, Any]) -> Slices:
        """``section``: domain.toml's ``[slices]``; ``model_inputs``: its ``[model_inputs]``
        (the inputs every prediction logs, which the slices are read from)."""
        specs = list(model_inputs.get("inputs", []))
        parsed = []
        for name, raw in section.items():
            if not isinstance(raw, Mapping):
                raise SliceError(f"slice {name!r}: a table ([slices.{name}]) is expected")
            parsed.append(_parse(str(name), raw, specs))
        return cls(tuple(parsed))

    def __iter__(self) -> Iterator[Slice]:
        return iter(self.slices)

    def __len__(self) -> int:
        return len(self.slices)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.slices]

    def groups(self) -> dict[str, tuple[str, ...]]:
        """Every slice's possible labels, in reading order."""
        return {s.name: s.groups for s in self.slices}

    def of_event(self, event: Mapping[str, Any]) -> dict[str, str]:
        """One label per slice, from the event's fields."""
        return {s.name: s.of_event(event) for s in self.slices}

    def of_inputs(self, inputs: Mapping[str, float]) -> dict[str, str]:
        """One label per slice, from logged model inputs (a prediction's ``features``)."""
        return {s.name: s.of_inputs(inputs) for s in self.slices}
