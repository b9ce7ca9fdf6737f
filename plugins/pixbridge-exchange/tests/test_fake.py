"""The fake EWS endpoint refuses what Exchange refuses, so the adapters cannot lean on leniency."""

from __future__ import annotations

import base64
from collections.abc import Callable

import exchangelib
import pytest
import requests
from pixbridge_exchange import ExchangeSource, SourceSettings
from pixbridge_exchange.testing import FakeEws

from pixbridge.adapters import AdapterContext

S = "http://schemas.xmlsoap.org/soap/envelope/"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"


def _post(
    ews: FakeEws, body: str, version: str | None = "Exchange2016", header: str = ""
) -> requests.Response:
    version_elem = f'<t:RequestServerVersion Version="{version}"/>' if version else ""
    xml = (
        f'<s:Envelope xmlns:s="{S}" xmlns:m="{M}" xmlns:t="{T}">'
        f"<s:Header>{version_elem}{header}</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    )
    auth = base64.b64encode(f"{ews.username}:{ews.password}".encode()).decode()
    return requests.post(
        ews.url,
        data=xml.encode(),
        headers={"Content-Type": "text/xml; charset=utf-8", "Authorization": f"Basic {auth}"},
        timeout=10,
    )


_GET_INBOX = (
    "<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape>"
    '<m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>'
)


def _code(response: requests.Response) -> str:
    assert response.status_code == 500, response.text
    marker = "<e:ResponseCode"
    assert marker in response.text, response.text
    return response.text.split(marker, 1)[1].split(">", 1)[1].split("<", 1)[0]


def test_well_formed_request_is_answered_with_server_version(ews: FakeEws) -> None:
    response = _post(ews, _GET_INBOX)
    assert response.status_code == 200
    assert 'ResponseClass="Success"' in response.text
    assert 'Version="Exchange2016"' in response.text and "ServerVersionInfo" in response.text


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("<m:ResolveNames/>", "ErrorInvalidRequest"),
        (
            '<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape>'
            "</m:ItemShape></m:FindItem>",
            "ErrorSchemaValidation",
        ),
        (
            "<m:FindItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>"
            '<m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds>'
            "</m:FindItem>",
            "ErrorSchemaValidation",
        ),
        (
            "<m:CreateItem><m:Items><t:Message><t:MimeContent>AA==</t:MimeContent></t:Message>"
            "</m:Items></m:CreateItem>",
            "ErrorMessageDispositionRequired",
        ),
        (
            "<m:GetEvents><m:SubscriptionId>x</m:SubscriptionId></m:GetEvents>",
            "ErrorSchemaValidation",
        ),
    ],
    ids=["unknown-operation", "no-parent-folder", "no-traversal", "no-disposition", "no-watermark"],
)
def test_malformed_operations_are_refused(ews: FakeEws, body: str, code: str) -> None:
    assert _code(_post(ews, body)) == code


@pytest.mark.parametrize("version", [None, "Exchange2019", "V2_5", "Exchange2016_SP9"])
def test_bad_version_header_is_refused(ews: FakeEws, version: str | None) -> None:
    assert _code(_post(ews, _GET_INBOX, version=version)) == "ErrorInvalidServerVersion"


def test_impersonation_is_refused(ews: FakeEws) -> None:
    header = (
        "<t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>x@example.com"
        "</t:PrimarySmtpAddress></t:ConnectingSID></t:ExchangeImpersonation>"
    )
    assert _code(_post(ews, _GET_INBOX, header=header)) == "ErrorImpersonateUserDenied"


def test_not_xml_and_not_a_post_and_no_credentials_are_refused(ews: FakeEws) -> None:
    auth = {"Authorization": "Basic " + base64.b64encode(b"svc-pixbridge:s3cret").decode()}
    broken = requests.post(
        ews.url, data=b"<s:Envelope", headers={**auth, "Content-Type": "text/xml"}, timeout=10
    )
    assert _code(broken) == "ErrorSchemaValidation"
    assert requests.get(ews.url, headers=auth, timeout=10).status_code == 405
    assert requests.post(ews.url, data=b"", timeout=10).status_code == 401


def test_unknown_and_malformed_item_ids_are_errors(ews: FakeEws) -> None:
    def get(item_id: str) -> str:
        body = (
            "<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>"
            f'<m:ItemIds><t:ItemId Id="{item_id}"/></m:ItemIds></m:GetItem>'
        )
        return _post(ews, body).text

    assert "ErrorInvalidIdMalformed" in get("not-an-id")
    assert "ErrorItemNotFound" in get("AAMkAGI0000ffffAAA=")


def test_exchange2019_speaks_exchange2016(
    ews: FakeEws, make_source: Callable[..., ExchangeSource]
) -> None:
    source = make_source(server_version="Exchange2019")
    assert list(source.pending()) == []
    assert all(r.status == 200 for r in ews.requests)


def test_server_older_than_configured_version_refuses_then_exchangelib_steps_down(
    adapter_context: AdapterContext,
) -> None:
    """The fake refuses Exchange2016 like an Exchange 2013 server; exchangelib then tries older
    API versions itself until one is accepted (its only version negotiation left)."""
    with FakeEws(version="Exchange2013") as old:
        settings = SourceSettings(
            service_endpoint=old.url,
            auth="basic",
            username=old.username,
            password=old.password,
            mailbox=old.store.address,
            server_version="Exchange2016",
        )
        source = ExchangeSource(settings, adapter_context)
        source.open()
        assert list(source.pending()) == []
        source.close()
    exchangelib.close_connections()
    first, *rest = old.requests
    assert first.status == 500 and rest and all(r.status == 200 for r in rest[-2:])
