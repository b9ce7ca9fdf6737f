"""The contract every :class:`~pixbridge.adapters.LicenseValidator` passes.

Subclass :class:`LicenseValidatorContract` in a module named ``test_*.py``, give it a class name
starting with ``Test``, set the attributes below to data your backend knows, and supply an
``adapter`` fixture that yields an opened validator::

    class TestMyValidator(LicenseValidatorContract):
        valid_serial = "PTM-2024-0017"
        expired_serial = "PTM-2021-0003"
        known_now = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)

        @pytest.fixture
        def adapter(self, adapter_context): ...
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from pixbridge.adapters import AdapterKind, LicenseValidator
from pixbridge.models import LicenseQuery, LicenseResult, LicenseVerdict

__all__ = ["LicenseValidatorContract"]

_GARBAGE = [
    "",
    "   ",
    "x" * 10_000,
    "\x00\x01\x02\x1b[31m\r\n\t",
    "PTM\r\nBcc: attacker@example.net",
    "ÄÖÜ-✓-𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "'; DROP TABLE kits; --",
    "../../../etc/passwd",
]


class LicenseValidatorContract:
    """Tests every licence validator must pass; subclass it and supply the ``adapter`` fixture."""

    valid_serial: str
    """A serial whose kit has valid support at :attr:`known_now`."""
    expired_serial: str
    """A serial whose support window ended before :attr:`known_now`."""
    known_now: datetime = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
    """The moment the two serials are checked at (timezone-aware)."""
    unknown_serial: str = "PIXBRIDGE-CONTRACT-NO-SUCH-SERIAL-0000"
    """A serial the backend certainly does not know."""

    @pytest.fixture
    def adapter(self) -> LicenseValidator:
        """The opened validator under test; the subclass must override this fixture."""
        pytest.fail(f"{type(self).__name__} must define an `adapter` fixture")

    def _check(self, adapter: LicenseValidator, **fields: Any) -> LicenseResult:
        result = adapter.validate(LicenseQuery(at=self.known_now, **fields))
        self._assert_well_formed(adapter, result)
        return result

    @staticmethod
    def _assert_well_formed(adapter: LicenseValidator, result: LicenseResult) -> None:
        # Written as explicit checks with messages: pytest does not rewrite asserts in an
        # installed package unless told to, so a bare assert would fail without detail.
        if not isinstance(result, LicenseResult):
            pytest.fail(f"{adapter.name}.validate returned {result!r}, not a LicenseResult")
        problems = []
        if not isinstance(result.verdict, LicenseVerdict):
            problems.append("verdict is not a LicenseVerdict")
        if not (isinstance(result.source, str) and result.source):
            problems.append("source is not a non-empty string")
        if not (
            isinstance(result.codes, tuple) and all(isinstance(c, str) and c for c in result.codes)
        ):
            problems.append("codes is not a tuple of non-empty strings")
        if not isinstance(result.support_allowed, bool):
            problems.append("support_allowed is not a bool")
        until = result.support_until
        if until is not None and (not isinstance(until, date) or isinstance(until, datetime)):
            problems.append("support_until is not a date (nor None)")
        if not (
            isinstance(result.evidence, Mapping)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in result.evidence.items())
        ):
            problems.append("evidence is not a mapping of strings to strings")
        if result.support_allowed and result.verdict is not LicenseVerdict.VALID:
            problems.append("support_allowed is true but the verdict is not VALID")
        if problems:
            pytest.fail(f"malformed result {result!r}: {'; '.join(problems)}")

    def test_identity(self, adapter: LicenseValidator) -> None:
        """The adapter has a name and is of the licence-validator kind."""
        assert isinstance(adapter.name, str) and adapter.name
        assert adapter.kind is AdapterKind.LICENSE_VALIDATOR

    def test_valid_serial(self, adapter: LicenseValidator) -> None:
        """A kit with valid support is VALID, allows support and says until when."""
        result = self._check(adapter, serial=self.valid_serial)
        assert result.verdict is LicenseVerdict.VALID, result
        assert result.support_allowed, result
        assert result.support_until is not None, result
        assert result.support_until >= (self.known_now - timedelta(days=1)).date(), result

    def test_expired_serial(self, adapter: LicenseValidator) -> None:
        """A kit whose support ended does not allow support, with ``support_expired``."""
        result = self._check(adapter, serial=self.expired_serial)
        assert not result.support_allowed, result
        assert result.verdict is not LicenseVerdict.VALID, result
        assert "support_expired" in result.codes, result
        assert result.support_until is not None, result
        assert result.support_until <= (self.known_now + timedelta(days=1)).date(), result

    def test_unknown_serial(self, adapter: LicenseValidator) -> None:
        """An unknown serial is not VALID and says ``serial_not_found``."""
        result = self._check(adapter, serial=self.unknown_serial)
        assert result.verdict is not LicenseVerdict.VALID, result
        assert not result.support_allowed, result
        assert "serial_not_found" in result.codes, result

    @pytest.mark.parametrize("garbage", _GARBAGE, ids=range(len(_GARBAGE)))
    def test_garbage_never_raises(self, adapter: LicenseValidator, garbage: str) -> None:
        """Whatever a customer writes, the answer is a result, never an exception, never VALID."""
        for field in ("serial", "dongle", "product", "customer"):
            result = self._check(adapter, **{field: garbage})
            if field in ("serial", "customer"):
                assert result.verdict is not LicenseVerdict.VALID, (field, result)
        result = self._check(adapter, serial=garbage, dongle=garbage, customer=garbage)
        assert result.verdict is not LicenseVerdict.VALID, result

    def test_nothing_given(self, adapter: LicenseValidator) -> None:
        """A query with neither serial nor customer is not VALID."""
        result = self._check(adapter)
        assert result.verdict is not LicenseVerdict.VALID, result

    def test_deterministic(self, adapter: LicenseValidator) -> None:
        """The same query gives the same answer."""
        for serial in (self.valid_serial, self.expired_serial, self.unknown_serial):
            first, second = self._check(adapter, serial=serial), self._check(adapter, serial=serial)
            assert first == second, (first, second)

    def test_same_instant_any_zone(self, adapter: LicenseValidator) -> None:
        """The time zone ``query.at`` is written in does not change the answer."""
        elsewhere = self.known_now.astimezone(timezone(timedelta(hours=-9, minutes=-30)))
        for serial in (self.valid_serial, self.expired_serial):
            here = adapter.validate(LicenseQuery(at=self.known_now, serial=serial))
            there = adapter.validate(LicenseQuery(at=elsewhere, serial=serial))
            same = (here.verdict, here.codes, here.support_allowed) == (
                there.verdict,
                there.codes,
                there.support_allowed,
            )
            assert same, (here, there)

    def test_settings_reject_unknown_keys(self, adapter: LicenseValidator) -> None:
        """A misspelt setting is an error, not silently ignored."""
        with pytest.raises(ValidationError) as info:
            type(adapter).Settings.model_validate({"pixbridge_contract_no_such_key": 1})
        types = [error["type"] for error in info.value.errors()]
        assert "extra_forbidden" in types, types
