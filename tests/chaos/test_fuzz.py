"""Seeded fuzz of ingest over both entry points, with exact accounting to the payload.

Half the payloads go over HTTP (JSON arrays of 1-3 payloads per request, or an empty body),
half onto events.raw (one JSON or Avro message each). Afterwards, for every payload exactly
one of: its event is on events.valid (once), there is a dead letter for it (events.raw: the
dead letter's source partition and offset are the payload's; HTTP: the reply's result for it
says rejected, and the dead letters' originals match), or HTTP refused its request with a
4xx. valid + dead-lettered + refused = sent. Each payload kind has its verdict (see
``fuzz_payloads``): a body that is not JSON is refused whole (400), trailing bytes after a
complete Avro record are dead-lettered, an empty HTTP body is a 4xx. Ingest never answers
5xx and never restarts; every dead letter carries its reason in headers."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import httpx
import orjson
import pytest
from aiokafka import ConsumerRecord, TopicPartition

from driftloop.messaging import KafkaClients
from driftloop.messaging.consumer_lag import end_offsets
from tests.chaos.figures import print_figures
from tests.chaos.fuzz_payloads import (
    DEAD,
    EITHER,
    VALID,
    Payload,
    body_bytes,
    http_bodies,
    payloads,
)
from tests.chaos.sizes import ChaosSizes
from tests.chaos.stack import ChaosStack, read_to_end

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(900)]

REFUSED = "refused"
DAY_MS = 86_400_000
#: A 200 for a body that is not JSON (its bytes dead-lettered whole): never a right verdict.
WHOLE_BODY = "200 for a body that is no JSON"


async def _since(stack: ChaosStack, topic: str, starts: dict[TopicPartition, int]
                 ) -> list[ConsumerRecord]:
    """The records of ``topic`` written since ``starts`` (its end offsets before the test sent
    anything): the package's other tests share the topics."""
    return [r for r in await read_to_end(stack.bootstrap, topic)
            if r.offset >= starts.get(TopicPartition(r.topic, r.partition), 0)]


async def _produce_raw(stack: ChaosStack, items: list[Payload]) -> dict[tuple[int, int], Payload]:
    """Each payload on events.raw; returns (partition, offset) -> payload."""
    producer = KafkaClients(stack.bootstrap, client_id="chaos-fuzz").producer()
    await producer.start()
    try:
        futures = [(p, await producer.send(stack.topics.raw, p.body,
                                           key=p.event_id.encode())) for p in items]
        return {((meta := await f).partition, meta.offset): p for p, f in futures}
    finally:
        await producer.stop()


def _post_all(stack: ChaosStack, requests: list[list[Payload]]
              ) -> tuple[dict[str, str], Counter[bytes], Counter[int]]:
    """POST each request; returns each payload's outcome as the reply tells it, the dead
    letters' originals the replies promise, and the status codes."""
    outcome: dict[str, str] = {}
    promised: Counter[bytes] = Counter()
    statuses: Counter[int] = Counter()
    with httpx.Client(timeout=30) as client:
        for request in requests:
            reply = client.post(stack.url("ingest", "/events"), content=body_bytes(request),
                                headers={"content-type": "application/json"})
            statuses[reply.status_code] += 1
            if 400 <= reply.status_code < 500:
                outcome.update((p.event_id, REFUSED) for p in request)
                continue
            assert reply.status_code == 200, (reply.status_code, reply.text[:300])
            results = reply.json()["results"]
            try:
                items = orjson.loads(body_bytes(request))
            except orjson.JSONDecodeError:
                # taken although it is no JSON array: whatever the reply says, wrong
                outcome.update((p.event_id, WHOLE_BODY) for p in request)
                promised.update(body_bytes(request) for r in results if not r["accepted"])
                continue
            assert len(results) == len(request), (body_bytes(request)[:300], results)
            for payload, item, result in zip(request, items, results, strict=True):
                if result["accepted"]:
                    outcome[payload.event_id] = VALID
                    continue
                outcome[payload.event_id] = DEAD
                promised[orjson.dumps(item)] += 1
                named = item.get("event_id") if isinstance(item, dict) else None
                assert result["event_id"] == (named if isinstance(named, str) else None)
                assert result["error"] and result["reason"]
    return outcome, promised, statuses


def _required(payload: Payload, body: bytes | None) -> set[str]:
    """The outcomes that are right for ``payload`` (``body``: its HTTP request's body)."""
    if body is not None:
        try:
            orjson.loads(body)
        except orjson.JSONDecodeError:
            return {REFUSED}  # a body that is no JSON is refused whole: 400
    return {VALID: {VALID}, DEAD: {DEAD}, EITHER: {VALID, DEAD}}[payload.expect]


async def test_every_fuzzed_payload_is_accounted_for(stack: ChaosStack,
                                                     sizes: ChaosSizes) -> None:
    seed = sizes.seed * 100 + 5
    # The start of the UTC day, not now: the payloads (bit flips in event times included) are
    # the same bytes in every run of a day, and their times within ingest's window (a year).
    start_ms = int(time.time() * 1000) // DAY_MS * DAY_MS
    ingest_pid = stack.pid("ingest")
    http_items = payloads(seed, sizes.fuzz // 2, start_ms, stack.codec,
                          stack.topics.event_schema, "http")
    raw_items = payloads(seed, sizes.fuzz - sizes.fuzz // 2, start_ms, stack.codec,
                         stack.topics.event_schema, "raw")
    requests = http_bodies(http_items, seed)
    started = time.monotonic()
    starts = await end_offsets(stack.bootstrap, [stack.topics.valid, stack.topics.deadletter])
    http_outcome, promised, statuses = await asyncio.to_thread(_post_all, stack, requests)
    at_offset = await _produce_raw(stack, raw_items)
    drain_s = await stack.drained(timeout_s=120)  # every group at the end of its inputs

    valid = Counter(e["event_id"] for e in stack.decode(
        await _since(stack, stack.topics.valid, starts), stack.topics.event_schema)
        if e["event_id"].startswith(f"z{seed}"))
    dead_records = await _since(stack, stack.topics.deadletter, starts)
    every_letter = stack.decode(dead_records, "driftloop.ops.DeadLetter")
    letters = [d for d in every_letter if d["service"] == "ingest"]
    others = Counter((d["service"], d["error_class"]) for d in every_letter
                     if d["service"] != "ingest")
    raw_dead = Counter((d["source_partition"], d["source_offset"]) for d in letters
                       if d["source"] == stack.topics.raw)
    http_dead = Counter(d["original"] for d in letters if d["source"] == "http")
    assert set(raw_dead) <= set(at_offset)  # no dead letter for what was not sent
    assert {d["source"] for d in letters} <= {"http", stack.topics.raw}

    raw_outcome = {}
    for (partition, offset), payload in at_offset.items():
        dead, on_valid = raw_dead[partition, offset], valid[payload.event_id]
        assert (dead, on_valid) in ((1, 0), (0, 1)), (payload.kind, payload.body[:200],
                                                      dead, on_valid)
        raw_outcome[payload.event_id] = DEAD if dead else VALID
    raw_originals = {(d["source_partition"], d["source_offset"]): d["original"]
                     for d in letters if d["source"] == stack.topics.raw}
    # byte for byte: the dead letter keeps what was on events.raw at that offset
    assert {k: at_offset[k].body for k in raw_originals} == raw_originals
    for payload in http_items:  # what the reply said is what is on the topics
        if http_outcome[payload.event_id] == VALID:
            assert valid[payload.event_id] == 1, (payload.kind, payload.body[:200])
        else:
            assert valid[payload.event_id] == 0, (payload.kind, payload.body[:200])
    assert http_dead == promised  # HTTP dead letters: exactly the rejected items, byte for byte

    body_of = {p.event_id: body_bytes(r) for r in requests for p in r}
    wrong = [(channel, p.kind, outcome[p.event_id], p.body[:120])
             for channel, items, outcome in (("http", http_items, http_outcome),
                                             ("raw", raw_items, raw_outcome))
             for p in items
             if outcome[p.event_id] not in _required(p, body_of.get(p.event_id))]
    by_outcome = Counter(list(http_outcome.values()) + list(raw_outcome.values()))
    # every dead letter's reason in its headers too, the same as in its value
    headerless = [r.offset for r, d in zip(dead_records, every_letter, strict=True)
                  if not d["error_class"] or not d["reason"]
                  or dict(r.headers).get("driftloop.error.class") != d["error_class"].encode()
                  or dict(r.headers).get("driftloop.error.message") != d["reason"].encode()]
    print_figures("fuzz", {
        "payloads sent": len(http_items) + len(raw_items),
        "over HTTP / on events.raw": f"{len(http_items)} / {len(raw_items)}",
        "HTTP requests": len(requests), "HTTP statuses": dict(statuses),
        "valid": by_outcome[VALID], "dead-lettered": by_outcome[DEAD],
        "refused (4xx)": by_outcome[REFUSED],
        "taken whole (200, no JSON)": by_outcome[WHOLE_BODY],
        "accounted": sum(by_outcome.values()),
        "raw duplicates on events.valid": sum(valid.values()) - len(valid),
        "dead letters without reason headers": len(headerless),
        "dead letters from other services": dict(others),
        "wrong verdicts": dict(Counter((c, k, o) for c, k, o, _ in wrong)),
        "ingest restarts": int(stack.pid("ingest") != ingest_pid),
        "drain s": f"{drain_s:.1f}", "run s": f"{time.monotonic() - started:.1f}"})
    assert sum(by_outcome.values()) == len(http_items) + len(raw_items)  # each one, once
    assert sum(valid.values()) == by_outcome[VALID]  # each accepted payload exactly once
    assert not [s for s in statuses if s >= 500]
    assert headerless == []
    assert others == Counter()  # an event ingest took is one the loop can process
    assert stack.pid("ingest") == ingest_pid and stack.process("ingest").alive
    assert wrong == [], wrong[:10]
    assert {p.kind for p in http_items + raw_items if p.expect == EITHER}  # flips were fuzzed
