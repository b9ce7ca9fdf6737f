"""The webhook receiver over HTTP: what it accepts, what it refuses and with which status."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from pixbridge_jira.settings import WebhookSettings
from pixbridge_jira.webhook import SERVER_NAME, WebhookEvent, WebhookReceiver, signature

SECRET = "whsec-7f3a9c"


def event(key: str = "SUP-7", project: str = "SUP", name: str = "comment_created") -> bytes:
    return json.dumps({
        "timestamp": 1767225600000, "webhookEvent": name,
        "comment": {"id": "10400", "body": "Please send the log.",
                    "author": {"accountId": "5b10ac8d82e05b22cc7d4ef5"}},
        "issue": {"id": "10100", "key": key, "fields": {"project": {"key": project}}},
    }).encode()  # fmt: skip


@pytest.fixture
def got() -> list[WebhookEvent]:
    return []


@pytest.fixture
def make_receiver(got: list[WebhookEvent]) -> Iterator[Any]:
    made: list[WebhookReceiver] = []

    def factory(**overrides: Any) -> WebhookReceiver:
        values: dict[str, Any] = {"listen": "127.0.0.1:0", "secret": SECRET, **overrides}
        receiver = WebhookReceiver(WebhookSettings(**values), got.append)
        receiver.start()
        made.append(receiver)
        return receiver

    yield factory
    for receiver in made:
        receiver.stop()


@pytest.fixture
def receiver(make_receiver: Any) -> WebhookReceiver:
    made: WebhookReceiver = make_receiver()
    return made


def post(url: str, body: bytes, **headers: str) -> requests.Response:
    return requests.post(url, data=body, headers=headers, timeout=5)


def test_a_signed_event_is_accepted_and_names_its_issue(
    receiver: WebhookReceiver, got: list[WebhookEvent]
) -> None:
    body = event()
    answer = post(receiver.url, body, **{"X-Hub-Signature": signature(SECRET, body)})
    assert answer.status_code == 204
    assert got == [WebhookEvent("comment_created", "SUP-7", "SUP", "5b10ac8d82e05b22cc7d4ef5")]


def test_the_secret_in_the_url_is_accepted_unless_switched_off(
    make_receiver: Any, got: list[WebhookEvent]
) -> None:
    allowing, strict = make_receiver(), make_receiver(url_secret=False)
    assert post(f"{allowing.url}?secret={SECRET}", event()).status_code == 204
    assert post(f"{strict.url}?secret={SECRET}", event()).status_code == 401
    assert [e.issue for e in got] == ["SUP-7"]


@pytest.mark.parametrize(
    ("headers", "query", "status"),
    [
        ({}, "", 401),
        ({"X-Hub-Signature": "sha256=" + "0" * 64}, "", 403),
        ({"X-Hub-Signature": signature("another-secret", event())}, "", 403),
        ({"X-Hub-Signature": "sha1=" + signature(SECRET, event())[7:]}, "", 403),
        ({}, "?secret=whsec-guess", 403),
        # A wrong signature is not rescued by a right URL secret.
        ({"X-Hub-Signature": "sha256=" + "0" * 64}, f"?secret={SECRET}", 403),
    ],
    ids=["unsigned", "zeros", "other-secret", "sha1", "wrong-url-secret", "bad-sig-good-url"],
)
def test_events_without_the_secret_are_refused(
    receiver: WebhookReceiver,
    got: list[WebhookEvent],
    headers: dict[str, str],
    query: str,
    status: int,
) -> None:
    assert post(receiver.url + query, event(), **headers).status_code == status
    assert got == []


def test_a_signature_covers_the_exact_body(
    receiver: WebhookReceiver, got: list[WebhookEvent]
) -> None:
    signed = signature(SECRET, event("SUP-7"))
    assert post(receiver.url, event("SUP-8"), **{"X-Hub-Signature": signed}).status_code == 403
    assert got == []


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", b'{"issue": {"key": "SUP-7"}}', b'{"webhookEvent": 7}'],
    ids=["text", "array", "no-event", "event-not-a-string"],
)
def test_a_signed_body_that_is_no_event_is_refused(
    receiver: WebhookReceiver, got: list[WebhookEvent], body: bytes
) -> None:
    answer = post(receiver.url, body, **{"X-Hub-Signature": signature(SECRET, body)})
    assert answer.status_code == 400
    assert got == []


def raw_exchange(receiver: WebhookReceiver, head: str) -> str:
    """Send a bare request head and return the status line of the answer."""
    host, port = receiver.address
    with socket.create_connection((host, port), timeout=5) as conn:
        conn.sendall(head.encode())
        return conn.makefile("rb").readline().decode().strip()


def test_an_oversize_body_is_refused_before_it_is_read(
    make_receiver: Any, got: list[WebhookEvent]
) -> None:
    receiver = make_receiver(max_body=1000)
    # Only the head is sent: the answer must come without the body being read.
    head = (f"POST {receiver.settings.path} HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n"
            f"X-Hub-Signature: sha256={'0' * 64}\r\n\r\n")  # fmt: skip
    assert raw_exchange(receiver, head) == "HTTP/1.0 413 Request Entity Too Large"
    body = event().ljust(1000)
    assert post(receiver.url, body, **{"X-Hub-Signature": signature(SECRET, body)}).ok
    assert len(got) == 1


@pytest.mark.parametrize(
    "framing",
    ["Transfer-Encoding: chunked", "Content-Length: 5\r\nTransfer-Encoding: chunked"],
    ids=["chunked", "chunked-with-a-length"],  # the second: how requests are smuggled
)
def test_a_request_without_a_plain_length_is_refused(
    receiver: WebhookReceiver, got: list[WebhookEvent], framing: str
) -> None:
    head = f"POST {receiver.settings.path} HTTP/1.1\r\nHost: x\r\n{framing}\r\n\r\n"
    assert raw_exchange(receiver, head) == "HTTP/1.0 411 Length Required"
    assert got == []


def test_other_paths_and_methods(receiver: WebhookReceiver, got: list[WebhookEvent]) -> None:
    body = event()
    signed = {"X-Hub-Signature": signature(SECRET, body)}
    other = receiver.url.replace(receiver.settings.path, "/jira/webhook2")
    assert post(other, body, **signed).status_code == 404
    answer = requests.get(receiver.url, timeout=5)
    assert (answer.status_code, answer.headers["Allow"]) == (405, "POST")
    assert answer.headers["Server"].startswith(SERVER_NAME)
    assert got == []


def test_the_issue_is_found_where_jira_versions_put_it() -> None:
    from pixbridge_jira.webhook import parse_event

    by_comment_url = {
        "webhookEvent": "comment_created",
        "comment": {"self": "https://jira.example/rest/api/2/issue/10123/comment/10400"},
    }
    assert parse_event(by_comment_url) == WebhookEvent("comment_created", "10123", "", "")
    # Anything that is not a plain key or id is dropped, so it can never reach JQL or a URL.
    hostile = {"webhookEvent": "jira:issue_updated", "issue": {"key": 'SUP-1" OR key != "X'}}
    assert parse_event(hostile) == WebhookEvent("jira:issue_updated", "", "", "")
    updated = {
        "webhookEvent": "jira:issue_updated",
        "user": {"name": "agent.smith"},
        "issue": {"key": "SUP-3", "fields": {"project": {"key": "SUP"}}},
    }
    assert parse_event(updated) == WebhookEvent("jira:issue_updated", "SUP-3", "SUP", "agent.smith")


def test_the_port_is_released_on_stop(make_receiver: Any) -> None:
    first: WebhookReceiver = make_receiver()
    host, port = first.address
    first.stop()
    again = make_receiver(listen=f"{host}:{port}")
    assert again.address == (host, port)
