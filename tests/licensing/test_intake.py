"""The licence policy in the lifecycle: valid, expired, unknown and indeterminate customers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from licensing.certs import Vendor
from lifecycle_helpers import REPO, TEMPLATES, mail

from pixbridge import hookimpl
from pixbridge.adapters import LicenseValidator
from pixbridge.models import LicenseQuery, LicenseResult
from pixbridge.registry import AdapterRegistry
from pixbridge.testing.harness import Harness
from pixbridge.testing.plugin import FakeClock

VENDOR = Vendor("vendor-2025a")


class _Down(LicenseValidator):
    name = "down"

    def validate(self, query: LicenseQuery) -> LicenseResult:
        raise ConnectionError("licensing server unreachable")


class _DownPlugin:
    @hookimpl
    def register_adapters(self, registry: AdapterRegistry) -> None:
        registry.add(_Down)


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Any]:
    made: list[Harness] = []

    def factory(validators: tuple[str, ...] = ("registry", "certificate"), **kw: Any) -> Harness:
        harness = Harness(
            tmp_path / f"h{len(made)}",
            templates_dir=TEMPLATES,
            clock=FakeClock(),
            extra_plugins=[("down", _DownPlugin())],
            pipeline={
                "mail_source": "maildir",
                "mail_sender": "maildir-outbox",
                "tracker": "local",
                "license_validators": list(validators),
                "publishers": [],
            },
            adapters={
                "registry": {"path": str(REPO / "settings" / "licenses.toml")},
                "certificate": {"trusted_keys": VENDOR.trusted()},
            },
            license={"renew_url": "https://pix.example/renew", **kw},
        )
        made.append(harness)
        return harness

    yield factory
    for harness in made:
        harness.close()


def _only(h: Harness) -> dict[str, Any]:
    [key] = h.keys()
    return h.request(key)


def test_valid_customer_normal_flow(make: Any) -> None:
    h = make()
    h.deliver(mail(sender="it-support@northwind.example.com", body="Serial PTM-2024-0017 crashes."))
    h.run()
    view = _only(h)
    licence = view["license"]
    assert (licence["verdict"], licence["codes"], licence["support_allowed"]) == ("valid", [], True)
    assert licence["support_until"] == "2027-12-31"
    assert (licence["serial"], licence["product"]) == ("PTM-2024-0017", "PIX Task Mining")
    assert licence["dongle"] == "guardant:0x1A2B3C4D"
    assert licence["as_of"].startswith("2026-01-15T09:00")
    assert [m["purpose"] for m in view["mail"]] == ["acknowledgement"]
    assert "serial" not in view["missing"]
    fields = h.app.tracker.get_request(view["key"]).fields
    assert fields["license_verdict"] == "valid" and fields["support_until"] == "2027-12-31"
    assert not [c for c in view["comments"] if "Licence check" in c["body"]]


def test_expired_customer_is_flagged_and_told(make: Any) -> None:
    h = make()
    mailer, store = h.orchestrator.mailer, h.app.store
    prepare, composed_in_transaction = mailer.prepare, []

    def watched(**kw: Any) -> Any:
        composed_in_transaction.append(store.db.in_transaction)
        return prepare(**kw)

    mailer.prepare = watched  # type: ignore[method-assign]
    h.deliver(mail(sender="rpa-team@contoso.example.org", body="Здравствуйте, S/N: PPS-2022-0042"))
    h.run()
    # Both mails are composed before the registration's transaction takes the write lock.
    assert composed_in_transaction == [False, False]
    view = _only(h)
    assert view["license"]["verdict"] == "invalid"
    assert view["license"]["codes"] == ["support_expired"]
    assert view["license"]["support_until"] == "2025-06-14"
    assert view["priority"].lower() == "low"
    assert "support expired on 2025-06-14" in view["priority_reason"]
    assert [m["purpose"] for m in view["mail"]] == ["acknowledgement", "support_expired"]
    notice = h.sent()[-1]
    text = notice.get_content()
    assert notice["Subject"].startswith(f"[{view['key']}]")
    assert "2025-06-14" in text and "https://pix.example/renew" in text
    assert "PPS-2022-0042" in text
    fields = h.app.tracker.get_request(view["key"]).fields
    assert fields["license_codes"] == "support_expired"


def test_expired_notice_in_russian(make: Any) -> None:
    h = make(renew_contact="sales@pix.example")
    body = "Добрый день! Программа не запускается после обновления. Серийный номер PPS-2022-0042."
    h.deliver(mail(sender="rpa-team@contoso.example.org", subject="Ошибка запуска", body=body))
    h.run()
    view = _only(h)
    if view["language"] != "ru":
        pytest.skip("language detection did not take this message as Russian")
    text = h.sent()[-1].get_content()
    assert "истёк 2025-06-14" in text and "sales@pix.example" in text


def test_expired_notice_can_be_turned_off_and_priority_kept(make: Any) -> None:
    h = make(notify_expired=False, expired_priority="")
    h.deliver(mail(sender="rpa-team@contoso.example.org", body="serial PPS-2022-0042"))
    h.run()
    view = _only(h)
    assert view["license"]["codes"] == ["support_expired"]
    assert [m["purpose"] for m in view["mail"]] == ["acknowledgement"]
    assert "support expired" not in view["priority_reason"]


def test_unknown_customer_is_asked_for_the_serial(make: Any) -> None:
    h = make()
    h.deliver(mail(sender="someone@unknown.example", body="It crashes. Windows 11"))
    h.run()
    view = _only(h)
    assert view["license"]["verdict"] == "invalid"
    assert view["license"]["codes"][0] == "serial_not_found"
    assert "serial" in view["missing"]
    assert view["status"] == "waiting_for_customer"
    [ack] = h.sent()
    assert "serial" in ack.get_content()


def test_attached_renewal_certificate_wins_over_the_registry(make: Any) -> None:
    renewal = VENDOR.issue(
        "vendor-2025a",
        serial="PPS-2022-0042",
        product="PIX Process Studio",
        dongle="sentinel:1847503921",
        start=date(2025, 6, 15),
        until=date(2026, 6, 14),
    )
    h = make()
    h.deliver(
        mail(
            sender="rpa-team@contoso.example.org",
            body="Serial PPS-2022-0042; we renewed, certificate attached.",
            attachments=(("support.pixcert", renewal),),
        )
    )
    h.run()
    licence = _only(h)["license"]
    assert (licence["verdict"], licence["source"], licence["support_until"]) == (
        "valid",
        "certificate",
        "2026-06-14",
    )
    assert [r["source"] for r in licence["results"]] == ["registry", "certificate"]


def test_a_tampered_attachment_does_not_help(make: Any) -> None:
    cert = VENDOR.issue("vendor-2025a", serial="PPS-2022-0042", until=date(2026, 6, 14))
    tampered = cert.replace(b"A", b"B", 1) if b"A" in cert[60:] else cert + b"x"
    h = make()
    h.deliver(
        mail(
            sender="rpa-team@contoso.example.org",
            body="Serial PPS-2022-0042",
            attachments=(("support.pixcert", tampered),),
        )
    )
    h.run()
    assert _only(h)["license"]["codes"] == ["support_expired"]


def test_unavailable_validator_flags_for_an_agent(make: Any) -> None:
    h = make(validators=("down",))
    h.deliver(mail(sender="it-support@northwind.example.com", body="Serial PTM-2024-0017"))
    h.run()
    view = _only(h)
    assert view["license"]["verdict"] == "indeterminate"
    assert view["license"]["codes"] == ["adapter_unavailable"]
    [note] = [c for c in view["comments"] if "Licence check" in c["body"]]
    assert not note["public"]
    assert "indeterminate" in note["body"] and "PTM-2024-0017" in note["body"]
    assert "licensing server unreachable" in note["body"]
    # Registered and acknowledged as usual: doubt is never a refusal.
    assert [m["purpose"] for m in view["mail"]] == ["acknowledgement"]


def test_registry_still_decides_when_another_validator_is_down(make: Any) -> None:
    h = make(validators=("down", "registry"))
    h.deliver(mail(sender="rpa-team@contoso.example.org", body="serial PPS-2022-0042"))
    h.run()
    licence = _only(h)["license"]
    assert (licence["verdict"], licence["rule"]) == ("invalid", "invalid")


def test_without_validators_nothing_changes(make: Any) -> None:
    h = make(validators=())
    h.deliver(mail(sender="someone@unknown.example", body="It crashes."))
    h.run()
    assert _only(h)["license"] is None


def test_checked_at_arrival_time_not_processing_time(make: Any) -> None:
    h = make()
    clock = h.app.clock
    assert isinstance(clock, FakeClock)
    # The kit's support ends 2027-12-31; the message arrives before, is processed after.
    clock.current = clock.current.replace(year=2027, month=12, day=31, hour=12)
    h.deliver(mail(sender="it-support@northwind.example.com", body="Serial PTM-2024-0017"))
    h.app.clock = clock
    h.orchestrator.mailbox.accept()
    clock.advance(days=2)
    h.run()
    assert _only(h)["license"]["verdict"] == "valid"


def test_a_reply_with_a_known_serial_completes_the_request(make: Any) -> None:
    h = make()
    body = "The export crashes every time we save a large project. Windows 11 Pro"
    h.deliver(mail(sender="someone@unknown.example", body=body))
    h.run()
    [key] = h.keys()
    assert h.request(key)["missing"] == ["serial"]
    # A serial the registry does not know either: still missing.
    h.deliver(
        mail(
            sender="someone@unknown.example",
            subject=f"Re: [{key}] Export crashes",
            body="Serial number: PTM-2099-99999",
        )
    )
    h.run()
    assert h.request(key)["status"] == "waiting_for_customer"
    assert h.request(key)["missing"] == ["serial"]
    # The right one: the licence is checked again and the request goes ahead.
    h.deliver(
        mail(
            sender="someone@unknown.example",
            subject=f"Re: [{key}] Export crashes",
            body="Sorry, it is PTM-2024-0017",
        )
    )
    h.run()
    view = h.request(key)
    assert view["status"] == "in_progress" and view["missing"] == [], (
        view["missing"],
        view["license"],
        view["serial"],
    )
    assert view["license"]["verdict"] == "valid" and view["license"]["serial"] == "PTM-2024-0017"
