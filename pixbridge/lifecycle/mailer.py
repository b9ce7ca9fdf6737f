"""Writing mail to customers: choose a template, render it, compose, queue in the outbox.

A template ``<purpose>.<language>.txt`` starts with a ``Subject:`` line, then a blank line, then
the body. An optional ``<purpose>.<language>.html`` beside it adds an HTML part.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jinja2

from pixbridge.errors import ConfigError, ConfigProblem
from pixbridge.lifecycle.app import App
from pixbridge.mail.compose import clean_header_text, compose
from pixbridge.models import ParsedMessage

__all__ = ["Mailer", "PreparedMail"]


class Mailer:
    """Renders and queues the mail pixbridge sends."""

    def __init__(self, app: App) -> None:
        self.app = app
        folder = app.settings.templates_dir
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(folder)),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
        )

    def render(
        self, purpose: str, language: str, values: Mapping[str, Any]
    ) -> tuple[str, str, str | None]:
        """(subject, text, html or None) of a mail for *purpose* in *language*."""
        name = self.app.hooks.choose_template(purpose=purpose, language=language, ctx=self.app.ctx)
        try:
            rendered = self.env.get_template(name).render(**values)
        except jinja2.TemplateNotFound:
            raise ConfigError(
                [
                    ConfigProblem(
                        str(self.app.settings.templates_dir / name),
                        f"template for {purpose!r} mail is missing",
                    )
                ]
            ) from None
        head, _, body = rendered.partition("\n\n")
        if not head.startswith("Subject:"):
            raise ConfigError(
                [ConfigProblem(name, "a mail template must start with a 'Subject:' line")]
            )
        subject = clean_header_text(head.removeprefix("Subject:").strip(), limit=250)
        html = None
        html_name = name.removesuffix(".txt") + ".html"
        if html_name != name:
            try:
                html = self.env.get_template(html_name).render(**values)
            except jinja2.TemplateNotFound:
                html = None
        return subject, body.strip() + "\n", html

    def prepare(
        self,
        *,
        purpose: str,
        cause: str,
        request_key: str | None,
        recipient: str,
        language: str,
        values: Mapping[str, Any],
        at: datetime,
        in_reply_to: str | None = None,
        references: Sequence[str] = (),
        auto_submitted: str | None = "auto-replied",
    ) -> PreparedMail:
        """Render and compose a mail without touching the store; :meth:`put` queues it.

        Composing is the dearest part of queueing: where the caller can, it prepares before
        opening the transaction that puts the mail, so the store's write lock is not held
        meanwhile. (A mail whose *cause* turns out to be queued already is composed for
        nothing; that happens only when a crashed step is done again.)
        """
        support = self.app.settings.support
        subject, text, html = self.render(purpose, language, values)
        message_id = self.app.message_ids.new()
        mail = compose(
            message_id=message_id,
            sender=support.address,
            sender_name=support.name,
            to=recipient,
            subject=subject,
            text=text,
            html=html,
            date=at,
            in_reply_to=in_reply_to,
            references=references,
            auto_submitted=auto_submitted,
            loop_token=self.app.message_ids.domain,
            language=language,
        )
        return PreparedMail(message_id, cause, request_key, purpose, recipient, mail.raw, at)

    def prepare_reply(
        self,
        message: ParsedMessage,
        *,
        purpose: str,
        cause: str,
        request_key: str | None,
        language: str,
        values: Mapping[str, Any],
        at: datetime,
    ) -> PreparedMail:
        """:meth:`prepare` an automatic answer to the customer's *message*: to its sender, in its
        thread, greeting them by name and signed by support (``customer_name``,
        ``support_name`` are added to *values*)."""
        return self.prepare(
            purpose=purpose,
            cause=cause,
            request_key=request_key,
            recipient=message.sender,
            language=language,
            values={
                "customer_name": message.sender_name,
                "support_name": self.app.settings.support.name,
                **values,
            },
            at=at,
            in_reply_to=message.message_id,
            references=message.references,
        )

    def put(self, mail: PreparedMail) -> str | None:
        """Queue a prepared mail in the outbox, at most once per cause.

        The caller holds the transaction that records what caused the mail (GUIDE §3), so
        the mail is queued if and only if that is recorded.

        Returns its Message-ID, or ``None`` if a mail for its cause was already queued.
        """
        store = self.app.store
        if store.has_cause(mail.cause):
            return None
        store.enqueue(
            message_id=mail.message_id,
            cause=mail.cause,
            request_key=mail.request_key,
            purpose=mail.purpose,
            recipient=mail.recipient,
            raw=mail.raw,
            at=mail.at,
        )
        store.log(
            mail.purpose + "_queued",
            at=mail.at,
            request_key=mail.request_key,
            message_id=mail.message_id,
        )
        return mail.message_id


@dataclass(frozen=True, slots=True)
class PreparedMail:
    """A composed mail waiting to be put in the outbox (:meth:`Mailer.put`)."""

    message_id: str
    cause: str
    request_key: str | None
    purpose: str
    recipient: str
    raw: bytes
    at: datetime
