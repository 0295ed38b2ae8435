"""Messaging: Kafka I/O shared by every service. Client factories with sane defaults, batched
publishing that waits for acknowledgements, the consume -> process -> publish -> commit loop
(at-least-once), dead-lettering, de-duplication by id, topic creation, and the embedded
Kafka-compatible broker for laptops and tests."""

from __future__ import annotations

from driftloop.messaging.admin import ensure_topics, wait_for_broker
from driftloop.messaging.backoff import Backoff
from driftloop.messaging.batch_loop import BatchLoop, Handler
from driftloop.messaging.clients import KafkaClients
from driftloop.messaging.deadletter import DeadLetterer
from driftloop.messaging.dedup import SeenIds
from driftloop.messaging.publisher import Outbound, Publisher, PublishError

__all__ = [
    "Backoff",
    "BatchLoop",
    "DeadLetterer",
    "Handler",
    "KafkaClients",
    "Outbound",
    "PublishError",
    "Publisher",
    "SeenIds",
    "ensure_topics",
    "wait_for_broker",
]
