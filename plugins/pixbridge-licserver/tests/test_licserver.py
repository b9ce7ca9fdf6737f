"""The remote licensing-server validator against a fake Keygen-style server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from pixbridge_licserver import RemoteLicenseValidator
from pixbridge_licserver.testing import FakeLicServer, License

from pixbridge.adapters import AdapterContext
from pixbridge.models import LicenseQuery, LicenseVerdict
from pixbridge.testing.contracts.license import LicenseValidatorContract
from pixbridge.testing.net import free_port

AT = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


@pytest.fixture
def server() -> Iterator[FakeLicServer]:
    with FakeLicServer() as fake:
        fake.licenses["PTM-2024-0017"] = License(
            "PTM-2024-0017",
            datetime(2027, 12, 31, 23, 59, 59, tzinfo=UTC),
            fingerprints=("guardant:0x1A2B3C4D",),
        )
        fake.licenses["PPS-2022-0042"] = License(
            "PPS-2022-0042", datetime(2025, 6, 14, 23, 59, 59, tzinfo=UTC), product="prod-pps"
        )
        fake.licenses["PTM-2025-0103"] = License("PTM-2025-0103", None, status="SUSPENDED")
        fake.licenses["PTM-2025-0200"] = License(
            "PTM-2025-0200", None, require_fingerprint=True, fingerprints=("sentinel:1",)
        )
        yield fake


def make(server: FakeLicServer, ctx: AdapterContext, **extra: object) -> RemoteLicenseValidator:
    settings = RemoteLicenseValidator.Settings.model_validate(
        {"url": server.url, "account": server.account, **extra}
    )
    validator = RemoteLicenseValidator(settings, ctx)
    validator.open()
    return validator


def ask(validator: RemoteLicenseValidator, serial: str, at: datetime = AT, **q: str):  # type: ignore[no-untyped-def]
    return validator.validate(LicenseQuery(at=at, serial=serial, **q))


class TestLicServerContract(LicenseValidatorContract):
    valid_serial = "PTM-2024-0017"
    expired_serial = "PPS-2022-0042"

    @pytest.fixture
    def adapter(
        self, server: FakeLicServer, adapter_context: AdapterContext
    ) -> Iterator[RemoteLicenseValidator]:
        validator = make(server, adapter_context)
        yield validator
        validator.close()


def test_request_is_what_keygen_expects(
    server: FakeLicServer, adapter_context: AdapterContext
) -> None:
    validator = make(server, adapter_context, token={"x": 1} and "tok-123", product="prod-ptm")
    result = ask(validator, "PTM-2024-0017", dongle="guardant:0x1A2B3C4D")
    assert result.verdict is LicenseVerdict.VALID and result.support_allowed
    assert result.support_until == date(2027, 12, 31)
    [sent] = server.requests
    assert sent["path"] == "/v1/accounts/pix-vendor/licenses/actions/validate-key"
    assert sent["headers"]["Content-Type"] == "application/vnd.api+json"
    assert sent["headers"]["Authorization"] == "Bearer tok-123"
    assert b'"fingerprint": "guardant:0x1A2B3C4D"' in sent["raw"]


@pytest.mark.parametrize(
    ("serial", "query", "code"),
    [
        ("NOPE-1", {}, "serial_not_found"),
        ("PTM-2025-0103", {}, "revoked"),
        ("PTM-2024-0017", {"dongle": "guardant:0xFFFFFFFF"}, "key_mismatch"),
        ("PPS-2022-0042", {"dongle": "guardant:0x1"}, "key_mismatch"),
        ("PTM-2025-0200", {}, "key_required"),
    ],
)
def test_refusals_map_to_pixbridge_codes(
    server: FakeLicServer,
    adapter_context: AdapterContext,
    serial: str,
    query: dict[str, str],
    code: str,
) -> None:
    result = ask(make(server, adapter_context), serial, **query)
    assert result.verdict is LicenseVerdict.INVALID
    assert result.codes == (code,)


def test_product_scope(server: FakeLicServer, adapter_context: AdapterContext) -> None:
    result = ask(make(server, adapter_context, product="prod-pps"), "PTM-2024-0017")
    assert result.codes == ("product_mismatch",)


def test_expiry_is_judged_at_arrival_not_by_the_servers_clock(
    server: FakeLicServer, adapter_context: AdapterContext
) -> None:
    validator = make(server, adapter_context)
    # The server's clock says expired; the mail arrived while support still ran.
    before = ask(validator, "PPS-2022-0042", at=datetime(2025, 6, 14, 23, 59, tzinfo=UTC))
    assert before.support_allowed and before.support_until == date(2025, 6, 14)
    # The server's clock says valid; the mail arrived after the end.
    server.now = datetime(2024, 1, 1, tzinfo=UTC)
    after = ask(validator, "PPS-2022-0042", at=datetime(2025, 6, 15, 0, 0, tzinfo=UTC))
    assert after.codes == ("support_expired",)
    licence = make(server, adapter_context, expired_means="license")
    assert ask(licence, "PPS-2022-0042").codes == ("license_expired",)


def test_expiry_day_in_the_configured_zone(
    server: FakeLicServer, adapter_context: AdapterContext
) -> None:
    result = ask(make(server, adapter_context, timezone="Asia/Vladivostok"), "PTM-2024-0017")
    assert result.support_until == date(2028, 1, 1)


@pytest.mark.parametrize("fault", ["500", "503", "429", "garbage", "close"])
def test_server_faults_are_indeterminate(
    server: FakeLicServer, adapter_context: AdapterContext, fault: str
) -> None:
    server.fault = fault
    result = ask(make(server, adapter_context), "PTM-2024-0017")
    assert result.verdict is LicenseVerdict.INDETERMINATE
    assert result.codes == ("adapter_unavailable",)
    assert not result.support_allowed
    if fault.isdigit():
        assert result.evidence["status"] == fault


def test_timeout_is_indeterminate(server: FakeLicServer, adapter_context: AdapterContext) -> None:
    server.fault = "slow"
    result = ask(make(server, adapter_context, timeout=0.2), "PTM-2024-0017")
    assert result.codes == ("adapter_unavailable",)
    assert result.evidence["error"] == "timeout"


def test_connection_refused_is_indeterminate(adapter_context: AdapterContext) -> None:
    settings = RemoteLicenseValidator.Settings(url=f"http://127.0.0.1:{free_port()}", account="a")
    validator = RemoteLicenseValidator(settings, adapter_context)
    validator.open()
    result = ask(validator, "PTM-2024-0017")
    assert result.verdict is LicenseVerdict.INDETERMINATE
    assert validator.check() != []


def test_wrong_account_is_indeterminate_not_a_refusal(
    server: FakeLicServer, adapter_context: AdapterContext
) -> None:
    settings = RemoteLicenseValidator.Settings(url=server.url, account="someone-else")
    validator = RemoteLicenseValidator(settings, adapter_context)
    validator.open()
    result = ask(validator, "PTM-2024-0017")
    assert result.verdict is LicenseVerdict.INDETERMINATE and result.evidence["status"] == "404"
    assert validator.check() and make(server, adapter_context).check() == []


def test_the_fake_refuses_what_keygen_refuses(server: FakeLicServer) -> None:
    import requests

    url = f"{server.url}/v1/accounts/pix-vendor/licenses/actions/validate-key"
    headers = {"Content-Type": "application/vnd.api+json"}
    assert requests.get(url, timeout=5).status_code == 405
    assert requests.post(url, data="{}", headers=headers, timeout=5).status_code == 400
    assert requests.post(url, data="x", headers=headers, timeout=5).status_code == 400
    plain = {"Content-Type": "text/plain"}
    body = '{"meta": {"key": "PTM-2024-0017"}}'
    assert requests.post(url, data=body, headers=plain, timeout=5).status_code == 400
    assert requests.post(url, data=body, headers=headers, timeout=5).json()["meta"]["valid"]


def test_entry_point_registers_the_adapter() -> None:
    from pixbridge.plugins import load_plugins

    plugins = load_plugins(autoload=True)
    assert any(e.name == "licserver" for e in plugins.registry.all())


def test_no_request_without_a_serial(
    server: FakeLicServer, adapter_context: AdapterContext
) -> None:
    result = make(server, adapter_context).validate(LicenseQuery(at=AT, customer="a@b.example"))
    assert result.codes == ("serial_not_found",) and server.requests == []


def test_expiry_edges(server: FakeLicServer, adapter_context: AdapterContext) -> None:
    validator = make(server, adapter_context)
    end = datetime(2027, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert ask(validator, "PTM-2024-0017", at=end).support_allowed
    assert not ask(validator, "PTM-2024-0017", at=end + timedelta(seconds=1)).support_allowed
