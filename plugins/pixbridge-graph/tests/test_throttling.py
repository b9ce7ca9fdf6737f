"""Throttling: Retry-After honoured for every request to the mailbox, 5xx backed off, at most
four requests in flight per mailbox."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from pixbridge_graph import GraphSender, GraphSource
from pixbridge_graph.testing import FakeGraph

from pixbridge.errors import TransientAdapterError
from pixbridge.testing.contracts.mail import sample_message


def test_retry_after_is_honoured_before_the_next_request(
    fake: FakeGraph, source: GraphSource
) -> None:
    fake.mailbox.deliver(sample_message())
    fake.fail(429, retry_after=1, match="/messages/delta")
    assert len(list(source.pending())) == 1
    calls = fake.graph_requests()
    throttled = next(n for n, r in enumerate(calls) if r.status == 429)
    following = calls[throttled + 1]
    assert following.started - calls[throttled].finished >= 1.0


def test_retry_after_holds_the_other_adapter_of_the_mailbox_too(
    fake: FakeGraph, source: GraphSource, make_sender: Callable[..., GraphSender]
) -> None:
    """Graph throttles per app and mailbox: the sender waits out the source's 429."""
    sender = make_sender()
    sender.check()  # signed in before the throttling starts
    fake.fail(429, retry_after=1, match="/messages/delta")
    with ThreadPoolExecutor(2) as pool:
        pending = pool.submit(lambda: list(source.pending()))
        # Until the source has read the 429 and set the mailbox's hold, a request already
        # under way could start; the claim is about requests started after the answer.
        gate = source.client.gate
        while gate.not_before <= time.monotonic():
            time.sleep(0.001)
        assert any(r.status == 429 for r in fake.graph_requests())
        pool.submit(sender.check).result()
        pending.result()
    calls = fake.graph_requests()
    throttled = next(r for r in calls if r.status == 429)
    later = [r for r in calls if r.started > throttled.finished]
    assert later and all(r.started - throttled.finished >= 1.0 for r in later)


def test_5xx_is_retried_a_bounded_number_of_times(
    fake: FakeGraph, make_source: Callable[..., GraphSource]
) -> None:
    source = make_source(max_attempts=3)
    before = len(fake.graph_requests())
    fake.fail(500, times=10, match="/messages/delta")
    with pytest.raises(TransientAdapterError, match="HTTP 500"):
        list(source.pending())
    assert len(fake.graph_requests()) - before == 3
    fake._faults.clear()  # the 500s not used up
    fake.fail(502, times=2, match="/messages/delta")
    assert list(source.pending()) == []  # the third attempt gets through


def test_a_long_retry_after_fails_the_call_at_once(
    fake: FakeGraph, make_source: Callable[..., GraphSource]
) -> None:
    source = make_source(max_wait=5)
    fake.fail(429, retry_after=120, match="/messages/delta")
    with pytest.raises(TransientAdapterError) as excinfo:
        list(source.pending())
    assert excinfo.value.retry_after == 120


def test_at_most_four_requests_in_flight_per_mailbox(
    fake: FakeGraph, source: GraphSource, make_sender: Callable[..., GraphSender]
) -> None:
    for _ in range(6):
        fake.mailbox.deliver(sample_message())
    refs = [i.ref for i in source.pending()]
    sender = make_sender()
    fake.latency = 0.05
    with ThreadPoolExecutor(12) as pool:
        jobs = [pool.submit(source.read, ref) for ref in refs * 2]
        jobs += [pool.submit(sender.check) for _ in range(4)]
        for job in jobs:
            job.result()
    assert 1 < fake.max_in_flight <= 4
