"""The EWS operations the fake implements, each refusing what Exchange refuses.

Each handler takes the operation's element (the first child of ``s:Body``) and returns the
response body. Only the operations and elements pixbridge-exchange uses are implemented; any
other operation is refused.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from email import policy
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from functools import partial
from xml.sax.saxutils import escape

from lxml import etree

from pixbridge_exchange.testing.notifications import get_events, subscribe, unsubscribe
from pixbridge_exchange.testing.soap import (
    MNS,
    TNS,
    Refused,
    attr,
    child,
    children,
    message,
    require,
    response,
)
from pixbridge_exchange.testing.store import ITEM_ID, FakeFolder, FakeItem, MailboxStore

__all__ = ["Operations"]

_DISPOSITIONS = ("SaveOnly", "SendOnly", "SendAndSaveCopy")


def _folder_xml(folder: FakeFolder, store: MailboxStore) -> str:
    parent = (
        f'<t:ParentFolderId Id={attr(folder.parent_id)} ChangeKey="AQAAAA=="/>'
        if folder.parent_id
        else ""
    )
    return (
        f'<t:Folder><t:FolderId Id={attr(folder.id)} ChangeKey="AQAAABYAAAA="/>{parent}'
        f"<t:FolderClass>{folder.folder_class}</t:FolderClass>"
        f"<t:DisplayName>{escape(folder.name)}</t:DisplayName>"
        f"<t:TotalCount>{len(store.items_in(folder.id))}</t:TotalCount>"
        f"<t:ChildFolderCount>{len(store.children(folder.id))}</t:ChildFolderCount>"
        f"<t:UnreadCount>0</t:UnreadCount></t:Folder>"
    )


def _item_id(item: FakeItem) -> str:
    return f"<t:ItemId Id={attr(item.id)} ChangeKey={attr(item.change_key)}/>"


class Operations:
    """Dispatches one parsed request to its handler."""

    def __init__(self, store: MailboxStore) -> None:
        self.store = store
        self.handlers: dict[str, Callable[[etree._Element], str]] = {
            "GetFolder": self.get_folder,
            "FindFolder": self.find_folder,
            "CreateFolder": self.create_folder,
            "FindItem": self.find_item,
            "GetItem": self.get_item,
            "MoveItem": self.move_item,
            "UpdateItem": self.update_item,
            "CreateItem": self.create_item,
            "Subscribe": partial(subscribe, self.store, self._folder_ref),
            "GetEvents": partial(get_events, self.store),
            "Unsubscribe": partial(unsubscribe, self.store),
        }

    def __call__(self, operation: str, elem: etree._Element) -> str:
        handler = self.handlers.get(operation)
        if handler is None:
            raise Refused(
                "ErrorInvalidRequest", f"The request is invalid: {operation!r} is not supported."
            )
        with self.store.lock:
            return handler(elem)

    # ------------------------------------------------------------ folders

    def _folder_ref(self, elem: etree._Element) -> FakeFolder | None:
        """A ``t:FolderId`` or ``t:DistinguishedFolderId`` (None: no such folder)."""
        name = etree.QName(elem).localname
        if name == "DistinguishedFolderId":
            mailbox = child(elem, TNS, "Mailbox")
            if mailbox is not None:
                address = require(mailbox, TNS, "EmailAddress").text or ""
                if address.lower() != self.store.address.lower():
                    raise Refused("ErrorNonExistentMailbox", f"No mailbox with address {address}.")
            try:
                return self.store.distinguished(elem.get("Id", ""))
            except KeyError:
                return None
        if name == "FolderId":
            folder_id = elem.get("Id")
            if not folder_id:
                raise Refused("ErrorSchemaValidation", "FolderId without Id.")
            return self.store.folders.get(folder_id)
        raise Refused("ErrorSchemaValidation", f"Unexpected element {name!r} in a folder id list.")

    def _folder_list(self, elem: etree._Element, name: str) -> list[FakeFolder | None]:
        container = require(elem, MNS, name)
        refs = [self._folder_ref(f) for f in container]
        if not refs:
            raise Refused("ErrorSchemaValidation", f"{name} is empty.")
        return refs

    def _target(self, elem: etree._Element, name: str) -> FakeFolder:
        container = require(elem, MNS, name)
        if len(container) != 1:
            raise Refused("ErrorSchemaValidation", f"{name} must hold exactly one folder id.")
        folder = self._folder_ref(container[0])
        if folder is None:
            raise Refused(
                "ErrorFolderNotFound", "The specified folder could not be found in the store."
            )
        return folder

    def get_folder(self, elem: etree._Element) -> str:
        require(require(elem, MNS, "FolderShape"), TNS, "BaseShape")
        messages = []
        for folder in self._folder_list(elem, "FolderIds"):
            if folder is None:
                messages.append(message("GetFolder", code="ErrorFolderNotFound"))
            else:
                body = f"<m:Folders>{_folder_xml(folder, self.store)}</m:Folders>"
                messages.append(message("GetFolder", body))
        return response("GetFolder", messages)

    def find_folder(self, elem: etree._Element) -> str:
        if elem.get("Traversal") not in ("Shallow", "Deep", "SoftDeleted"):
            raise Refused("ErrorSchemaValidation", "FindFolder needs Traversal.")
        require(require(elem, MNS, "FolderShape"), TNS, "BaseShape")
        wanted: str | None = None
        restriction = child(elem, MNS, "Restriction")
        if restriction is not None:
            equal = require(restriction, TNS, "IsEqualTo")
            uri = require(equal, TNS, "FieldURI").get("FieldURI")
            if uri != "folder:DisplayName":
                raise Refused("ErrorInvalidRequest", f"Restriction on {uri!r} is not supported.")
            constant = require(require(equal, TNS, "FieldURIOrConstant"), TNS, "Constant")
            wanted = constant.get("Value", "")
        messages = []
        for parent in self._folder_list(elem, "ParentFolderIds"):
            if parent is None:
                messages.append(message("FindFolder", code="ErrorFolderNotFound"))
                continue
            found = [
                f
                for f in self.store.children(parent.id)
                if wanted is None or f.name.lower() == wanted.lower()
            ]
            folders = "".join(_folder_xml(f, self.store) for f in found)
            body = (
                f'<m:RootFolder TotalItemsInView="{len(found)}" IncludesLastItemInRange="true">'
                f"<t:Folders>{folders}</t:Folders></m:RootFolder>"
            )
            messages.append(message("FindFolder", body))
        return response("FindFolder", messages)

    def create_folder(self, elem: etree._Element) -> str:
        parent = self._target(elem, "ParentFolderId")
        messages = []
        for new in require(elem, MNS, "Folders"):
            name = require(new, TNS, "DisplayName").text or ""
            if not name:
                raise Refused("ErrorSchemaValidation", "A folder needs a DisplayName.")
            if any(f.name.lower() == name.lower() for f in self.store.children(parent.id)):
                messages.append(message("CreateFolder", code="ErrorFolderExists"))
                continue
            folder = self.store.add_folder(name, parent.id)
            body = (
                f"<m:Folders><t:Folder><t:FolderId Id={attr(folder.id)} "
                'ChangeKey="AQAAABYAAAA="/></t:Folder></m:Folders>'
            )
            messages.append(message("CreateFolder", body))
        return response("CreateFolder", messages)

    # ------------------------------------------------------------ items

    def find_item(self, elem: etree._Element) -> str:
        if elem.get("Traversal") not in ("Shallow", "SoftDeleted", "Associated"):
            raise Refused("ErrorSchemaValidation", "FindItem needs Traversal.")
        require(require(elem, MNS, "ItemShape"), TNS, "BaseShape")
        wanted_id: str | None = None
        restriction = child(elem, MNS, "Restriction")
        if restriction is not None:
            equal = require(restriction, TNS, "IsEqualTo")
            uri = require(equal, TNS, "FieldURI").get("FieldURI")
            if uri != "message:InternetMessageId":
                raise Refused("ErrorInvalidRequest", f"Restriction on {uri!r} is not supported.")
            constant = require(require(equal, TNS, "FieldURIOrConstant"), TNS, "Constant")
            wanted_id = constant.get("Value", "")
        descending = False
        sort = child(elem, MNS, "SortOrder")
        if sort is not None:
            order = require(sort, TNS, "FieldOrder")
            if require(order, TNS, "FieldURI").get("FieldURI") != "item:DateTimeReceived":
                raise Refused(
                    "ErrorInvalidRequest", "The fake sorts by item:DateTimeReceived only."
                )
            descending = order.get("Order") == "Descending"
        view = child(elem, MNS, "IndexedPageItemView")
        messages = []
        for folder in self._folder_list(elem, "ParentFolderIds"):
            if folder is None:
                messages.append(message("FindItem", code="ErrorFolderNotFound"))
                continue
            items = [
                i
                for i in self.store.items_in(folder.id)
                if wanted_id is None or i.message_id == wanted_id
            ]
            items.sort(key=lambda i: i.received, reverse=descending)
            offset, total = 0, len(items)
            if view is not None:
                if view.get("BasePoint") != "Beginning" or view.get("Offset") is None:
                    raise Refused(
                        "ErrorSchemaValidation", "IndexedPageItemView needs Offset and BasePoint."
                    )
                offset = int(view.get("Offset", "0"))
                limit = int(view.get("MaxEntriesReturned") or total or 1)
                items = items[offset : offset + limit]
            end = offset + len(items)
            rendered = "".join(f"<t:Message>{_item_id(i)}</t:Message>" for i in items)
            body = (
                f'<m:RootFolder IndexedPagingOffset="{end}" TotalItemsInView="{total}" '
                f'IncludesLastItemInRange="{"true" if end >= total else "false"}">'
                f"<t:Items>{rendered}</t:Items></m:RootFolder>"
            )
            messages.append(message("FindItem", body))
        return response("FindItem", messages)

    def _item(self, elem: etree._Element) -> FakeItem | str:
        """The item an ``t:ItemId`` names, or the error code for it."""
        if etree.QName(elem).localname != "ItemId":
            raise Refused("ErrorSchemaValidation", "Expected t:ItemId.")
        item_id = elem.get("Id") or ""
        if not ITEM_ID.match(item_id):
            return "ErrorInvalidIdMalformed"
        item = self.store.items.get(item_id)
        return "ErrorItemNotFound" if item is None else item

    def get_item(self, elem: etree._Element) -> str:
        shape = require(elem, MNS, "ItemShape")
        require(shape, TNS, "BaseShape")
        extra = child(shape, TNS, "AdditionalProperties")
        uris = {p.get("FieldURI") for p in (extra if extra is not None else [])}
        messages = []
        for ref in require(elem, MNS, "ItemIds"):
            item = self._item(ref)
            if isinstance(item, str):
                messages.append(message("GetItem", code=item))
                continue
            props = ""
            if "item:MimeContent" in uris:
                encoded = base64.b64encode(item.mime).decode()
                props += f'<t:MimeContent CharacterSet="UTF-8">{encoded}</t:MimeContent>'
            if "item:Categories" in uris and item.categories:
                cats = "".join(f"<t:String>{escape(c)}</t:String>" for c in item.categories)
                props += f"<t:Categories>{cats}</t:Categories>"
            body = f"<m:Items><t:Message>{_item_id(item)}{props}</t:Message></m:Items>"
            messages.append(message("GetItem", body))
        return response("GetItem", messages)

    def move_item(self, elem: etree._Element) -> str:
        target = self._target(elem, "ToFolderId")
        messages = []
        for ref in require(elem, MNS, "ItemIds"):
            item = self._item(ref)
            if isinstance(item, str):
                messages.append(message("MoveItem", code=item))
                continue
            moved = self.store.move(item.id, target.id)
            messages.append(
                message("MoveItem", f"<m:Items><t:Message>{_item_id(moved)}</t:Message></m:Items>")
            )
        return response("MoveItem", messages)

    def update_item(self, elem: etree._Element) -> str:
        if elem.get("ConflictResolution") not in (
            "NeverOverwrite",
            "AutoResolve",
            "AlwaysOverwrite",
        ):
            raise Refused("ErrorSchemaValidation", "UpdateItem needs ConflictResolution.")
        if elem.get("MessageDisposition") not in _DISPOSITIONS:
            raise Refused(
                "ErrorMessageDispositionRequired", "MessageDisposition is required for messages."
            )
        messages = []
        for change in require(elem, MNS, "ItemChanges"):
            item = self._item(require(change, TNS, "ItemId"))
            if isinstance(item, str):
                messages.append(message("UpdateItem", code=item))
                continue
            for update in require(change, TNS, "Updates"):
                uri = require(update, TNS, "FieldURI").get("FieldURI")
                if etree.QName(update).localname != "SetItemField" or uri != "item:Categories":
                    raise Refused(
                        "ErrorInvalidRequest",
                        f"The fake updates item:Categories only, not {uri!r}.",
                    )
                values = require(require(update, TNS, "Message"), TNS, "Categories")
                item.categories = [s.text or "" for s in children(values, TNS, "String")]
            body = (
                f"<m:Items><t:Message>{_item_id(item)}</t:Message></m:Items>"
                "<m:ConflictResults><t:Count>0</t:Count></m:ConflictResults>"
            )
            messages.append(message("UpdateItem", body))
        return response("UpdateItem", messages)

    def create_item(self, elem: etree._Element) -> str:
        disposition = elem.get("MessageDisposition")
        if disposition not in _DISPOSITIONS:
            raise Refused(
                "ErrorMessageDispositionRequired", "MessageDisposition is required for messages."
            )
        saved = self.store.distinguished("sentitems")
        if child(elem, MNS, "SavedItemFolderId") is not None:
            saved = self._target(elem, "SavedItemFolderId")
        messages = []
        for new in require(elem, MNS, "Items"):
            mime = child(new, TNS, "MimeContent")
            if etree.QName(new).localname != "Message" or mime is None:
                raise Refused(
                    "ErrorInvalidRequest", "The fake creates messages from MimeContent only."
                )
            try:
                raw = base64.b64decode(mime.text or "", validate=True)
            except binascii.Error:
                raise Refused(
                    "ErrorMimeContentInvalidBase64String", "MimeContent is not base64."
                ) from None
            headers = BytesHeaderParser(policy=policy.compat32).parsebytes(raw)
            recipients = getaddresses(
                [str(v) for k in ("To", "Cc", "Bcc") for v in headers.get_all(k, [])]
            )
            if disposition != "SaveOnly" and not any(address for _, address in recipients):
                messages.append(message("CreateItem", code="ErrorInvalidRecipients"))
                continue
            if disposition != "SendOnly":
                self.store.store(raw, saved.id)
            if disposition != "SaveOnly":
                self.store.sent.append(raw)
            messages.append(message("CreateItem", "<m:Items/>"))
        return response("CreateItem", messages)
