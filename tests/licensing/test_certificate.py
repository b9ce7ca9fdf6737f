"""Signed support certificates: format, key rotation, tampering, revocation, the window's edges."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from licensing.certs import Vendor, b64url, envelope, rearmor, unb64url

from pixbridge.adapters import AdapterContext
from pixbridge.builtins.certificate_license import CertificateLicenseValidator
from pixbridge.licensing.certificate import (
    CertificateError,
    looks_like_certificate,
    parse_public_key,
    read_certificate,
)
from pixbridge.models import LicenseQuery, LicenseVerdict
from pixbridge.testing.contracts.license import LicenseValidatorContract

AT = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def vendor() -> Vendor:
    return Vendor("vendor-2025a", "vendor-2026a")


def make(
    tmp_path: Path,
    trusted: dict[str, str],
    *,
    revoked: list[str] = (),
    stored: dict[str, bytes] | None = None,
    **extra: Any,  # type: ignore[assignment]
) -> CertificateLicenseValidator:
    settings: dict[str, Any] = {"trusted_keys": trusted, **extra}
    if revoked:
        path = tmp_path / "revoked.txt"
        path.write_text("# revoked certificates\n" + "\n".join(revoked) + "\n")
        settings["revocation_list"] = path
    if stored is not None:
        folder = tmp_path / "certs"
        folder.mkdir(exist_ok=True)
        for name, data in stored.items():
            (folder / name).write_bytes(data)
        settings["directory"] = folder
    validator = CertificateLicenseValidator(
        CertificateLicenseValidator.Settings.model_validate(settings),
        AdapterContext(data_dir=tmp_path),
    )
    validator.open()
    return validator


def check(validator: CertificateLicenseValidator, cert: bytes, at: datetime = AT, **query: Any):  # type: ignore[no-untyped-def]
    return validator.validate(LicenseQuery(at=at, certificates=(cert,), **query))


def test_a_valid_certificate_allows_support(tmp_path: Path, vendor: Vendor) -> None:
    result = check(make(tmp_path, vendor.trusted()), vendor.issue("vendor-2025a"))
    assert result.verdict is LicenseVerdict.VALID and result.support_allowed
    assert result.codes == ()
    assert result.support_until == date(2026, 12, 31)
    assert result.evidence["kid"] == "vendor-2025a"
    assert result.evidence["serial"] == "PTM-2024-0017"
    assert result.evidence["origin"] == "attachment 1"


def test_key_rotation_old_and_new_trusted_removed_untrusted(tmp_path: Path, vendor: Vendor) -> None:
    old, new = vendor.issue("vendor-2025a"), vendor.issue("vendor-2026a")
    both = make(tmp_path, vendor.trusted())
    assert check(both, old).verdict is LicenseVerdict.VALID
    assert check(both, new).verdict is LicenseVerdict.VALID
    only_new = make(tmp_path, vendor.trusted("vendor-2026a"))
    assert check(only_new, new).verdict is LicenseVerdict.VALID
    refused = check(only_new, old)
    assert refused.verdict is LicenseVerdict.INVALID
    assert "cert_untrusted_key" in refused.codes and not refused.support_allowed


def test_a_key_id_pointing_at_another_key_is_a_bad_signature(
    tmp_path: Path, vendor: Vendor
) -> None:
    # The trust store maps the old kid to the new key: the signature cannot match.
    swapped = {"vendor-2025a": vendor.trusted()["vendor-2026a"]}
    result = check(make(tmp_path, swapped), vendor.issue("vendor-2025a"))
    assert result.codes == ("serial_not_found", "cert_bad_signature")


def test_one_changed_payload_byte_is_a_bad_signature(tmp_path: Path, vendor: Vendor) -> None:
    cert = vendor.issue("vendor-2025a", until=date(2025, 6, 30))
    env = envelope(cert)
    payload = unb64url(str(env["payload"]))
    # The customer "extends" their own support by one digit: 2025 -> 2026 in not_after.
    at = payload.index(b'"not_after": "2025')
    tampered = payload[: at + 14] + b"6" + payload[at + 15 :]
    assert len(tampered) == len(payload) and tampered != payload
    env["payload"] = b64url(tampered)
    result = check(make(tmp_path, vendor.trusted()), rearmor(env))
    assert "cert_bad_signature" in result.codes
    assert result.verdict is LicenseVerdict.INVALID and not result.support_allowed


def test_every_signature_byte_matters(tmp_path: Path, vendor: Vendor) -> None:
    validator = make(tmp_path, vendor.trusted())
    env = envelope(vendor.issue("vendor-2025a"))
    signature = unb64url(str(env["sig"]))
    for position in range(0, 64, 7):
        changed = bytearray(signature)
        changed[position] ^= 0x01
        result = check(validator, rearmor({**env, "sig": b64url(bytes(changed))}))
        assert "cert_bad_signature" in result.codes, position


def test_reserialised_json_is_not_what_was_signed(tmp_path: Path, vendor: Vendor) -> None:
    # Same content, other bytes (no indentation): verification is over the exact bytes.
    env = envelope(vendor.issue("vendor-2025a"))
    compact = json.dumps(json.loads(unb64url(str(env["payload"])))).encode()
    result = check(make(tmp_path, vendor.trusted()), rearmor({**env, "payload": b64url(compact)}))
    assert "cert_bad_signature" in result.codes


@pytest.mark.parametrize(
    "mangle",
    [
        lambda c: b"",
        lambda c: c.replace(b"BEGIN PIXBRIDGE", b"BEGIN OTHER"),
        lambda c: c.replace(b"\n", b"\n!", 2),
        lambda c: rearmor({**envelope(c), "v": 2}),
        lambda c: rearmor({**envelope(c), "alg": "rsa"}),
        lambda c: rearmor({**envelope(c), "kid": "../../etc/passwd"}),
        lambda c: rearmor({**envelope(c), "sig": "AAAA"}),
        lambda c: rearmor({**envelope(c), "payload": 5}),
        lambda c: c * 100,
    ],
    ids=["empty", "armor", "base64", "version", "alg", "kid", "short-sig", "payload", "huge"],
)
def test_malformed_certificates(tmp_path: Path, vendor: Vendor, mangle: Any) -> None:
    result = check(make(tmp_path, vendor.trusted()), mangle(vendor.issue("vendor-2025a")))
    assert "cert_malformed" in result.codes
    assert result.verdict is LicenseVerdict.INVALID


def test_a_signed_but_broken_payload_is_malformed(vendor: Vendor) -> None:
    from pixbridge.licensing.certificate import sign_certificate

    cert = sign_certificate(b'{"serial": "X"}', vendor.keys["vendor-2025a"], "vendor-2025a")
    trusted = {k: parse_public_key(v) for k, v in vendor.trusted().items()}
    with pytest.raises(CertificateError) as info:
        read_certificate(cert, trusted)
    assert info.value.code == "cert_malformed"


def test_revoked_certificate(tmp_path: Path, vendor: Vendor) -> None:
    cert_id = "0b8f2c1e-3d4a-4f5b-9c6d-7e8f9a0b1c2d"
    cert = vendor.issue("vendor-2025a", cert_id=cert_id)
    result = check(make(tmp_path, vendor.trusted(), revoked=[cert_id.upper()]), cert)
    assert result.codes == ("cert_revoked",) and not result.support_allowed
    assert check(make(tmp_path, vendor.trusted(), revoked=["other"]), cert).support_allowed


def test_missing_revocation_list_is_a_clear_error(tmp_path: Path, vendor: Vendor) -> None:
    from pixbridge.errors import PermanentAdapterError

    settings = CertificateLicenseValidator.Settings(
        trusted_keys=vendor.trusted(), revocation_list=tmp_path / "nope.txt"
    )
    with pytest.raises(PermanentAdapterError, match="revocation_list"):
        CertificateLicenseValidator(settings, AdapterContext(data_dir=tmp_path)).open()


def test_bad_trusted_key_setting_says_what_to_fix() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="64 hex digits"):
        CertificateLicenseValidator.Settings(trusted_keys={"k": "abc"})


@pytest.mark.parametrize(
    ("at", "codes"),
    [
        (datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC), ("cert_not_yet_valid",)),
        (datetime(2025, 1, 1, 0, 0, 0, tzinfo=UTC), ()),
        (datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), ()),
        (datetime(2027, 1, 1, 0, 0, 0, tzinfo=UTC), ("support_expired",)),
        # The same instants written in other zones give the same answers.
        (datetime(2027, 1, 1, 2, 59, 59, tzinfo=timezone(timedelta(hours=3))), ()),
        (
            datetime(2026, 12, 31, 19, 0, 0, tzinfo=timezone(timedelta(hours=-5))),
            ("support_expired",),
        ),
    ],
)
def test_window_edges_in_utc(
    tmp_path: Path, vendor: Vendor, at: datetime, codes: tuple[str, ...]
) -> None:
    cert = vendor.issue("vendor-2025a", issued_at=datetime(2024, 12, 1, tzinfo=UTC))
    result = check(make(tmp_path, vendor.trusted()), cert, at=at)
    assert result.codes == codes
    assert result.support_allowed is (codes == ())


def test_window_days_are_meant_in_the_certificates_zone(tmp_path: Path, vendor: Vendor) -> None:
    cert = vendor.issue(
        "vendor-2025a",
        timezone="Europe/Moscow",
        issued_at=datetime(2024, 12, 1, tzinfo=UTC),
    )
    validator = make(tmp_path, vendor.trusted())
    # First day in Moscow starts at 2024-12-31 21:00 UTC.
    assert check(validator, cert, at=datetime(2024, 12, 31, 21, 0, tzinfo=UTC)).support_allowed
    assert not check(
        validator, cert, at=datetime(2024, 12, 31, 20, 59, 59, tzinfo=UTC)
    ).support_allowed
    # Last day in Moscow ends at 2026-12-31 20:59:59 UTC.
    last = check(validator, cert, at=datetime(2026, 12, 31, 20, 59, 59, tzinfo=UTC))
    assert last.support_allowed and last.support_until == date(2026, 12, 31)
    after = check(validator, cert, at=datetime(2026, 12, 31, 21, 0, tzinfo=UTC))
    assert after.codes == ("support_expired",) and after.support_until == date(2026, 12, 31)


def test_issued_in_the_future_beyond_skew_is_not_yet_valid(tmp_path: Path, vendor: Vendor) -> None:
    validator = make(tmp_path, vendor.trusted())
    soon = vendor.issue("vendor-2025a", issued_at=AT + timedelta(seconds=200))
    later = vendor.issue("vendor-2025a", issued_at=AT + timedelta(hours=1))
    assert check(validator, soon).support_allowed
    assert check(validator, later).codes == ("cert_not_yet_valid",)


def test_license_expired_and_product_and_key_mismatch(tmp_path: Path, vendor: Vendor) -> None:
    validator = make(tmp_path, vendor.trusted())
    term = vendor.issue("vendor-2025a", license_until=date(2025, 12, 31))
    assert check(validator, term).codes == ("license_expired",)
    cert = vendor.issue("vendor-2025a")
    assert check(validator, cert, product="PIX Process Studio").codes == ("product_mismatch",)
    assert check(validator, cert, product=" pix  task mining ").support_allowed
    assert check(validator, cert, dongle="guardant:0xDEADBEEF").codes == ("key_mismatch",)
    assert check(validator, cert, dongle="GUARDANT:0x1a2b3c4d").support_allowed


def test_attached_certificate_for_another_serial_is_ignored(tmp_path: Path, vendor: Vendor) -> None:
    cert = vendor.issue("vendor-2025a", serial="PPS-2022-0042")
    result = check(make(tmp_path, vendor.trusted()), cert, serial="PTM-2024-0017")
    assert result.codes == ("serial_not_found",)
    assert result.evidence["ignored_attachments"] == "1"


def test_renewal_wins_over_the_expired_certificate(tmp_path: Path, vendor: Vendor) -> None:
    old = vendor.issue("vendor-2025a", until=date(2025, 6, 30))
    renewal = vendor.issue("vendor-2026a", start=date(2025, 7, 1), until=date(2027, 6, 30))
    validator = make(tmp_path, vendor.trusted(), stored={"old.pixcert": old})
    assert validator.validate(LicenseQuery(at=AT, serial="PTM-2024-0017")).codes == (
        "support_expired",
    )
    renewed = check(validator, renewal, serial="ptm 2024 0017")
    assert renewed.support_allowed and renewed.support_until == date(2027, 6, 30)


def test_stored_certificates_by_contact_and_problems(tmp_path: Path, vendor: Vendor) -> None:
    stored = {
        "a.pixcert": vendor.issue("vendor-2025a"),
        "broken.pixcert": b"not a certificate",
        "other.txt": b"ignored",
    }
    validator = make(tmp_path, vendor.trusted(), stored=stored)
    by_contact = validator.validate(LicenseQuery(at=AT, customer="IT@northwind.example.com"))
    assert by_contact.support_allowed
    by_domain = validator.validate(LicenseQuery(at=AT, customer="x <boss@northwind.example.com>"))
    assert by_domain.support_allowed
    assert validator.validate(LicenseQuery(at=AT, customer="a@elsewhere.example")).codes == (
        "serial_not_found",
    )
    [problem] = validator.check()
    assert "broken.pixcert" in problem and "cert_malformed" in problem


def test_two_kits_for_one_domain_are_ambiguous(tmp_path: Path, vendor: Vendor) -> None:
    stored = {
        "a.pixcert": vendor.issue("vendor-2025a"),
        "b.pixcert": vendor.issue("vendor-2025a", serial="PTM-2024-0018"),
    }
    validator = make(tmp_path, vendor.trusted(), stored=stored)
    result = validator.validate(LicenseQuery(at=AT, customer="boss@northwind.example.com"))
    assert result.verdict is LicenseVerdict.INDETERMINATE
    assert result.codes == ("serial_ambiguous",)


def test_looks_like_certificate(vendor: Vendor) -> None:
    assert looks_like_certificate(vendor.issue("vendor-2025a"))
    assert not looks_like_certificate(b"hello")


class TestCertificateContract(LicenseValidatorContract):
    valid_serial = "PTM-2024-0017"
    expired_serial = "PPS-2022-0042"

    @pytest.fixture
    def adapter(
        self, adapter_context: AdapterContext, vendor: Vendor
    ) -> CertificateLicenseValidator:
        folder = adapter_context.data_dir / "certs"
        folder.mkdir()
        (folder / "valid.pixcert").write_bytes(vendor.issue("vendor-2025a"))
        (folder / "expired.pixcert").write_bytes(
            vendor.issue(
                "vendor-2026a",
                serial="PPS-2022-0042",
                product="PIX Process Studio",
                start=date(2022, 6, 15),
                until=date(2025, 6, 14),
                emails=("rpa@contoso.example.org",),
            )
        )
        settings = CertificateLicenseValidator.Settings(
            trusted_keys=vendor.trusted(), directory=folder
        )
        validator = CertificateLicenseValidator(settings, adapter_context)
        validator.open()
        return validator
