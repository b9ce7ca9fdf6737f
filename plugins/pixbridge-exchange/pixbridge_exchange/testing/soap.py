"""SOAP plumbing of the fake EWS endpoint: namespaces, parsing requests, building responses.

Responses follow what Exchange sends: a ``ServerVersionInfo`` header, then
``<m:{Op}Response><m:ResponseMessages><m:{Op}ResponseMessage ResponseClass=...>`` with a
``ResponseCode``; refusals of a whole request are SOAP faults with an ``e:ResponseCode`` detail,
answered with HTTP 500 as Exchange does.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from lxml import etree

__all__ = [
    "ENS",
    "MNS",
    "SOAPNS",
    "TNS",
    "Refused",
    "attr",
    "child",
    "children",
    "envelope",
    "fault",
    "message",
    "require",
    "response",
]

SOAPNS = "http://schemas.xmlsoap.org/soap/envelope/"
MNS = "http://schemas.microsoft.com/exchange/services/2006/messages"
TNS = "http://schemas.microsoft.com/exchange/services/2006/types"
ENS = "http://schemas.microsoft.com/exchange/services/2006/errors"


@dataclass
class Refused(Exception):
    """A request the fake refuses as a whole (rendered as a SOAP fault, HTTP 500)."""

    code: str
    text: str
    back_off_ms: int | None = None


def child(elem: etree._Element, ns: str, name: str) -> etree._Element | None:
    """The first child ``{ns}name`` of *elem*, or None."""
    return elem.find(f"{{{ns}}}{name}")


def children(elem: etree._Element, ns: str, name: str) -> list[etree._Element]:
    """Every child ``{ns}name`` of *elem*."""
    return list(elem.findall(f"{{{ns}}}{name}"))


def require(elem: etree._Element, ns: str, name: str) -> etree._Element:
    """The child ``{ns}name``; a schema-validation fault if it is missing (as Exchange does)."""
    found = child(elem, ns, name)
    if found is None:
        parent = etree.QName(elem).localname
        raise Refused(
            "ErrorSchemaValidation",
            f"The request failed schema validation: element {name!r} is missing in {parent!r}.",
        )
    return found


def envelope(version: str, build: tuple[int, int, int, int], body: str) -> bytes:
    """A response envelope with a ``ServerVersionInfo`` header around *body*."""
    major, minor, major_build, minor_build = build
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xmlns:s="{SOAPNS}" xmlns:m="{MNS}" xmlns:t="{TNS}">'
        f'<s:Header><t:ServerVersionInfo MajorVersion="{major}" MinorVersion="{minor}" '
        f'MajorBuildNumber="{major_build}" MinorBuildNumber="{minor_build}" '
        f'Version="{version}"/></s:Header>'
        f"<s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def message(operation: str, payload: str = "", code: str = "NoError", text: str = "") -> str:
    """One ``{operation}ResponseMessage``: Success with *payload*, or Error with *code*."""
    if code == "NoError":
        return (
            f'<m:{operation}ResponseMessage ResponseClass="Success">'
            f"<m:ResponseCode>NoError</m:ResponseCode>{payload}</m:{operation}ResponseMessage>"
        )
    return (
        f'<m:{operation}ResponseMessage ResponseClass="Error">'
        f"<m:MessageText>{escape(text or code)}</m:MessageText>"
        f"<m:ResponseCode>{code}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>"
        f"</m:{operation}ResponseMessage>"
    )


def response(operation: str, messages: list[str]) -> str:
    """The ``{operation}Response`` body element holding *messages*."""
    inner = "".join(messages)
    return f"<m:{operation}Response><m:ResponseMessages>{inner}</m:ResponseMessages></m:{operation}Response>"


def fault(refused: Refused) -> bytes:
    """A SOAP fault carrying Exchange's response code (and BackOffMilliseconds when throttled)."""
    extra = ""
    if refused.back_off_ms is not None:
        extra = (
            f'<t:MessageXml xmlns:t="{TNS}"><t:Value Name="BackOffMilliseconds">'
            f"{refused.back_off_ms}</t:Value></t:MessageXml>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xmlns:s="{SOAPNS}"><s:Body><s:Fault>'
        f'<faultcode xmlns:a="{ENS}">a:{refused.code}</faultcode>'
        f'<faultstring xml:lang="en-US">{escape(refused.text)}</faultstring>'
        f'<detail><e:ResponseCode xmlns:e="{ENS}">{refused.code}</e:ResponseCode>'
        f'<e:Message xmlns:e="{ENS}">{escape(refused.text)}</e:Message>{extra}</detail>'
        "</s:Fault></s:Body></s:Envelope>"
    ).encode()


def attr(value: str) -> str:
    """*value* quoted for an XML attribute."""
    return quoteattr(value)
