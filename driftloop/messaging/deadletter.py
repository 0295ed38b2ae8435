"""Dead-lettering: an input that cannot be processed is kept byte for byte on
events.deadletter with its reason, as an Avro ``DeadLetter`` value and, for tools that only
read headers, as ``driftloop.error.*`` headers (Kafka Connect's convention)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from driftloop.contracts import AvroCodec
from driftloop.messaging.publisher import Outbound

DEAD_LETTER_SCHEMA = "driftloop.ops.DeadLetter"


@dataclass(frozen=True)
class DeadLetterer:
    codec: AvroCodec
    topic: str
    service: str
    max_original_bytes: int = 1 << 20

    def record(
        self,
        original: bytes,
        error_class: str,
        reason: str,
        *,
        source: str,
        field: str | None = None,
        partition: int | None = None,
        offset: int | None = None,
        key: bytes | None = None,
    ) -> Outbound:
        truncated = len(original) > self.max_original_bytes
        reason = reason[:1000]
        value = self.codec.encode(
            DEAD_LETTER_SCHEMA,
            {
                "original": original[: self.max_original_bytes],
                "original_truncated": truncated,
                "error_class": error_class,
                "reason": reason,
                "field": field,
                "source": source,
                "source_partition": partition,
                "source_offset": offset,
                "service": self.service,
                "failed_at": int(time.time() * 1000),
            },
        )
        headers = [
            ("driftloop.error.class", error_class.encode()),
            ("driftloop.error.message", reason.encode()),
            ("driftloop.error.service", self.service.encode()),
            ("driftloop.error.topic", source.encode()),
        ]
        if partition is not None:
            headers.append(("driftloop.error.partition", str(partition).encode()))
        if offset is not None:
            headers.append(("driftloop.error.offset", str(offset).encode()))
        if field is not None:
            headers.append(("driftloop.error.field", field.encode()))
        return Outbound(self.topic, value, key, headers)
