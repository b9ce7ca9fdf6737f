"""ExchangeSource beyond the contract: folders, paging, quarantine reason, wake-up, doctor."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pixbridge_exchange import ExchangeSource, SourceSettings
from pixbridge_exchange.source import QUARANTINE_CATEGORY
from pixbridge_exchange.testing import FakeEws
from pydantic import ValidationError

from pixbridge.adapters import AdapterContext
from pixbridge.errors import PermanentAdapterError
from pixbridge.models import MailOutcome
from pixbridge.testing.contracts.mail import message_id_of, sample_message


def test_pending_pages_through_find_item_oldest_first(
    ews: FakeEws, make_source: Callable[..., ExchangeSource]
) -> None:
    raws = [sample_message() for _ in range(5)]
    for raw in raws:
        ews.deliver(raw)
    source = make_source(page_size=2)
    refs = [item.ref for item in source.pending()]
    assert [message_id_of(source.read(r)) for r in refs] == [message_id_of(r) for r in raws]
    assert ews.operations_seen().count("FindItem") == 3


def test_named_source_folder_and_processed_folder_created_below_it(
    ews: FakeEws, make_source: Callable[..., ExchangeSource]
) -> None:
    store = ews.store
    store.add_folder("Support", store.distinguished("inbox").id)
    ews.deliver(sample_message(), folder="inbox/Support")
    ews.deliver(sample_message(), folder="inbox")
    source = make_source(folder="inbox/Support", processed="inbox/Support/Done")
    (item,) = source.pending()
    source.acknowledge(item.ref, MailOutcome.PROCESSED)
    assert len(ews.folder_items("inbox/Support/Done")) == 1
    assert len(ews.folder_items("inbox")) == 1  # the Inbox itself was not touched


def test_quarantine_reason_is_recorded_as_a_category(
    ews: FakeEws, make_source: Callable[..., ExchangeSource]
) -> None:
    ews.deliver(sample_message())
    source = make_source()
    (item,) = source.pending()
    source.acknowledge(item.ref, MailOutcome.QUARANTINED, "over the size limit")
    (moved,) = ews.folder_items("Quarantine")
    assert moved.categories == [f"{QUARANTINE_CATEGORY}: over the size limit"]
    assert ews.folder_items("inbox") == []


def test_missing_folders_are_not_created_when_told_not_to(
    ews: FakeEws, make_source: Callable[..., ExchangeSource]
) -> None:
    ews.deliver(sample_message())
    source = make_source(create_folders=False)
    (item,) = source.pending()
    with pytest.raises(PermanentAdapterError, match="no folder 'Processed'"):
        source.acknowledge(item.ref, MailOutcome.PROCESSED)
    assert "CreateFolder" not in ews.operations_seen()
    assert len(ews.folder_items("inbox")) == 1


def test_pull_subscription_wakes_wait_on_new_mail(
    ews: FakeEws, make_source: Callable[..., ExchangeSource]
) -> None:
    source = make_source(poll_interval=0.01)
    source.pending()
    assert source.wait(0.05) is False
    ews.deliver(sample_message())
    assert source.wait(5) is True
    assert "Subscribe" in ews.operations_seen() and "GetEvents" in ews.operations_seen()
    # The events were consumed: without new mail the next wait times out again.
    source.pending()
    assert source.wait(0.05) is False


def test_expired_subscription_is_renewed(
    ews: FakeEws, make_source: Callable[..., ExchangeSource]
) -> None:
    source = make_source(poll_interval=0.01)
    source.pending()
    assert source.wait(0.02) is False
    ews.store.subscriptions.clear()  # the server forgot it (timeout, restart)
    ews.deliver(sample_message())
    assert source.wait(5) is True
    assert ews.operations_seen().count("Subscribe") == 2


def test_wait_polls_the_folder_when_subscriptions_are_refused(
    ews: FakeEws, make_source: Callable[..., ExchangeSource]
) -> None:
    ews.subscriptions_supported = False
    source = make_source(poll_interval=0.01)
    source.pending()
    assert source.wait(0.05) is False
    ews.deliver(sample_message())
    assert source.wait(5) is True
    assert "GetEvents" not in ews.operations_seen()
    assert ews.operations_seen().count("Subscribe") == 1  # not asked again


def test_poll_setting_never_subscribes(
    ews: FakeEws, make_source: Callable[..., ExchangeSource]
) -> None:
    source = make_source(notifications="poll", poll_interval=0.01)
    source.pending()
    ews.deliver(sample_message())
    assert source.wait(5) is True
    assert "Subscribe" not in ews.operations_seen()


def test_close_unsubscribes(ews: FakeEws, make_source: Callable[..., ExchangeSource]) -> None:
    source = make_source(poll_interval=0.01)
    source.wait(0.01)
    assert ews.store.subscriptions
    source.close()
    assert not ews.store.subscriptions


def test_check_reports_nothing_for_a_good_mailbox(
    ews: FakeEws, make_source: Callable[..., ExchangeSource]
) -> None:
    assert make_source().check() == []
    assert "CreateFolder" not in ews.operations_seen()  # doctor only looks


def test_check_names_a_missing_source_folder_and_bad_credentials(
    make_source: Callable[..., ExchangeSource],
) -> None:
    problems = make_source(folder="Support").check()
    assert len(problems) == 1 and "folder" in problems[0] and "'Support'" in problems[0]
    problems = make_source(password="wrong").check()
    assert len(problems) == 1 and "credentials" in problems[0]


def test_check_names_missing_settings(adapter_context: AdapterContext) -> None:
    source = ExchangeSource(SourceSettings(), adapter_context)
    problems = source.check()
    assert any("service_endpoint" in p for p in problems)
    assert any("mailbox" in p for p in problems)
    with pytest.raises(PermanentAdapterError, match="service_endpoint"):
        source.open()


def test_unused_plugin_settings_validate_and_bad_values_are_explained() -> None:
    SourceSettings()  # an installed but unconfigured plugin must not break start-up
    with pytest.raises(ValidationError, match="Exchange2016"):
        SourceSettings(server_version="2016")
    with pytest.raises(ValidationError, match="not a URL"):
        SourceSettings(service_endpoint="mail.example.com")
    with pytest.raises(ValidationError, match="three folders"):
        SourceSettings(processed="Quarantine")
    assert SourceSettings(server_build="15.1.2507.6").build() == (15, 1, 2507, 6)
    assert SourceSettings(server_version="Exchange2019").build() == (15, 2, 0, 0)
