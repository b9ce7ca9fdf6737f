"""The combine rule of the validator chain, one test per rule, and the code order."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from pixbridge.adapters import AdapterContext, LicenseValidator
from pixbridge.licensing.codes import Code, ordered, primary
from pixbridge.licensing.combine import combine, run_chain
from pixbridge.models import LicenseQuery, LicenseResult, LicenseVerdict

V, N, Q = LicenseVerdict.VALID, LicenseVerdict.INVALID, LicenseVerdict.INDETERMINATE
QUERY = LicenseQuery(at=datetime(2026, 1, 15, 9, 0), serial="PTM-2024-0017")


def r(
    source: str, verdict: LicenseVerdict, *codes: str, until: date | None = None
) -> LicenseResult:
    return LicenseResult(verdict, source, codes, verdict is V, until, {"serial": "S-" + source})


def test_codes_are_ordered_by_precedence() -> None:
    assert ordered(["support_expired", "zzz_custom", "key_mismatch", "revoked"]) == (
        "revoked",
        "key_mismatch",
        "support_expired",
        "zzz_custom",
    )
    assert primary(["adapter_unavailable", "serial_not_found"]) == "serial_not_found"
    assert primary([]) is None
    assert next(iter(Code)) is Code.SERIAL_NOT_FOUND and list(Code)[-1] is Code.ADAPTER_UNAVAILABLE


@pytest.mark.parametrize(
    ("results", "verdict", "rule", "source", "codes"),
    [
        # 1. revocation wins, even over a valid certificate
        ([r("cert", V), r("registry", N, "revoked")], N, "revoked", "registry", ("revoked",)),
        ([r("registry", V), r("cert", N, "cert_revoked")], N, "revoked", "cert", ("cert_revoked",)),
        # 2. a valid answer wins over an expiry elsewhere and over doubt
        ([r("registry", N, "support_expired"), r("cert", V)], V, "valid", "cert", ()),
        ([r("remote", Q, "adapter_unavailable"), r("registry", V)], V, "valid", "registry", ()),
        ([r("a", V), r("b", V)], V, "valid", "a", ()),
        # 3. a refusal that knows the kit wins over doubt and over ignorance
        (
            [r("remote", Q, "adapter_unavailable"), r("registry", N, "support_expired")],
            N,
            "invalid",
            "registry",
            ("support_expired",),
        ),
        (
            [r("cert", N, "serial_not_found"), r("registry", N, "support_expired", "key_mismatch")],
            N,
            "invalid",
            "registry",
            ("key_mismatch", "support_expired"),
        ),
        # 4. doubt goes to a person: not found here, unavailable there
        (
            [r("registry", N, "serial_not_found"), r("remote", Q, "adapter_unavailable")],
            Q,
            "indeterminate",
            "remote",
            ("adapter_unavailable",),
        ),
        # an untrustworthy certificate does not turn doubt into a refusal
        (
            [r("cert", N, "cert_bad_signature"), r("remote", Q, "adapter_unavailable")],
            Q,
            "indeterminate",
            "remote",
            ("adapter_unavailable",),
        ),
        # 5. nobody knows the kit
        (
            [
                r("registry", N, "serial_not_found"),
                r("cert", N, "serial_not_found", "cert_malformed"),
            ],
            N,
            "unknown",
            "registry",
            ("serial_not_found", "cert_malformed"),
        ),
    ],
)
def test_combine_rule(
    results: list[LicenseResult],
    verdict: LicenseVerdict,
    rule: str,
    source: str,
    codes: tuple[str, ...],
) -> None:
    check = combine(results, QUERY)
    assert (check.verdict, check.rule, check.source, check.codes) == (verdict, rule, source, codes)
    assert check.support_allowed is (verdict is V)
    assert check.as_of == datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
    assert check.results == tuple(results)


def test_decided_facts_come_from_the_deciding_validator() -> None:
    check = combine(
        [r("registry", N, "serial_not_found"), r("cert", V, until=date(2027, 1, 1))], QUERY
    )
    assert (check.serial, check.support_until) == ("S-cert", date(2027, 1, 1))
    assert check.as_dict()["support_until"] == "2027-01-01"


class _Raising(LicenseValidator):
    name = "raising"

    def validate(self, query: LicenseQuery) -> LicenseResult:
        raise RuntimeError("backend exploded")


class _Fixed(LicenseValidator):
    name = "fixed"

    def validate(self, query: LicenseQuery) -> LicenseResult:
        return r("fixed", N, "serial_not_found")


def test_a_raising_validator_is_indeterminate_never_a_refusal(tmp_path: Any) -> None:
    ctx = AdapterContext(data_dir=tmp_path)
    check = run_chain([_Fixed(None, ctx), _Raising(None, ctx)], QUERY)
    assert check.verdict is Q and check.codes == ("adapter_unavailable",)
    assert "backend exploded" in check.results[1].evidence["error"]


def test_empty_chain_is_unknown() -> None:
    check = combine([], QUERY)
    assert check.verdict is N and check.codes == ("serial_not_found",)
