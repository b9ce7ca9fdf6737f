"""Signing in with msal against the fake token service: secrets, certificates, refusals."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pixbridge_graph import GraphSender, GraphSource
from pixbridge_graph.testing import FakeGraph, TlsFiles, adapter_settings, self_signed_pem

from pixbridge.errors import NeedsCredentials


def test_the_token_is_cached(fake: FakeGraph, source: GraphSource) -> None:
    for _ in range(3):
        list(source.pending())
    assert fake.identity.token_requests == 1


def test_a_revoked_token_is_replaced_once(fake: FakeGraph, source: GraphSource) -> None:
    fake.identity.revoke_all()
    assert list(source.pending()) == []
    assert fake.identity.token_requests == 2
    assert [r.status for r in fake.graph_requests()][-2:] == [401, 200]


def test_a_wrong_secret_needs_credentials(make_source: Callable[..., GraphSource]) -> None:
    with pytest.raises(NeedsCredentials, match=r"AADSTS7000215.*client_id"):
        make_source(client_secret="wrong")


def test_an_unknown_tenant_is_named(make_source: Callable[..., GraphSource]) -> None:
    with pytest.raises(NeedsCredentials, match=r"adapters.graph.tenant_id.*'nope'"):
        make_source(tenant_id="nope")


def test_certificate_credentials(tls: TlsFiles, tmp_path: Path, adapter_context: object) -> None:
    cert, key = self_signed_pem()
    other_cert, other_key = self_signed_pem()
    fake = FakeGraph(tls, client_secret=None, certificate_pem=cert).start()
    try:
        good, bad = tmp_path / "app.pem", tmp_path / "other.pem"
        good.write_bytes(key + cert)
        bad.write_bytes(other_key + other_cert)
        for path, works in ((good, True), (bad, False)):
            values = adapter_settings(fake, certificate_file=str(path))
            sender = GraphSender(GraphSender.Settings.model_validate(values), adapter_context)  # type: ignore[arg-type]
            sender.open()
            assert (sender.check() == []) is works
            sender.close()
    finally:
        fake.stop()


def test_doctor_reports_a_missing_folder(
    fake: FakeGraph, make_source: Callable[..., GraphSource]
) -> None:
    source = make_source()
    fake.mailbox.folders.pop(source.folders["processed"])
    values = adapter_settings(fake, create_folders=False)
    probe = GraphSource(GraphSource.Settings.model_validate(values), source.context)
    [problem] = probe.check()
    assert "adapters.graph.processed_folder" in problem and "'Processed'" in problem
