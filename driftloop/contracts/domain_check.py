"""``driftloop domain check NAME``: a domain folder read the way every service will read it,
with one clear line per problem, before any service runs on it.

Checked: domain.toml's keys; the event schema (in the folder, parseable, naming the entity, id
and time fields); features.toml (parseable, its names not clashing with another domain's, the
feature service declared, its views' entities named by the event); the model inputs (each
reads a schema field, the rule weighs declared inputs); the slices (each read from a declared
input on a schema field); the objective; the stream generator
(importable, seeded, its events valid under the schema and keyed by their entity)."""

from __future__ import annotations

import importlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from driftloop.contracts.domain import Domain, DomainError, domains_dir
from driftloop.contracts.model_inputs import ModelInputs, ModelInputsError
from driftloop.contracts.schemas import Schema, parse_schema
from driftloop.contracts.slices import SliceError, Slices
from driftloop.contracts.validation import RecordValidator, ValidationError

#: Events the generator is asked for (seeded): enough to meet every branch a stream has early.
SAMPLE_EVENTS = 500


@dataclass
class CheckReport:
    domain: str
    problems: list[str] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_domain(name: str, directory: Path | None = None) -> CheckReport:
    report = CheckReport(name)
    root = directory or domains_dir()
    try:
        domain = Domain.load(name, root)
    except (DomainError, ValueError) as exc:  # tomllib errors are ValueErrors
        report.problems.append(f"domain.toml: {exc}")
        return report
    report.passed.append("domain.toml declares the event schema, its fields and the model")
    schema = _check_schema(domain, report)
    fields = set(schema.field_names()) if schema else set()
    _check_features(domain, fields, report)
    _check_inputs(domain, fields, report)
    _check_slices(domain, fields, report)
    _check_objective(domain, report)
    if schema is not None:
        _check_stream(domain, schema, report)
    return report


def _check_schema(domain: Domain, report: CheckReport) -> Schema | None:
    files = domain.schema_files()
    if not files:
        report.problems.append(f"no *.avsc in {domain.directory}: the event schema "
                               f"{domain.event_schema} belongs in the domain's folder")
        return None
    found = None
    for path in files:
        try:
            schema = parse_schema(json.loads(path.read_text()))
        except Exception as exc:  # noqa: BLE001 - any parse failure is the user's to see
            report.problems.append(f"{path.name}: not a valid Avro schema: {exc}")
            continue
        if schema.name == domain.event_schema:
            found = schema
    if found is None:
        report.problems.append(f"event_schema {domain.event_schema!r}: no schema of that full "
                               f"name (namespace.name) in {domain.directory}")
        return None
    names = set(found.field_names())
    for key in ("entity_field", "event_id_field", "event_time_field"):
        value = getattr(domain, key)
        if value not in names:
            report.problems.append(f"{key} {value!r} is not a field of {found.name}")
    undocumented = [f["name"] for f in found.raw["fields"] if not f.get("doc")]
    if not found.raw.get("doc") or undocumented:
        report.problems.append(f"{found.name}: document the schema and every field "
                               f"(undocumented: {undocumented or 'the schema'})")
    if not report.problems:
        report.passed.append(f"{found.name} parses and names the entity, id and time fields")
    return found


def _check_features(domain: Domain, fields: set[str], report: CheckReport) -> None:
    from driftloop.featurestore.declarations import DeclarationError, FeatureDeclarations

    if not domain.features_file.exists():
        report.problems.append(f"no {domain.features_file.name} in {domain.directory}: "
                               "declare the domain's entities, views and feature service")
        return
    try:
        declarations = FeatureDeclarations.load(domains=domain.directory.parent)
    except (DeclarationError, ValueError, KeyError) as exc:
        report.problems.append(f"features: {exc}")
        return
    if not domain.feature_service:
        report.problems.append("domain.toml declares no feature_service (the features its "
                               "models read online)")
        return
    try:
        service = declarations.service(domain.feature_service)
    except DeclarationError as exc:
        report.problems.append(f"feature_service: {exc}")
        return
    for view in service.views:
        if fields and view.entity.event_field not in fields:
            report.problems.append(f"view {view.name!r}: entity {view.entity.name!r} is named "
                                   f"by field {view.entity.event_field!r}, which the event "
                                   "does not have")
    if domain.entity_field not in {v.entity.event_field for v in service.views}:
        report.problems.append(f"feature service {service.name!r} has no view of the key "
                               f"entity ({domain.entity_field}): the features service's first "
                               "stage needs one")
    report.passed.append(f"feature service {service.name}: {len(service.features)} features "
                         f"in {len(service.views)} views")


def _check_inputs(domain: Domain, fields: set[str], report: CheckReport) -> None:
    try:
        inputs = ModelInputs.from_config(domain.model_inputs)
    except (ModelInputsError, KeyError, TypeError, ValueError) as exc:
        report.problems.append(f"model_inputs: {exc}")
        return
    if not inputs.names:
        report.problems.append("model_inputs declares no inputs")
    for spec in domain.model_inputs.get("inputs", []):
        if fields and spec.get("field") not in fields:
            report.problems.append(f"model input {spec.get('name', spec.get('field'))!r} "
                                   f"reads {spec.get('field')!r}, not a field of the event")
    weights = inputs.baseline.get("weights", {})
    if not inputs.baseline:
        report.problems.append("model_inputs.baseline: declare the rule served before any "
                               "model (version, threshold, intercept, weights)")
    elif unknown := sorted(set(weights) - set(inputs.names)):
        report.problems.append(f"model_inputs.baseline weighs undeclared inputs {unknown}")
    else:
        report.passed.append(f"{len(inputs.names)} model inputs; the rule weighs "
                             f"{len(weights)} of them")


def _check_slices(domain: Domain, fields: set[str], report: CheckReport) -> None:
    try:
        slices = Slices.from_config(domain.slices, domain.model_inputs)
    except SliceError as exc:
        report.problems.append(f"slices: {exc}")
        return
    unread = [s.name for s in slices if fields and s.field not in fields]
    if unread:
        report.problems.append(f"slices {unread} read fields the event does not have")
    elif slices.names:
        report.passed.append(f"{len(slices)} slices ({', '.join(slices.names)}), each read "
                             "from a model input")


def _check_objective(domain: Domain, report: CheckReport) -> None:
    # the trainer owns the objective's shapes; loaded by name, as `driftloop run` loads one
    objective = importlib.import_module("services.trainer.objective")
    try:
        parsed = objective.Objective.parse(domain.objective)
    except ValueError as exc:
        report.problems.append(f"objective: {exc}")
        return
    report.passed.append(f"objective {parsed}")


def _check_stream(domain: Domain, schema: Schema, report: CheckReport) -> None:
    from driftloop.simulation.streams import stream_for

    try:
        now_ms = int(time.time() * 1000)
        events = stream_for(domain, seed=1, rate=100.0, start_ms=now_ms).take(SAMPLE_EVENTS)
        again = stream_for(domain, seed=1, rate=100.0, start_ms=now_ms).take(SAMPLE_EVENTS)
    except Exception as exc:  # noqa: BLE001 - a generator's failure is the user's to see
        report.problems.append(f"[stream] generator: {exc}")
        return
    if [e.event for e in events] != [e.event for e in again]:
        report.problems.append("[stream] generator is not seeded: the same seed gave two "
                               "different streams")
    validator = RecordValidator(schema)
    for e in events:
        try:
            validator.validate(dict(e.event), now_ms)
        except ValidationError as exc:
            report.problems.append(f"[stream] event {e.index} is refused by the schema: {exc}")
            return
        if str(e.event.get(domain.entity_field)) != e.entity_id:
            report.problems.append(f"[stream] event {e.index}: entity_id {e.entity_id!r} is "
                                   f"not its {domain.entity_field}")
            return
    positives = sum(e.positive for e in events) / len(events)
    if positives in (0.0, 1.0):
        report.problems.append(f"[stream] the first {len(events)} events are all of one class")
    report.passed.append(f"stream: {len(events)} seeded events valid, {positives:.0%} positive")


def describe(report: CheckReport) -> str:
    lines = [f"domain {report.domain}: " + ("ok" if report.ok else
                                           f"{len(report.problems)} problem(s)")]
    lines += [f"  ok    {line}" for line in report.passed]
    lines += [f"  FAIL  {line}" for line in report.problems]
    return "\n".join(lines)


def as_dict(report: CheckReport) -> dict[str, Any]:
    return {"domain": report.domain, "ok": report.ok, "passed": report.passed,
            "problems": report.problems}
