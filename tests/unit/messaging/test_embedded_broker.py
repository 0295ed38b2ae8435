"""The embedded broker's pure parts: where it listens."""

from __future__ import annotations

import pytest

from driftloop.messaging.embedded_broker import listen_address


@pytest.mark.parametrize(("bootstrap", "address"), [
    ("127.0.0.1:9092", ("127.0.0.1", 9092)),
    ("localhost:19092,other:9092", ("localhost", 19092)),
    (" [::1]:9093 ", ("::1", 9093)),
])
def test_listen_address_is_the_first_bootstrap_server(bootstrap: str,
                                                      address: tuple[str, int]) -> None:
    assert listen_address(bootstrap) == address


@pytest.mark.parametrize("bootstrap", ["localhost", ":9092", "host:port"])
def test_listen_address_refuses_what_is_not_host_port(bootstrap: str) -> None:
    with pytest.raises(ValueError, match="not host:port"):
        listen_address(bootstrap)
