"""Settings: TOML files in ``settings/``, overridden by ``PIXBRIDGE_...`` environment variables.

Precedence, highest first: keyword overrides (the command line), environment (``PIXBRIDGE_``
prefix, ``__`` between nested keys, e.g. ``PIXBRIDGE_LIFECYCLE__MAX_ATTEMPTS=3``), the TOML files
(later files override earlier ones), then the defaults below.

Each adapter has its own table ``[adapters.<name>]``, validated against the adapter's own
``Settings`` model. Secrets are never written into a settings file: a secret field takes a
reference, ``{ "$env" = "VARIABLE" }`` or ``{ "$file" = "/run/secrets/name" }``.
"""

from __future__ import annotations

import os
import re
import tomllib
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from pixbridge.errors import ConfigError, ConfigProblem
from pixbridge.licensing.settings import LicensePolicySettings
from pixbridge.mail.policy import AttachmentPolicy
from pixbridge.observability.settings import ObservabilitySettings
from pixbridge.store.settings import StoreSettings
from pixbridge.triage.settings import TriageSettings

__all__ = [
    "DEFAULT_SETTINGS_FILE",
    "LifecycleSettings",
    "PipelineSettings",
    "PluginsSettings",
    "Settings",
    "StoreSettings",
    "SupportSettings",
    "load_settings",
    "locate",
    "resolve_secret_refs",
    "settings_problems",
]

DEFAULT_SETTINGS_FILE = Path("settings/pixbridge.toml")
ENV_PREFIX = "PIXBRIDGE_"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SupportSettings(_Section):
    """``[support]``: who we are to the customer."""

    address: str = "support@example.com"
    """The support address customers write to; acknowledgements come from it."""
    name: str = "Technical Support"
    own_addresses: list[str] = Field(default_factory=list)
    """Further addresses that are ours: mail from them is never answered (loop guard)."""
    default_language: str = "en"
    languages: list[str] = Field(default_factory=lambda: ["en", "ru"])


class PipelineSettings(_Section):
    """``[pipeline]``: which adapter does each job, by adapter name."""

    mail_source: str = "maildir"
    mail_sender: str = "maildir-outbox"
    tracker: str = "local"
    license_validators: list[str] = Field(default_factory=lambda: ["registry"])
    publishers: list[str] = Field(default_factory=lambda: ["directory"])


class PluginsSettings(_Section):
    """``[plugins]``: which plugins load."""

    disable: list[str] = Field(default_factory=list)
    """Plugin names (entry-point names) not to load."""
    required: list[str] = Field(default_factory=list)
    """Plugin names that must load; start-up stops if one is missing or broken."""
    load: list[str] | None = None
    """If set, load only these entry points (an allow-list)."""


class LifecycleSettings(_Section):
    """``[lifecycle]``: the orchestrator's limits and pacing."""

    poll_interval: float = Field(default=30.0, gt=0)
    """Seconds between passes when the mailbox cannot push new mail to us."""
    wake_check: float = Field(default=1.0, gt=0)
    """Seconds between looks for an adapter's wake request (e.g. a tracker webhook) while idle;
    used only once an adapter has asked for a pass through ``AdapterContext.wake``."""
    max_attempts: int = Field(default=5, ge=1)
    """Failed attempts after which a message is quarantined rather than retried."""
    retry_delay: float = Field(default=60.0, ge=0)
    """First delay before a failed message or mail is tried again; doubles each time."""
    retry_delay_max: float = Field(default=900.0, ge=0)
    batch_size: int = Field(default=500, ge=1)
    """Messages taken from the mailbox per pass."""
    acks_per_sender_per_hour: int = Field(default=5, ge=0)
    """Acknowledgements one address may get in an hour; more are recorded, not sent."""
    max_message_bytes: int = Field(default=25 * 1024 * 1024, gt=0)
    tracker_prefix_in_subject: bool = True
    workers: int = Field(default=1, ge=1, le=64)
    """Processes ``pixbridge run`` starts on this machine; each is an instance sharing the work
    through the state store (set it to the number of cores for a large backlog)."""
    instance: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]{1,64}$")
    """This process's name among instances (default ``<host>-<n>``); see
    :mod:`pixbridge.lifecycle.instance`."""
    claim_ttl: float = Field(default=300.0, gt=0)
    """Seconds a claimed message, mail or role (mailbox poller, tracker sync) stays with an
    instance that stops renewing it; then another instance takes it over."""


class Settings(BaseSettings):
    """All of pixbridge's settings."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    data_dir: Path = Path("var")
    """Holds all runtime state: state database, mail spool, the embedded default's Maildirs."""
    templates_dir: Path = Path("settings/templates")
    """Jinja2 templates of the mail sent to customers."""
    support: SupportSettings = Field(default_factory=SupportSettings)
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    plugins: PluginsSettings = Field(default_factory=PluginsSettings)
    lifecycle: LifecycleSettings = Field(default_factory=LifecycleSettings)
    license: LicensePolicySettings = Field(default_factory=LicensePolicySettings)
    attachments: AttachmentPolicy = Field(default_factory=AttachmentPolicy)
    triage: TriageSettings = Field(default_factory=TriageSettings)
    observability: ObservabilitySettings = Field(default_factory=ObservabilitySettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    """Which database holds the state (default: SQLite in the data directory)."""
    adapters: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """One table per adapter, ``[adapters.<name>]``; validated by the adapter's own model."""

    settings_files: tuple[Path, ...] = Field(default=(), exclude=True)
    """The TOML files these settings were read from (set by :func:`load_settings`)."""


def _files_from_env() -> list[Path] | None:
    raw = os.environ.get(f"{ENV_PREFIX}SETTINGS")
    if not raw:
        return None
    return [Path(p) for p in raw.split(os.pathsep) if p]


def load_settings(files: Sequence[Path] | None = None, **overrides: Any) -> Settings:
    """Read the settings.

    :param files: TOML files, later ones overriding earlier ones. Default: ``PIXBRIDGE_SETTINGS``
        (paths separated by ``os.pathsep``), else ``settings/pixbridge.toml`` if it exists.
    :param overrides: Values that win over every file and the environment (the command line).
    :raises ConfigError: listing every problem found, each with the file and key it concerns.
    """
    if files is None:
        files = _files_from_env()
    if files is None:
        files = [DEFAULT_SETTINGS_FILE] if DEFAULT_SETTINGS_FILE.exists() else []
    paths = [Path(f) for f in files]
    problems = [ConfigProblem(str(p), "settings file not found") for p in paths if not p.is_file()]
    for p in paths:
        if p.is_file():
            try:
                tomllib.loads(p.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as exc:
                problems.append(ConfigProblem(str(p), f"not valid TOML: {exc}"))
    if problems:
        raise ConfigError(problems)

    class _FromFiles(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            # pydantic-settings ignores TOML unless its source is returned here.
            return (
                init_settings,
                env_settings,
                TomlConfigSettingsSource(settings_cls, toml_file=paths, deep_merge=True),
            )

    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        settings = _FromFiles(**clean, settings_files=tuple(paths))
    except ValidationError as exc:
        raise ConfigError(
            [ConfigProblem(locate(err["loc"], paths), err["msg"]) for err in exc.errors()]
        ) from None
    return settings


def _toml_line(path: Path, loc: Sequence[str | int]) -> int | None:
    """The line of *loc* in *path*: its own table header, or the key inside its table."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    keys = [str(k) for k in loc]
    table = "[" + ".".join(keys) + "]"

    def bare(line: str) -> str:
        # A table header may carry a trailing comment: [lifecycle]  # pacing
        return line.split("#", 1)[0].strip().replace(" ", "")

    for number, line in enumerate(lines, start=1):
        if bare(line) == table:
            return number
    header = "[" + ".".join(keys[:-1]) + "]" if len(keys) > 1 else None
    in_table = header is None
    key = re.compile(rf"{re.escape(keys[-1])}\s*=") if keys else None
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith("["):
            in_table = bare(stripped) == header
        elif in_table and key is not None and key.match(stripped):
            return number
    return None


def _in_toml(path: Path, loc: Sequence[str | int]) -> bool:
    try:
        data: Any = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return False
    for key in loc:
        if not isinstance(data, dict) or str(key) not in data:
            return False
        data = data[str(key)]
    return True


def locate(loc: Sequence[str | int], files: Sequence[Path]) -> str:
    """Say where a setting came from: the environment variable, or the file and line."""
    keys = [str(k) for k in loc]
    env_name = ENV_PREFIX + "__".join(keys).upper()
    if env_name in {k.upper() for k in os.environ}:
        return f"environment {env_name}"
    dotted = ".".join(keys)
    for path in reversed(list(files)):
        # A key missing from the file may still be reported by its table.
        for cut in range(len(keys), 0, -1):
            if _in_toml(path, keys[:cut]):
                line = _toml_line(path, keys[:cut])
                suffix = f":{line}" if line else ""
                return f"{path}{suffix} {dotted}"
    return f"settings {dotted}"


def resolve_secret_refs(
    value: Any,
    loc: Sequence[str],
    problems: list[ConfigProblem],
    files: Sequence[Path] = (),
) -> Any:
    """Replace ``{"$env": NAME}`` and ``{"$file": PATH}`` references by what they point to.

    A reference that cannot be resolved is reported in *problems*, located at *loc* in *files*.
    """
    if isinstance(value, Mapping):
        if set(value) == {"$env"}:
            name = str(value["$env"])
            if name not in os.environ:
                problems.append(
                    ConfigProblem(locate(loc, files), f"environment variable {name} is not set")
                )
                return None
            return os.environ[name]
        if set(value) == {"$file"}:
            path = Path(str(value["$file"]))
            try:
                return path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                problems.append(
                    ConfigProblem(locate(loc, files), f"cannot read secret file {path}: {exc}")
                )
                return None
        return {k: resolve_secret_refs(v, [*loc, k], problems, files) for k, v in value.items()}
    if isinstance(value, list):
        return [
            resolve_secret_refs(v, [*loc, str(i)], problems, files) for i, v in enumerate(value)
        ]
    return value


def _is_secret_annotation(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    return any(_is_secret_annotation(a) for a in typing.get_args(annotation))


def _secret_paths(model: type[BaseModel]) -> list[tuple[str, ...]]:
    """Keys of *model*'s ``SecretStr`` fields, those of nested tables included."""
    paths: list[tuple[str, ...]] = []
    for name, info in model.model_fields.items():
        if _is_secret_annotation(info.annotation):
            paths.append((name,))
        for kind in (info.annotation, *typing.get_args(info.annotation)):
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                paths.extend((name, *inner) for inner in _secret_paths(kind))
    return paths


def _inline_secret_problems(
    adapter: str, model: type[BaseModel], files: Sequence[Path]
) -> list[ConfigProblem]:
    problems = []
    for keys in _secret_paths(model):
        field_name = keys[-1]
        for path in files:
            loc = ["adapters", adapter, *keys]
            if not _in_toml(path, loc):
                continue
            value: Any = tomllib.loads(path.read_text(encoding="utf-8"))
            for key in loc:
                value = value[key]
            if not (isinstance(value, dict) and set(value) <= {"$env", "$file"} and value):
                line = _toml_line(path, loc)
                problems.append(
                    ConfigProblem(
                        f"{path}:{line} {'.'.join(loc)}",
                        "secrets are not written into settings files; use "
                        f'{field_name} = {{ "$env" = "VARIABLE" }} or '
                        f'{{ "$file" = "/run/secrets/{adapter}-{field_name}" }}',
                    )
                )
    return problems


def settings_problems(
    settings: Settings, adapter_models: Mapping[str, type[BaseModel]]
) -> tuple[dict[str, BaseModel], list[ConfigProblem]]:
    """Validate the ``[adapters.<name>]`` tables against their adapters' models.

    Validated: every adapter the pipeline uses and every adapter with a table; an installed
    adapter that is neither is left alone.

    :param adapter_models: Adapter name to settings model, for every installed adapter.
    :returns: The validated settings of those adapters (defaults where there is no table), and
        every problem found.
    """
    pipeline = settings.pipeline
    used = {
        pipeline.mail_source,
        pipeline.mail_sender,
        pipeline.tracker,
        *pipeline.license_validators,
        *pipeline.publishers,
    }
    problems: list[ConfigProblem] = []
    files = settings.settings_files
    validated: dict[str, BaseModel] = {}
    for name in settings.adapters:
        if name not in adapter_models:
            known = ", ".join(sorted(adapter_models)) or "none"
            problems.append(
                ConfigProblem(
                    locate(["adapters", name], files),
                    f"no installed adapter is named {name!r} (installed: {known})",
                )
            )
    for name, model in adapter_models.items():
        if name not in settings.adapters and name not in used:
            # An installed adapter nobody configured or uses: its required settings are not
            # this deployment's problem.
            continue
        problems.extend(_inline_secret_problems(name, model, files))
        before = len(problems)
        raw = resolve_secret_refs(
            settings.adapters.get(name, {}), ["adapters", name], problems, files
        )
        if len(problems) > before:
            continue  # one cause, one problem: no "field required" for an unresolved reference
        try:
            validated[name] = model.model_validate(raw)
        except ValidationError as exc:
            for err in exc.errors():
                where = locate(["adapters", name, *(str(p) for p in err["loc"])], files)
                problems.append(ConfigProblem(where, err["msg"]))
    return validated, problems
