"""The health endpoint over real HTTP on 127.0.0.1 with an ephemeral port."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from lifecycle_helpers import mail

from pixbridge.errors import TransientAdapterError
from pixbridge.observability.server import MetricsServer
from pixbridge.observability.settings import ObservabilitySettings, parse_listen
from pixbridge.testing.plugin import FakeClock


def get(server: MetricsServer, path: str) -> tuple[int, str]:
    url = f"http://127.0.0.1:{server.port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.fixture
def served(observed: Any) -> Iterator[Any]:
    h, m = observed(observability={"stall_after": 300})
    server = MetricsServer(m, "127.0.0.1:0").start()
    yield h, m, server
    server.stop()


def test_healthy_after_a_pass(served: Any) -> None:
    h, _, server = served
    h.deliver(mail())
    h.run()
    status, body = get(server, "/healthz")
    assert status == 200, body
    assert json.loads(body)["status"] == "ok"
    status, text = get(server, "/metrics")
    assert status == 200
    assert "pixbridge_messages_accepted_total 1.0" in text


def test_unhealthy_when_a_message_waits_past_stall_after(served: Any, clock: FakeClock) -> None:
    h, _, server = served
    h.run()
    h.deliver(mail())
    h.orchestrator.mailbox.accept()  # stored, but processing never comes
    clock.advance(seconds=301)
    status, body = get(server, "/healthz")
    assert status == 503
    reasons = json.loads(body)["reasons"]
    assert any("waited 301s to be processed" in r for r in reasons), reasons
    assert any("no pass completed for 301s" in r for r in reasons), reasons


def test_unhealthy_when_passes_stop(served: Any, clock: FakeClock) -> None:
    h, _, server = served
    h.run()
    clock.advance(seconds=299)
    assert get(server, "/healthz")[0] == 200
    clock.advance(seconds=2)
    status, body = get(server, "/healthz")
    assert status == 503
    assert json.loads(body)["reasons"] == ["no pass completed for 301s (limit 300s)"]


def test_unhealthy_when_the_mailbox_cannot_be_read(
    served: Any, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Passes complete and nothing waits, yet no mail comes in: the commonest stall (a server
    # down, an expired secret). The mailbox is retried every poll_interval (30 s), so the limit
    # is stall_after plus one interval.
    h, _, server = served
    h.run()
    working = h.app.source.pending

    def unreachable() -> Any:
        raise TransientAdapterError("connection refused (test)")

    monkeypatch.setattr(h.app.source, "pending", unreachable)
    for _ in range(11):
        clock.advance(seconds=30)
        assert h.run().errors == 1
    assert get(server, "/healthz")[0] == 200  # 330 s: at the limit, not past it
    clock.advance(seconds=1)
    h.run()
    status, body = get(server, "/healthz")
    assert status == 503
    assert json.loads(body)["reasons"] == ["no mail taken from the mailbox for 331s (limit 330s)"]
    monkeypatch.setattr(h.app.source, "pending", working)
    h.deliver(mail())
    assert h.run().accepted == 1
    assert get(server, "/healthz")[0] == 200


def test_unknown_path_is_404(served: Any) -> None:
    assert get(served[2], "/")[0] == 404


@pytest.mark.parametrize("bad", ["9464", "localhost:", ":9464", "host:port", "h:70000"])
def test_listen_must_be_address_and_port(bad: str) -> None:
    with pytest.raises(ValueError, match="expected ADDRESS:PORT"):
        parse_listen(bad)
    with pytest.raises(ValueError, match="expected ADDRESS:PORT"):
        ObservabilitySettings(listen=bad)


def test_listen_accepts_ipv6() -> None:
    assert parse_listen("[::1]:9464") == ("::1", 9464)
