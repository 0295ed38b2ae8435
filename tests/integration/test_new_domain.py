"""Adding a domain is configuration: a throwaway domain written into a temporary folder
(``DRIFTLOOP_DOMAINS_DIR``), with its own schema, features and feature service, passes
``driftloop domain check`` and runs through ingest -> features -> scorer as separate processes
with no code change; a broken copy is refused with a line naming each problem."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from driftloop.contracts import AvroCodec, Domain, Topics, load_schemas
from driftloop.contracts.domain import BUILT_IN_DOMAINS_DIR
from driftloop.contracts.domain_check import check_domain
from driftloop.contracts.schema_registry import LocalSchemaRegistry
from driftloop.demo.supervisor import Supervisor, SupervisorConfig
from driftloop.featurestore import FeatureClient, FeatureStoreSettings
from driftloop.messaging.consumer_lag import wait_until_drained
from driftloop.simulation import HttpEventSink, PacedStream, stream_for
from tests.conftest import free_port
from tests.integration.kafka_helpers import drain

pytestmark = pytest.mark.timeout(600)
EVENTS = 800
RATE = 100.0  # 8 s of stream: applicants file again 2-12 s after their first application


def write_toy_domain(root: Path) -> Path:
    """domains/toy: the loans folder with every name changed (schema, entity, views, service,
    model), as a user starting from a copy would."""
    folder = root / "toy"
    shutil.copytree(BUILT_IN_DOMAINS_DIR / "loans", folder)
    (folder / "loan_application.avsc").rename(folder / "application.avsc")
    renames = {"driftloop.loans": "toy.lending", "LoanApplication": "Application",
               "loans_v1": "toy_v1", 'model_name = "credit"': 'model_name = "toy_credit"',
               "applicant_activity": "toy_activity", "applicant_outcomes": "toy_outcomes",
               "[entities.applicant]": "[entities.toy_applicant]",
               'entity = "applicant"': 'entity = "toy_applicant"'}
    for path in folder.iterdir():
        text = path.read_text()
        for old, new in renames.items():
            text = text.replace(old, new)
        path.write_text(text)
    (root / "index.toml").write_text('default = "toy"\n')
    return folder


@pytest.fixture
def domains(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "domains"
    root.mkdir()
    write_toy_domain(root)
    monkeypatch.setenv("DRIFTLOOP_DOMAINS_DIR", str(root))
    monkeypatch.delenv("DRIFTLOOP_DOMAIN", raising=False)
    return root


def test_domain_check_passes_the_copy_and_names_each_problem_of_a_broken_one(
        domains: Path) -> None:
    assert check_domain("toy").problems == []
    broken = domains / "broken"
    shutil.copytree(domains / "toy", broken)
    toml = (broken / "domain.toml").read_text()
    (broken / "domain.toml").write_text(
        toml.replace('entity_field = "applicant_id"', 'entity_field = "person_id"')
        .replace('feature_service = "toy_v1"', 'feature_service = "toy_v9"')
        .replace('field = "salary"', 'field = "wage"'))
    (broken / "features.toml").unlink()
    problems = check_domain("broken").problems
    assert any("entity_field 'person_id' is not a field" in p for p in problems), problems
    assert any("no features.toml" in p for p in problems), problems
    assert any("reads 'wage', not a field of the event" in p for p in problems), problems
    proc = subprocess.run([sys.executable, "-c", "from driftloop.cli.main import app; app()",
                           "domain", "check", "broken"], capture_output=True, text=True)
    assert proc.returncode == 1 and proc.stdout.count("FAIL") == len(problems)


async def test_ingest_features_scorer_run_a_new_domain_with_no_code_change(
        domains: Path, kafka_bootstrap: str, redis_url: str, tmp_path: Path) -> None:
    domain = Domain.load()
    assert domain.name == "toy" and domain.event_schema == "toy.lending.Application"
    prefix = f"toy{time.time_ns() % 10**9}."
    ports = {s: free_port() for s in ("ingest", "features", "scorer")}
    supervisor = Supervisor(SupervisorConfig(
        tmp_path / "run", bootstrap=kafka_bootstrap, topic_prefix=prefix, ports=ports,
        services=["ingest", "features", "scorer"], domain="toy",
        extra_env={"DRIFTLOOP_REDIS_URL": redis_url}))
    try:
        await asyncio.to_thread(supervisor.start)
        stream = stream_for(domain, seed=5, rate=RATE, start_ms=int(time.time() * 1000))
        sink = HttpEventSink(f"http://127.0.0.1:{ports['ingest']}/events")
        repeats: set[str] = set()
        paced = PacedStream(stream, sink, duration_s=EVENTS / RATE, observers=[
            lambda batch, _: repeats.update(e.entity_id for e in batch
                                            if e.pattern == "repeat")])
        await paced.run(asyncio.Event())
        await sink.close()
        schemas = load_schemas()
        codec = AvroCodec(schemas, LocalSchemaRegistry(schemas))
        topics = Topics(prefix=prefix, event_schema=domain.event_schema)
        records = await drain(kafka_bootstrap, topics.predictions, EVENTS, timeout_s=120)
        predictions = {p["event_id"]: p for p in (codec.decode(r.value) for r in records)}
        assert len(predictions) == EVENTS
        assert {p["model_name"] for p in predictions.values()} == {"toy_credit"}
        assert {p["model_version"] for p in predictions.values()} == {"baseline-rules-1"}
        assert all(p["entity_id"].startswith("a5-") for p in predictions.values())
        # the features service keeps the new domain's windows: once its groups have consumed
        # everything (a condition, not a pause), an applicant who filed again has every
        # application counted online
        await wait_until_drained(kafka_bootstrap, supervisor.consumer_inputs(topics),
                                 timeout_s=120)
        # a generous deadline: this test is about the values, not how fast a busy box is
        client = FeatureClient.from_settings(FeatureStoreSettings(
            redis_url=redis_url, feature_deadline_ms=1000.0))
        try:
            lookup = await client.lookup(sorted(repeats))
            counts = [row["applications_count_10m"] for row in lookup.values]
        finally:
            await client.close()
        assert repeats and not lookup.degraded and min(counts) >= 2.0
    finally:
        await asyncio.to_thread(supervisor.stop)
