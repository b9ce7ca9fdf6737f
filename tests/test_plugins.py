"""The plugin manager: built-ins, plugin validation, adapters per plugin, hook calls, packaging."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import pytest

import pixbridge
from pixbridge import hookimpl
from pixbridge.adapters import LicenseValidator, Tracker
from pixbridge.builtins import triage as builtin_triage
from pixbridge.context import RunContext
from pixbridge.errors import PluginError
from pixbridge.hooks import Hooks
from pixbridge.models import (
    Intake,
    LicenseQuery,
    LicenseResult,
    LicenseVerdict,
    ParsedMessage,
    PriorityDecision,
    Stage,
    StageEvent,
)
from pixbridge.plugins import BUILTIN_PLUGINS, load_plugins
from pixbridge.registry import AdapterRegistry
from pixbridge.settings import load_settings

BUILTINS = [
    "pixbridge.builtins.defaults",
    "pixbridge.builtins.triage",
    "pixbridge.builtins.maildir",
    "pixbridge.builtins.local_tracker",
    "pixbridge.builtins.registry_license",
    "pixbridge.builtins.certificate_license",
    "pixbridge.builtins.directory_publisher",
]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No PIXBRIDGE_* variable of the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("PIXBRIDGE_"):
            monkeypatch.delenv(name)


def _ctx() -> RunContext:
    return RunContext(settings=load_settings([]))


def _intake(subject: str = "Crash on start") -> Intake:
    message = ParsedMessage(
        message_id="<1@customer.example>",
        subject=subject,
        sender="it@customer.example",
        sender_name="IT",
        recipients=("support@pix.example",),
        date=datetime(2026, 1, 15, 9, 0, tzinfo=UTC),
        in_reply_to=(),
        references=(),
        text="It crashes.",
        html=None,
        attachments=(),
        headers=(("subject", subject),),
        content_type="text/plain",
        return_path="it@customer.example",
        language="en",
    )
    return Intake(
        message=message,
        received_at=datetime(2026, 1, 15, 9, 0, tzinfo=UTC),
        customer="it@customer.example",
        language="en",
    )


class _Validator(LicenseValidator):
    """A tiny concrete adapter; the name is set per test by subclassing."""

    name: ClassVar[str] = "test-validator"

    def validate(self, query: LicenseQuery) -> LicenseResult:
        return LicenseResult(LicenseVerdict.INDETERMINATE, self.name)


def _adapter_plugin(adapter_name: str) -> object:
    cls = type(f"Validator_{adapter_name}", (_Validator,), {"name": adapter_name})

    class Plugin:
        @hookimpl
        def register_adapters(self, registry: AdapterRegistry) -> None:
            registry.add(cls)

    return Plugin()


# ---------------------------------------------------------------------------------- built-ins


def test_builtins_are_listed_with_the_core_distribution() -> None:
    loaded = load_plugins(autoload=False)
    assert list(BUILTIN_PLUGINS) == BUILTINS
    assert [i.name for i in loaded.infos] == BUILTINS
    for info in loaded.infos:
        assert info.builtin is True
        assert info.distribution == "pixbridge"
        assert info.version == pixbridge.__version__
        assert info.error is None
        assert info.disabled is False
        assert loaded.manager.get_plugin(info.name) is not None


def test_builtin_adapters_are_recorded_per_plugin() -> None:
    loaded = load_plugins(autoload=False)
    adapters = {i.name: i.adapters for i in loaded.infos}
    assert adapters == {
        "pixbridge.builtins.defaults": [],
        "pixbridge.builtins.triage": [],
        "pixbridge.builtins.maildir": ["maildir", "maildir-outbox"],
        "pixbridge.builtins.local_tracker": ["local"],
        "pixbridge.builtins.registry_license": ["registry"],
        "pixbridge.builtins.certificate_license": ["certificate"],
        "pixbridge.builtins.directory_publisher": ["directory"],
    }
    entry = loaded.registry.get("local", Tracker.kind)
    assert entry.plugin == "pixbridge.builtins.local_tracker"
    assert entry.distribution == "pixbridge"


def test_disabling_a_builtin_marks_it_disabled() -> None:
    name = "pixbridge.builtins.directory_publisher"
    loaded = load_plugins(autoload=False, disable=[name])
    info = next(i for i in loaded.infos if i.name == name)
    assert info.disabled is True
    assert info.adapters == []
    assert loaded.manager.get_plugin(name) is None
    assert "directory" not in {e.name for e in loaded.registry.all()}
    # The others are untouched.
    assert "local" in {e.name for e in loaded.registry.all()}


def test_the_defaults_plugin_cannot_be_disabled() -> None:
    with pytest.raises(PluginError, match=r"pixbridge\.builtins\.defaults.*cannot be disabled"):
        load_plugins(autoload=False, disable=["pixbridge.builtins.defaults"])


def test_a_missing_required_plugin_stops_start_up() -> None:
    with pytest.raises(PluginError, match=r"missing required plugin.*pixbridge-nowhere"):
        load_plugins(autoload=False, required=["pixbridge-nowhere"])


# ---------------------------------------------------------------------------------- validation


def test_a_misspelled_hook_names_plugin_and_hook_and_suggests_the_right_one() -> None:
    class Typo:
        @hookimpl
        def decide_priorty(self, intake: Intake) -> PriorityDecision:
            return PriorityDecision("blocker", "typo")

    with pytest.raises(PluginError) as excinfo:
        load_plugins(autoload=False, extra=[("typo-plugin", Typo())])
    message = str(excinfo.value)
    assert "'typo-plugin'" in message
    assert "'decide_priorty'" in message
    assert "did you mean 'decide_priority'?" in message


def test_an_optional_unknown_hook_is_allowed() -> None:
    class Optional:
        @hookimpl(optionalhook=True)
        def some_future_hook(self) -> None:
            """Implemented for a newer pixbridge; ignored by this one."""

    loaded = load_plugins(autoload=False, extra=[("optional", Optional())])
    assert loaded.manager.get_plugin("optional") is not None


def test_a_hook_with_an_unknown_argument_is_refused_naming_the_plugin() -> None:
    class WrongArgs:
        @hookimpl
        def decide_priority(self, intake: Intake, urgency: int) -> None:
            return None

    with pytest.raises(PluginError, match=r"(?s)'wrong-args'.*decide_priority.*urgency"):
        load_plugins(autoload=False, extra=[("wrong-args", WrongArgs())])


def test_two_adapters_with_one_name_name_both_plugins() -> None:
    with pytest.raises(PluginError) as excinfo:
        load_plugins(
            autoload=False,
            extra=[
                ("first-plugin", _adapter_plugin("dup")),
                ("second-plugin", _adapter_plugin("dup")),
            ],
        )
    message = str(excinfo.value)
    assert "'dup'" in message
    assert "'first-plugin'" in message
    assert "'second-plugin'" in message


def test_an_adapter_clashing_with_a_builtin_names_both_plugins() -> None:
    with pytest.raises(PluginError) as excinfo:
        load_plugins(autoload=False, extra=[("my-plugin", _adapter_plugin("registry"))])
    message = str(excinfo.value)
    assert "'pixbridge.builtins.registry_license'" in message
    assert "'my-plugin'" in message


def test_an_abstract_adapter_is_refused_naming_what_is_missing() -> None:
    class Incomplete(Tracker):
        name: ClassVar[str] = "incomplete"

    class Plugin:
        @hookimpl
        def register_adapters(self, registry: AdapterRegistry) -> None:
            registry.add(Incomplete)

    with pytest.raises(PluginError, match=r"'half-done'.*create_request"):
        load_plugins(autoload=False, extra=[("half-done", Plugin())])


def test_adapters_of_a_test_plugin_are_recorded_with_it() -> None:
    loaded = load_plugins(autoload=False, extra=[("mine", _adapter_plugin("mine-validator"))])
    info = next(i for i in loaded.infos if i.name == "mine")
    assert info.adapters == ["mine-validator"]
    assert info.hooks == ["register_adapters"]
    assert loaded.registry.get("mine-validator", LicenseValidator.kind).plugin == "mine"


# ---------------------------------------------------------------------------------- observers


class _Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, Stage]] = []

    @hookimpl
    def before_stage(self, event: StageEvent) -> None:
        self.seen.append(("before_stage", event.stage))

    @hookimpl
    def after_stage(self, event: StageEvent) -> None:
        self.seen.append(("after_stage", event.stage))

    @hookimpl
    def on_stage_error(self, event: StageEvent, error: BaseException) -> None:
        self.seen.append(("on_stage_error", event.stage))


class _Exploding:
    @hookimpl
    def before_stage(self, event: StageEvent, ctx: RunContext) -> None:
        raise RuntimeError("observer bug")

    @hookimpl
    def after_stage(self, event: StageEvent, ctx: RunContext) -> None:
        raise RuntimeError("observer bug")

    @hookimpl
    def on_stage_error(self, event: StageEvent, error: BaseException, ctx: RunContext) -> None:
        raise RuntimeError("observer bug")


@pytest.mark.parametrize("hook", ["before_stage", "after_stage", "on_stage_error"])
def test_a_failing_observer_does_not_stop_the_others_and_is_logged(
    hook: str, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = _Recorder()
    # Registered around the recorder, so one of them is called before it whatever the order.
    loaded = load_plugins(
        autoload=False,
        extra=[("boom-early", _Exploding()), ("recorder", recorder), ("boom-late", _Exploding())],
    )
    hooks = Hooks(loaded.manager)
    event = StageEvent(Stage.TRIAGE, message_id=7)
    with caplog.at_level(logging.ERROR, logger="pixbridge.hooks"):
        if hook == "on_stage_error":
            hooks.on_stage_error(event=event, error=ValueError("stage failed"), ctx=_ctx())
        else:
            getattr(hooks, hook)(event=event, ctx=_ctx())
    assert recorder.seen == [(hook, Stage.TRIAGE)]
    failures = [r for r in caplog.records if r.name == "pixbridge.hooks"]
    assert len(failures) == 2
    text = "\n".join(r.getMessage() for r in failures)
    assert "'boom-early'" in text
    assert "'boom-late'" in text
    assert hook in text
    assert all(r.exc_info is not None for r in failures)


# ---------------------------------------------------------------------------------- decisions


def test_a_plugin_decision_wins_over_the_default() -> None:
    class Urgent:
        @hookimpl
        def decide_priority(self, intake: Intake) -> PriorityDecision | None:
            if "crash" in intake.message.subject.lower():
                return PriorityDecision("blocker", "the product crashes")
            return None

    hooks = Hooks(load_plugins(autoload=False, extra=[("urgent", Urgent())]).manager)
    assert hooks.decide_priority(intake=_intake("Crash on start"), ctx=_ctx()) == PriorityDecision(
        "blocker", "the product crashes"
    )
    # None means "not mine": the built-in default answers.
    assert hooks.decide_priority(intake=_intake("Question"), ctx=_ctx()) == (
        builtin_triage.decide_priority(intake=_intake("Question"), ctx=_ctx())
    )


def test_without_plugins_the_defaults_answer_every_decision(tmp_path: Path) -> None:
    hooks = Hooks(load_plugins(autoload=False).manager)
    ctx = RunContext(settings=load_settings([], templates_dir=tmp_path))
    (tmp_path / "completion.ru.txt").write_text("Готово", encoding="utf-8")
    # The built-in triage: "It crashes." is a blocking problem lacking everything but a subject.
    assert hooks.decide_priority(intake=_intake(), ctx=ctx).level == "blocker"
    assert hooks.choose_assignee(intake=_intake(), ctx=ctx).assignee is None
    assert hooks.check_completeness(intake=_intake(), ctx=ctx).missing == (
        "description",
        "attachments",
        "os_version",
        "serial",
    )
    assert (
        hooks.choose_template(purpose="completion", language="ru", ctx=ctx) == "completion.ru.txt"
    )
    assert hooks.choose_template(purpose="acknowledgement", language="ru", ctx=ctx) == (
        "acknowledgement.en.txt"
    )


# ---------------------------------------------------------------------------------- entry points


def _fake_distribution(site: Path, dist: str, version: str, plugins: dict[str, str]) -> None:
    """Write an installed distribution (dist-info) with ``pixbridge`` entry points and modules.

    *plugins* maps the entry-point name to the source of module ``pixbridge_<name>``.
    """
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n", encoding="utf-8"
    )
    lines = ["[pixbridge]"] + [f"{name} = pixbridge_{name}" for name in plugins]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for name, source in plugins.items():
        (site / f"pixbridge_{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")


GOOD_PLUGIN = """
    from typing import ClassVar

    import pixbridge


    class Hello(pixbridge.LicenseValidator):
        name: ClassVar[str] = "hello-{suffix}"

        def validate(self, query):
            return pixbridge.LicenseResult(pixbridge.LicenseVerdict.INDETERMINATE, self.name)


    @pixbridge.hookimpl
    def register_adapters(registry):
        registry.add(Hello)
"""


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory on sys.path holding fake installed plugin distributions."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    yield site
    for name in [m for m in sys.modules if m.startswith("pixbridge_ep")]:
        del sys.modules[name]


def test_entry_points_are_loaded_with_their_distribution(site: Path) -> None:
    _fake_distribution(
        site, "pixbridge-epgood", "2.3.4", {"epgood": GOOD_PLUGIN.format(suffix="good")}
    )
    loaded = load_plugins()
    info = next(i for i in loaded.infos if i.name == "epgood")
    assert (info.distribution, info.version, info.builtin) == ("pixbridge-epgood", "2.3.4", False)
    assert info.module == "pixbridge_epgood"
    assert info.adapters == ["hello-good"]
    assert info.error is None
    assert loaded.registry.get("hello-good", LicenseValidator.kind).distribution == (
        "pixbridge-epgood"
    )


def test_a_broken_optional_plugin_is_reported_and_skipped(
    site: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _fake_distribution(
        site,
        "pixbridge-epmixed",
        "1.0",
        {
            "epbroken": "raise ImportError('needs libfoo')\n",
            "epfine": GOOD_PLUGIN.format(suffix="fine"),
        },
    )
    with caplog.at_level(logging.WARNING, logger="pixbridge.plugins"):
        loaded = load_plugins()
    infos = {i.name: i for i in loaded.infos}
    assert infos["epbroken"].error == "ImportError: needs libfoo"
    assert loaded.manager.get_plugin("epbroken") is None
    assert infos["epfine"].error is None
    assert infos["epfine"].adapters == ["hello-fine"]
    assert any("epbroken" in r.getMessage() for r in caplog.records)


def test_a_broken_required_plugin_stops_start_up(site: Path) -> None:
    _fake_distribution(site, "pixbridge-epreq", "1.0", {"epreq": "1 / 0\n"})
    with pytest.raises(PluginError, match=r"required plugin 'epreq' \(pixbridge-epreq 1.0\)"):
        load_plugins(required=["epreq"])


def test_disable_and_allow_select_entry_points(site: Path) -> None:
    _fake_distribution(
        site,
        "pixbridge-epsel",
        "1.0",
        {"epone": GOOD_PLUGIN.format(suffix="one"), "eptwo": GOOD_PLUGIN.format(suffix="two")},
    )
    infos = {i.name: i for i in load_plugins(disable=["epone"]).infos}
    assert (infos["epone"].disabled, infos["eptwo"].disabled) == (True, False)
    infos = {i.name: i for i in load_plugins(allow=["epone"]).infos}
    assert (infos["epone"].disabled, infos["eptwo"].disabled) == (False, True)


def test_the_allow_list_can_come_from_the_environment(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_distribution(
        site,
        "pixbridge-epenv",
        "1.0",
        {"epthree": GOOD_PLUGIN.format(suffix="three"), "epfour": GOOD_PLUGIN.format(suffix="4")},
    )
    monkeypatch.setenv("PIXBRIDGE_LOAD_PLUGINS", "epfour")
    infos = {i.name: i for i in load_plugins().infos}
    assert (infos["epthree"].disabled, infos["epfour"].disabled) == (True, False)


# ---------------------------------------------------------------------------------- packaging


def _build_distribution(root: Path, dist: str, package: str, source: str) -> Path:
    """A plugin distribution as a third party writes it: pyproject, package, entry point."""
    project = root / dist
    (project / package).mkdir(parents=True)
    ep_name = package.removeprefix("pixbridge_")
    (project / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""\
            [build-system]
            requires = ["setuptools>=61"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "{dist}"
            version = "0.4.2"
            dependencies = ["pixbridge"]

            [project.entry-points.pixbridge]
            {ep_name} = "{package}"

            [tool.setuptools]
            packages = ["{package}"]
            """
        ),
        encoding="utf-8",
    )
    (project / package / "__init__.py").write_text(textwrap.dedent(source), encoding="utf-8")
    return project


def _pip_install(project: Path, target: Path) -> None:
    try:
        import setuptools
        import wheel  # noqa: F401 - setuptools < 70.1 builds wheels through it
    except ImportError as exc:  # pragma: no cover - a broken test environment
        pytest.fail(f"building a plugin needs setuptools and wheel in the test venv: {exc}")
    assert setuptools.__version__
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--disable-pip-version-check",
            "--target",
            str(target),
            str(project),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert list(target.glob("*.dist-info")), f"nothing installed into {target}"


def _pixbridge(
    cwd: Path, sites: list[Path], *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PIXBRIDGE_")}
    clean["PYTHONPATH"] = os.pathsep.join(str(s) for s in sites)
    clean.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "pixbridge", *args],
        cwd=cwd,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


HELLO = """
    \"\"\"A third-party pixbridge plugin.\"\"\"

    from typing import ClassVar

    import pixbridge


    class HelloValidator(pixbridge.LicenseValidator):
        \"\"\"Says nothing about any licence.\"\"\"

        name: ClassVar[str] = "hello"

        def validate(self, query: pixbridge.LicenseQuery) -> pixbridge.LicenseResult:
            return pixbridge.LicenseResult(pixbridge.LicenseVerdict.INDETERMINATE, self.name)


    @pixbridge.hookimpl
    def register_adapters(registry: pixbridge.AdapterRegistry) -> None:
        registry.add(HelloValidator)
"""

TYPO = """
    import pixbridge


    @pixbridge.hookimpl
    def decide_priorty(intake, ctx):
        return None
"""

BROKEN = """
    raise RuntimeError("this plugin is broken on import")
"""


@pytest.fixture(scope="module")
def installed_plugins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three plugin distributions, each pip-installed into its own target directory."""
    root = tmp_path_factory.mktemp("plugin-dists")
    sites = {}
    for dist, package, source in [
        ("pixbridge-hello", "pixbridge_hello", HELLO),
        ("pixbridge-typo", "pixbridge_typo", TYPO),
        ("pixbridge-broken", "pixbridge_broken", BROKEN),
    ]:
        project = _build_distribution(root / "src", dist, package, source)
        target = root / "site" / dist
        _pip_install(project, target)
        sites[dist] = target
    return sites


@pytest.mark.slow
def test_an_installed_plugin_is_listed_with_its_distribution_and_adapter(
    installed_plugins: dict[str, Path], tmp_path: Path
) -> None:
    result = _pixbridge(
        tmp_path,
        [installed_plugins["pixbridge-hello"], installed_plugins["pixbridge-broken"]],
        "plugins",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    hello = rows["hello"]
    assert hello["distribution"] == "pixbridge-hello"
    assert hello["version"] == "0.4.2"
    assert hello["module"] == "pixbridge_hello"
    assert hello["builtin"] is False
    assert hello["error"] is None
    assert hello["hooks"] == ["register_adapters"]
    assert hello["adapters"] == [{"name": "hello", "kind": "license_validator"}]
    # The broken plugin is listed with its error and does not stop the others.
    broken = rows["broken"]
    assert broken["distribution"] == "pixbridge-broken"
    assert broken["error"] == "RuntimeError: this plugin is broken on import"
    assert broken["adapters"] == []
    assert set(BUILTINS) <= set(rows)


@pytest.mark.slow
def test_an_installed_plugin_with_a_misspelled_hook_stops_the_cli(
    installed_plugins: dict[str, Path], tmp_path: Path
) -> None:
    result = _pixbridge(
        tmp_path,
        [installed_plugins["pixbridge-hello"], installed_plugins["pixbridge-typo"]],
        "plugins",
    )
    assert result.returncode != 0
    assert "'typo'" in result.stderr
    assert "pixbridge-typo 0.4.2" in result.stderr
    assert "'decide_priorty'" in result.stderr
    assert "'decide_priority'" in result.stderr
    assert result.stdout == ""


@pytest.mark.slow
def test_an_installed_broken_plugin_stops_start_up_when_required(
    installed_plugins: dict[str, Path], tmp_path: Path
) -> None:
    sites = [installed_plugins["pixbridge-hello"], installed_plugins["pixbridge-broken"]]
    optional = _pixbridge(tmp_path, sites, "plugins")
    assert optional.returncode == 0, optional.stderr
    assert "broken  (pixbridge-broken 0.4.2)  ERROR" in optional.stdout
    assert "hello  (pixbridge-hello 0.4.2)  loaded" in optional.stdout

    required = _pixbridge(
        tmp_path, sites, "plugins", env={"PIXBRIDGE_PLUGINS__REQUIRED": '["broken"]'}
    )
    assert required.returncode != 0
    assert "required plugin 'broken' (pixbridge-broken 0.4.2) failed to load" in required.stderr
    assert "this plugin is broken on import" in required.stderr
