"""The running application: settings, plugins, adapters, state store and hooks, built once."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pydantic import BaseModel

from pixbridge.adapters import (
    Adapter,
    AdapterContext,
    AdapterKind,
    Clock,
    LicenseValidator,
    MailSender,
    MailSource,
    ReleasePublisher,
    SystemClock,
    Tracker,
)
from pixbridge.context import RunContext
from pixbridge.errors import ConfigError, ConfigProblem
from pixbridge.hooks import Hooks
from pixbridge.mail.ids import MessageIds, load_or_create_key
from pixbridge.plugins import PluginSet, load_plugins
from pixbridge.settings import Settings, locate, settings_problems
from pixbridge.store.config import StoreConfig, resolve_store
from pixbridge.store.db import StoreUnavailable
from pixbridge.store.state import StateStore

__all__ = ["App", "build_app", "check_configuration"]

log = logging.getLogger("pixbridge")


def check_configuration(
    settings: Settings, plugins: PluginSet
) -> tuple[dict[str, BaseModel], list[ConfigProblem]]:
    """Every problem in the settings at once: core, pipeline wiring, each adapter's table, the
    store backend."""
    validated, _, problems = _check(settings, plugins)
    return validated, problems


def _check(
    settings: Settings, plugins: PluginSet
) -> tuple[dict[str, BaseModel], StoreConfig | None, list[ConfigProblem]]:
    models = {entry.name: entry.cls.Settings for entry in plugins.registry.all()}
    validated, problems = settings_problems(settings, models)
    wiring: list[tuple[str, str, AdapterKind]] = [
        ("pipeline.mail_source", settings.pipeline.mail_source, AdapterKind.MAIL_SOURCE),
        ("pipeline.mail_sender", settings.pipeline.mail_sender, AdapterKind.MAIL_SENDER),
        ("pipeline.tracker", settings.pipeline.tracker, AdapterKind.TRACKER),
    ]
    wiring += [
        ("pipeline.license_validators", n, AdapterKind.LICENSE_VALIDATOR)
        for n in settings.pipeline.license_validators
    ]
    wiring += [
        ("pipeline.publishers", n, AdapterKind.RELEASE_PUBLISHER)
        for n in settings.pipeline.publishers
    ]
    for where, name, kind in wiring:
        candidates = plugins.registry.of_kind(kind)
        if name not in {e.name for e in candidates}:
            known = ", ".join(sorted(e.name for e in candidates)) or "none installed"
            problems.append(
                ConfigProblem(
                    locate(where.split("."), settings.settings_files),
                    f"no {kind.value} adapter named {name!r} ({known})",
                )
            )
    store_config, store_problems = resolve_store(settings, plugins.registry)
    problems.extend(store_problems)
    return validated, store_config, problems


@dataclass
class App:
    """Everything a pixbridge process needs, created once at start-up."""

    settings: Settings
    plugins: PluginSet
    adapter_settings: dict[str, BaseModel]
    clock: Clock = field(default_factory=SystemClock)
    _adapters: dict[str, Adapter] = field(default_factory=dict)
    store_config: StoreConfig | None = None
    """``[store]`` resolved (secrets included); ``None``: read from the settings on first use."""
    wakeup: threading.Event = field(default_factory=threading.Event)
    """Set through :attr:`AdapterContext.wake`; the orchestrator's idle wait watches it."""

    @cached_property
    def hooks(self) -> Hooks:
        """The typed hook facade."""
        return Hooks(self.plugins.manager)

    @cached_property
    def ctx(self) -> RunContext:
        """The context handed to hooks."""
        return RunContext(
            settings=self.settings, clock=self.clock, logger=log, open_store=lambda: self.store
        )

    @cached_property
    def store(self) -> StateStore:
        """The state database of ``[store]``, opened and migrated on first use.

        :raises StoreUnavailable: it cannot be opened (its message on one line, never the
            password); nothing is kept, so the next use tries again.
        """
        config = self.store_config
        if config is None:
            config, problems = resolve_store(self.settings, self.plugins.registry)
            if config is None:
                raise ConfigError(problems)
        backend = self.plugins.registry.store_backend(config.backend)
        try:
            database = backend.factory(config)
        except StoreUnavailable as exc:
            raise StoreUnavailable(_one_line(str(exc))) from exc
        return StateStore(database)

    @property
    def store_open(self) -> bool:
        """Whether :attr:`store` has been opened (using it would not connect)."""
        return "store" in self.__dict__

    @cached_property
    def message_ids(self) -> MessageIds:
        """Our signed Message-IDs, on the support address's domain."""
        domain = self.settings.support.address.rpartition("@")[2] or "pixbridge.invalid"
        return MessageIds(load_or_create_key(self.settings.data_dir), domain)

    def adapter(self, name: str, kind: AdapterKind) -> Adapter:
        """The opened adapter *name* of *kind* (created and opened on first use)."""
        existing = self._adapters.get(name)
        if existing is None:
            entry = self.plugins.registry.get(name, kind)
            context = AdapterContext(
                data_dir=self.settings.data_dir,
                clock=self.clock,
                logger=logging.getLogger(f"pixbridge.adapter.{name}"),
                wake=self.wakeup.set,
            )
            existing = entry.cls(self.adapter_settings[name], context)
            existing.open()
            self._adapters[name] = existing
        return existing

    @property
    def source(self) -> MailSource:
        """The mailbox customers write to."""
        adapter = self.adapter(self.settings.pipeline.mail_source, AdapterKind.MAIL_SOURCE)
        assert isinstance(adapter, MailSource)  # the registry checked the kind
        return adapter

    @property
    def sender(self) -> MailSender:
        """The adapter that delivers our mail."""
        adapter = self.adapter(self.settings.pipeline.mail_sender, AdapterKind.MAIL_SENDER)
        assert isinstance(adapter, MailSender)
        return adapter

    @property
    def tracker(self) -> Tracker:
        """The registration system."""
        adapter = self.adapter(self.settings.pipeline.tracker, AdapterKind.TRACKER)
        assert isinstance(adapter, Tracker)
        return adapter

    def license_validators(self) -> list[LicenseValidator]:
        """The licence validators, in the configured order."""
        found = [
            self.adapter(n, AdapterKind.LICENSE_VALIDATOR)
            for n in self.settings.pipeline.license_validators
        ]
        return [a for a in found if isinstance(a, LicenseValidator)]

    def publishers(self) -> list[ReleasePublisher]:
        """The release publishers, in the configured order."""
        found = [
            self.adapter(n, AdapterKind.RELEASE_PUBLISHER)
            for n in self.settings.pipeline.publishers
        ]
        return [a for a in found if isinstance(a, ReleasePublisher)]

    def close(self) -> None:
        """Close every opened adapter and the state store."""
        for adapter in self._adapters.values():
            try:
                adapter.close()
            except Exception:
                log.exception("closing adapter %r failed", adapter.name)
        self._adapters.clear()
        if self.store_open:
            self.store.close()
            del self.__dict__["store"]


def _one_line(message: str) -> str:
    """*message* on one line: drivers add hints on lines of their own (libpq's "Is the server
    running ...?"), which break a CLI error or a log line in two."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return " ".join(
        line if n == len(lines) - 1 or line[-1] in ".?!:;," else line + "."
        for n, line in enumerate(lines)
    )


def build_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    extra_plugins: Iterable[tuple[str, Any]] = (),
    autoload: bool = True,
) -> App:
    """Load plugins and validate all settings; raise :class:`ConfigError` listing every problem."""
    plugins = load_plugins(
        disable=settings.plugins.disable,
        required=settings.plugins.required,
        allow=settings.plugins.load,
        autoload=autoload,
        extra=extra_plugins,
    )
    validated, store_config, problems = _check(settings, plugins)
    if problems:
        raise ConfigError(problems)
    return App(settings, plugins, validated, clock or SystemClock(), store_config=store_config)
