"""The registry-file licence validator: contract, support window edges, time zones, lookups."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from textwrap import dedent

import pytest
from pydantic import ValidationError

from pixbridge.adapters import AdapterContext
from pixbridge.builtins.registry_license import RegistryLicenseValidator
from pixbridge.errors import PermanentAdapterError
from pixbridge.models import LicenseQuery, LicenseVerdict
from pixbridge.registry import AdapterRegistry
from pixbridge.testing.contracts.license import LicenseValidatorContract

REPO = Path(__file__).resolve().parents[1]

REGISTRY = """
[[kit]]
serial = "PTM-2024-0017"
product = "PIX Task Mining"
customer = "Northwind Logistics Ltd"
contacts = ["it@northwind.example.com"]
domains = ["northwind.example.com"]
dongle = "guardant:0x1A2B3C4D"
support_from = 2024-03-01
support_until = 2026-01-15
level = "premium"

[[kit]]
serial = "PPS-2022-0042"
product = "PIX Process Studio"
customer = "Contoso Insurance AG"
contacts = ["rpa@contoso.example.org", "shared@partner.example.net"]
domains = ["contoso.example.org"]
support_from = "2022-06-15"
support_until = "2025-06-14"

[[kit]]
serial = "PTM-2025-0103"
product = "PIX Task Mining"
customer = "Fabrikam Retail GmbH"
contacts = ["shared@partner.example.net"]
domains = ["fabrikam.example.com"]
support_from = 2026-01-16
support_until = 2028-01-09

[[kit]]
serial = "PTM-2023-0500"
product = "PIX Task Mining"
customer = "Fabrikam Retail GmbH"
domains = ["fabrikam.example.com"]
support_until = 2028-01-09
revoked = true
"""


def make(
    tmp_path: Path, context: AdapterContext, text: str = REGISTRY, **settings: object
) -> RegistryLicenseValidator:
    path = tmp_path / "licenses.toml"
    path.write_text(dedent(text), encoding="utf-8")
    adapter = RegistryLicenseValidator(
        RegistryLicenseValidator.Settings(path=path, **settings),
        context,
    )
    adapter.open()
    return adapter


class TestRegistryContract(LicenseValidatorContract):
    valid_serial = "PTM-2024-0017"
    expired_serial = "PPS-2022-0042"
    known_now = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)

    @pytest.fixture
    def adapter(self, tmp_path: Path, adapter_context: AdapterContext) -> RegistryLicenseValidator:
        return make(tmp_path, adapter_context)


@pytest.fixture
def validator(tmp_path: Path, adapter_context: AdapterContext) -> RegistryLicenseValidator:
    return make(tmp_path, adapter_context)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def check(adapter: RegistryLicenseValidator, when: str, **fields: str) -> tuple[str, ...]:
    return adapter.validate(LicenseQuery(at=at(when), **fields)).codes


def test_registered_as_plugin() -> None:
    from pixbridge.builtins import registry_license

    registry = AdapterRegistry()
    registry_license.register_adapters(registry)
    assert registry.all()[0].cls is RegistryLicenseValidator


def test_valid_result_carries_evidence(validator: RegistryLicenseValidator) -> None:
    result = validator.validate(LicenseQuery(at=at("2025-05-01T12:00Z"), serial="PTM-2024-0017"))
    assert result.verdict is LicenseVerdict.VALID and result.support_allowed
    assert result.source == "registry" and result.codes == ()
    assert str(result.support_until) == "2026-01-15"
    assert {
        k: result.evidence[k] for k in ("serial", "product", "customer", "dongle", "level")
    } == {
        "serial": "PTM-2024-0017",
        "product": "PIX Task Mining",
        "customer": "Northwind Logistics Ltd",
        "dongle": "guardant:0x1A2B3C4D",
        "level": "premium",
    }


@pytest.mark.parametrize(
    ("when", "codes"),
    [
        ("2024-02-29T23:59:59+00:00", ("support_not_started",)),
        ("2024-03-01T00:00:00+00:00", ()),  # first day included
        ("2026-01-15T23:59:59+00:00", ()),  # last day included
        ("2026-01-16T00:00:00+00:00", ("support_expired",)),
    ],
)
def test_window_edges_utc(
    validator: RegistryLicenseValidator, when: str, codes: tuple[str]
) -> None:
    assert check(validator, when, serial="PTM-2024-0017") == codes


def test_last_day_in_a_zone_ahead_of_utc(tmp_path: Path, adapter_context: AdapterContext) -> None:
    adapter = make(tmp_path, adapter_context, timezone="Pacific/Auckland")  # UTC+13 in January
    # 10:59 UTC on the 15th is 23:59 on the 15th in Auckland: still the last day.
    assert check(adapter, "2026-01-15T10:59:00+00:00", serial="PTM-2024-0017") == ()
    # 11:00 UTC on the 15th is already the 16th in Auckland, though still the 15th in UTC.
    assert check(adapter, "2026-01-15T11:00:00+00:00", serial="PTM-2024-0017") == (
        "support_expired",
    )


def test_first_day_in_a_zone_behind_utc(tmp_path: Path, adapter_context: AdapterContext) -> None:
    adapter = make(tmp_path, adapter_context, timezone="America/Los_Angeles")  # UTC-8
    # 07:59 UTC on the 16th is still the 15th in Los Angeles: before the window opens.
    assert check(adapter, "2026-01-16T07:59:00+00:00", serial="PTM-2025-0103") == (
        "support_not_started",
    )
    assert check(adapter, "2026-01-16T08:00:00+00:00", serial="PTM-2025-0103") == ()
    # The same instant written with another offset gives the same day.
    assert check(adapter, "2026-01-16T08:59:00+01:00", serial="PTM-2025-0103") == (
        "support_not_started",
    )


def test_naive_time_is_utc(validator: RegistryLicenseValidator) -> None:
    assert check(validator, "2026-01-16T00:00:00", serial="PTM-2024-0017") == ("support_expired",)


@pytest.mark.parametrize(
    "written", ["ptm-2024-0017", " PTM 2024 0017 ", "PTM20240017", "ptm–2024–0017"]
)
def test_serial_is_normalised(validator: RegistryLicenseValidator, written: str) -> None:
    result = validator.validate(LicenseQuery(at=at("2025-01-01T00:00Z"), serial=written))
    assert result.verdict is LicenseVerdict.VALID
    assert result.evidence["serial"] == "PTM-2024-0017"


def test_revoked_comes_first_and_support_until_is_filled(
    validator: RegistryLicenseValidator,
) -> None:
    result = validator.validate(
        LicenseQuery(at=at("2029-01-01T00:00Z"), serial="PTM-2023-0500", product="PIX Studio")
    )
    assert result.verdict is LicenseVerdict.INVALID and not result.support_allowed
    assert result.codes == ("revoked", "product_mismatch", "support_expired")
    assert str(result.support_until) == "2028-01-09"


def test_product_compared_loosely(validator: RegistryLicenseValidator) -> None:
    when = "2025-01-01T00:00Z"
    assert check(validator, when, serial="PTM-2024-0017", product="pix  task mining") == ()
    assert check(validator, when, serial="PTM-2024-0017", product="PIX Process Studio") == (
        "product_mismatch",
    )


def test_dongle(validator: RegistryLicenseValidator) -> None:
    when = "2025-01-01T00:00Z"
    assert check(validator, when, serial="PTM-2024-0017", dongle="GUARDANT:0x1a2b3c4d") == ()
    assert check(validator, when, serial="PTM-2024-0017", dongle="guardant:0xDEADBEEF") == (
        "key_mismatch",
    )
    assert check(validator, when, serial="PTM-2024-0017") == ()  # a dongle is not required
    # A kit without a registered dongle cannot contradict the one quoted.
    assert check(validator, "2026-02-01T00:00Z", serial="PTM-2025-0103", dongle="x:1") == ()


def test_dongle_required_when_configured(tmp_path: Path, adapter_context: AdapterContext) -> None:
    adapter = make(tmp_path, adapter_context, require_dongle=True)
    when = "2025-01-01T00:00Z"
    assert check(adapter, when, serial="PTM-2024-0017") == ("key_required",)
    assert check(adapter, when, serial="PTM-2024-0017", dongle="guardant:0x1A2B3C4D") == ()
    assert check(adapter, "2026-02-01T00:00Z", serial="PTM-2025-0103") == ()  # kit has none


def test_lookup_by_contact_address(validator: RegistryLicenseValidator) -> None:
    result = validator.validate(
        LicenseQuery(at=at("2025-01-01T00:00Z"), customer="Jo <IT@Northwind.example.com>")
    )
    assert result.verdict is LicenseVerdict.VALID
    assert result.evidence["serial"] == "PTM-2024-0017"
    assert result.evidence["matched_by"] == "contact"


def test_lookup_by_domain(validator: RegistryLicenseValidator) -> None:
    result = validator.validate(
        LicenseQuery(at=at("2024-01-01T00:00Z"), customer="someone@contoso.example.org")
    )
    assert result.evidence["serial"] == "PPS-2022-0042"
    assert result.evidence["matched_by"] == "domain"
    # Subdomains are not the customer's domain.
    result = validator.validate(
        LicenseQuery(at=at("2024-01-01T00:00Z"), customer="x@eu.contoso.example.org")
    )
    assert result.codes == ("serial_not_found",)


@pytest.mark.parametrize("customer", ["shared@partner.example.net", "buyer@fabrikam.example.com"])
def test_several_kits_match_is_indeterminate(
    validator: RegistryLicenseValidator, customer: str
) -> None:
    result = validator.validate(LicenseQuery(at=at("2026-02-01T00:00Z"), customer=customer))
    assert result.verdict is LicenseVerdict.INDETERMINATE
    assert result.codes == ("serial_ambiguous",) and not result.support_allowed
    assert "PTM-2025-0103" in result.evidence["candidates"]


def test_serial_wins_over_customer(validator: RegistryLicenseValidator) -> None:
    result = validator.validate(
        LicenseQuery(
            at=at("2025-01-01T00:00Z"), serial="NOPE-1", customer="it@northwind.example.com"
        )
    )
    assert result.codes == ("serial_not_found",)
    assert result.support_until is None


def test_unknown_customer_not_found(validator: RegistryLicenseValidator) -> None:
    result = validator.validate(LicenseQuery(at=at("2025-01-01T00:00Z"), customer="a@b.example"))
    assert result.verdict is LicenseVerdict.INVALID and result.codes == ("serial_not_found",)


def test_evidence_of_unknown_serial_is_sanitised(validator: RegistryLicenseValidator) -> None:
    result = validator.validate(
        LicenseQuery(at=at("2025-01-01T00:00Z"), serial="A\r\nB" + "x" * 500)
    )
    assert "\n" not in result.evidence["serial"] and len(result.evidence["serial"]) <= 80


BROKEN = """
[[kit]]
serial = "A-1"
support_until = 2026-01-01

[[kit]]
serial = "a 1"
support_until = 2026-01-01

[[kit]]
product = "PIX Task Mining"
support_until = 2026-01-01

[[kit]]
serial = "B-2"
support_from = "2026-02-30"
support_until = "next year"
revokd = true

[[kit]]
serial = "C-3"
support_from = 2027-01-01
support_until = 2026-01-01
contacts = ["not-an-address"]

[[kit]]
serial = "D-4"
support_until = 2026-01-01T10:00:00Z
"""


def test_file_errors_name_file_and_kit(tmp_path: Path, adapter_context: AdapterContext) -> None:
    with pytest.raises(PermanentAdapterError) as info:
        make(tmp_path, adapter_context, BROKEN)
    message = str(info.value)
    lines = message.splitlines()
    assert all(line.startswith(str(tmp_path / "licenses.toml")) for line in lines)
    assert any(
        "#2 (serial 'a 1')" in line and "duplicate serial" in line and "#1" in line
        for line in lines
    )
    assert any("#3" in line and "serial is missing" in line for line in lines)
    assert any("#4 (serial 'B-2')" in line and "support_until" in line for line in lines)
    assert "support_from = '2026-02-30'" in message or "#4" in message
    assert any("#4" in line and "revokd" in line for line in lines)
    assert any("#5" in line and "is after support_until" in line for line in lines)
    assert any("#5" in line and "not-an-address" in line for line in lines)
    assert any("#6" in line and "not a date" in line for line in lines)


def test_invalid_toml_and_missing_file(tmp_path: Path, adapter_context: AdapterContext) -> None:
    with pytest.raises(PermanentAdapterError, match=r"licenses\.toml: cannot read"):
        make(tmp_path, adapter_context, "[[kit]\nserial=")
    with pytest.raises(PermanentAdapterError, match=r"#1 is not a table"):
        make(tmp_path, adapter_context, "kit = [1]")
    with pytest.raises(PermanentAdapterError, match=r"unknown top-level key 'kits'"):
        make(tmp_path, adapter_context, "[[kits]]\nserial = 'A'")
    adapter = RegistryLicenseValidator(
        RegistryLicenseValidator.Settings(path=tmp_path / "absent.toml"), adapter_context
    )
    assert "absent.toml" in adapter.check()[0]
    with pytest.raises(PermanentAdapterError, match=r"absent.toml.*\[adapters.registry\] path"):
        adapter.open()


def test_check_reports_problems_without_raising(
    tmp_path: Path, adapter_context: AdapterContext
) -> None:
    adapter = make(tmp_path, adapter_context)
    assert adapter.check() == []
    (tmp_path / "licenses.toml").write_text(BROKEN, encoding="utf-8")
    assert len(adapter.check()) >= 6


def test_relative_path_resolved_against_cwd(
    tmp_path: Path, adapter_context: AdapterContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "settings").mkdir()
    (tmp_path / "settings" / "licenses.toml").write_text(REGISTRY, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    adapter = RegistryLicenseValidator(RegistryLicenseValidator.Settings(), adapter_context)
    adapter.open()
    assert check(adapter, "2025-01-01T00:00Z", serial="PTM-2024-0017") == ()


def test_unknown_time_zone_rejected() -> None:
    with pytest.raises(ValidationError, match="unknown time zone"):
        RegistryLicenseValidator.Settings(timezone="Mars/Olympus")


def test_example_registry(adapter_context: AdapterContext) -> None:
    settings = RegistryLicenseValidator.Settings(path=REPO / "settings" / "licenses.toml")
    adapter = RegistryLicenseValidator(settings, adapter_context)
    adapter.open()
    when = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
    results = [adapter.validate(LicenseQuery(at=when, serial=s)) for s in adapter._kits]
    # The three documented examples, then the kits of the demo's sample customers.
    assert [r.codes for r in results] == [
        (),
        ("support_expired",),
        ("revoked",),
        (),
        (),
        (),  # PPS-2022-00731's support runs until 2026-06-30: still valid on this date
        (),
        (),
    ]
