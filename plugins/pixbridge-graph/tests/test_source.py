"""GraphSource beyond the contract: delta rounds, restarts, immutable ids, folders, tagging."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pixbridge_graph import GraphSource
from pixbridge_graph.folders import FolderMissing
from pixbridge_graph.source import REASON_PROPERTY
from pixbridge_graph.testing import FakeGraph

from pixbridge.errors import NeedsCredentials
from pixbridge.models import MailOutcome
from pixbridge.testing.contracts.mail import sample_message


def _delta_calls(fake: FakeGraph) -> list[str]:
    return [
        "&".join(f"{k}={v[0]}" for k, v in r.query.items())
        for r in fake.graph_requests()
        if r.path.endswith("/messages/delta")
    ]


def test_every_request_asks_for_immutable_ids(fake: FakeGraph, source: GraphSource) -> None:
    fake.mailbox.deliver(sample_message())
    (item,) = source.pending()
    source.read(item.ref)
    source.acknowledge(item.ref, MailOutcome.PROCESSED)
    calls = fake.graph_requests()
    assert calls
    assert all('IdType="ImmutableId"' in r.headers.get("prefer", "") for r in calls)


def test_ref_survives_the_move(fake: FakeGraph, source: GraphSource) -> None:
    """The ref is the immutable id: after the move it still names the same message."""
    arrived = fake.mailbox.deliver(sample_message())
    (item,) = source.pending()
    assert item.ref == arrived.immutable_id
    source.acknowledge(item.ref, MailOutcome.PROCESSED)
    assert fake.mailbox.folder_path(fake.mailbox.message(item.ref).folder) == "Processed"


def test_read_returns_the_stored_bytes(fake: FakeGraph, source: GraphSource) -> None:
    raw = sample_message()
    fake.mailbox.deliver(raw)
    (item,) = source.pending()
    assert source.read(item.ref) == raw


def test_delta_pages_are_followed_and_the_delta_link_reused(
    fake: FakeGraph, make_source: Callable[..., GraphSource]
) -> None:
    source = make_source(page_size=2)
    for _ in range(5):
        fake.mailbox.deliver(sample_message())
    assert len(list(source.pending())) == 5
    first_round = _delta_calls(fake)
    assert len(first_round) == 3  # pages of 2, 2 and 1
    assert "$skiptoken" in first_round[1] and "$skiptoken" in first_round[2]
    fake.mailbox.deliver(sample_message())
    assert len(list(source.pending())) == 6
    assert "$deltatoken" in _delta_calls(fake)[-1]


def test_a_restart_lists_the_whole_folder_again(
    fake: FakeGraph, make_source: Callable[..., GraphSource]
) -> None:
    """The delta link lives in memory: a new process starts with a full round."""
    first = make_source()
    for _ in range(3):
        fake.mailbox.deliver(sample_message())
    refs = [i.ref for i in first.pending()]
    first.acknowledge(refs[0], MailOutcome.PROCESSED)
    first.close()
    second = make_source()
    assert [i.ref for i in second.pending()] == refs[1:]
    assert "$deltatoken" not in _delta_calls(fake)[-1]


def test_an_expired_delta_link_starts_a_new_round(fake: FakeGraph, source: GraphSource) -> None:
    fake.mailbox.deliver(sample_message())
    before = [i.ref for i in source.pending()]
    fake.expire_delta_tokens()
    fake.mailbox.deliver(sample_message())
    after = [i.ref for i in source.pending()]
    assert after[:1] == before and len(after) == 2
    assert any(r.status == 410 for r in fake.graph_requests())


def test_mail_moved_out_by_someone_else_leaves_pending(
    fake: FakeGraph, source: GraphSource
) -> None:
    arrived = fake.mailbox.deliver(sample_message())
    assert [i.ref for i in source.pending()] == [arrived.immutable_id]
    fake.mailbox.move(arrived.immutable_id, "archive")
    assert list(source.pending()) == []


def test_folders_are_created_by_path(
    fake: FakeGraph, make_source: Callable[..., GraphSource]
) -> None:
    for n in range(12):  # more than one page of top-level folders
        fake.mailbox.create_folder(None, f"Folder {n:02d}")
    source = make_source(processed_folder="Inbox/Done/2026", quarantine_folder="Folder 11")
    names = {fake.mailbox.folder_path(f) for f in source.folders.values()}
    assert names == {"Inbox", "Inbox/Done/2026", "Folder 11"}
    again = make_source(processed_folder="Inbox/Done/2026", quarantine_folder="Folder 11")
    assert again.folders == source.folders


def test_missing_folder_is_named_when_creating_is_off(
    make_source: Callable[..., GraphSource],
) -> None:
    with pytest.raises(FolderMissing, match=r"adapters.graph.processed_folder.*'Processed'"):
        make_source(create_folders=False)


def test_quarantine_keeps_categories_and_records_the_reason(
    fake: FakeGraph, source: GraphSource
) -> None:
    arrived = fake.mailbox.deliver(sample_message())
    arrived.categories.append("Customer A")
    source.acknowledge(arrived.immutable_id, MailOutcome.QUARANTINED, "over the size limit")
    assert fake.mailbox.folder_path(arrived.folder) == "Quarantine"
    assert arrived.categories == ["Customer A", "pixbridge: quarantined"]
    assert arrived.extended[REASON_PROPERTY] == "over the size limit"


def test_acknowledging_an_unknown_message_is_harmless(source: GraphSource) -> None:
    source.acknowledge("AAkALgAA" + "x" * 40, MailOutcome.PROCESSED)


def test_unset_settings_refuse_to_open(adapter_context: object) -> None:
    source = GraphSource(GraphSource.Settings(), adapter_context)  # type: ignore[arg-type]
    with pytest.raises(NeedsCredentials, match=r"tenant_id.*client_id.*client_secret.*mailbox"):
        source.open()
    assert len(source.check()) == 4
