"""driftloop: what the five services share, one subpackage per capability: ``contracts``
(schemas, codecs, topics, domains), ``messaging`` (Kafka I/O), ``runtime`` (the service
runner), ``telemetry``, ``featurestore``, ``registry``, and the tools that are not services
(``simulation``, ``demo``, ``cli``). The services themselves live in the ``services`` package;
driftloop never imports one (the CLI loads a service by name)."""

from __future__ import annotations

__all__: list[str] = []
