"""Meta-tests: keep the plugin API (hook specs, facade, import rule, bundled plugins) from drifting.

House style: ../shared/notes/aesthetics.md §3.2-3.8 and GUIDE §2.
"""

from __future__ import annotations

import ast
import inspect
import re
import tomllib
import typing
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import click
import pytest

import pixbridge
from pixbridge import hookspecs, models
from pixbridge.builtins import defaults, triage
from pixbridge.context import RunContext
from pixbridge.hooks import Hooks
from pixbridge.markers import PROJECT, hookimpl
from pixbridge.plugins import PluginInfo, load_plugins
from pixbridge.registry import AdapterRegistry

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "pixbridge"

SPEC_ATTR = f"{PROJECT}_spec"
IMPL_ATTR = f"{PROJECT}_impl"
MAX_PARAMS = 4

FORBIDDEN_MODULES = frozenset(
    {"jira", "exchangelib", "msal", "imapclient", "imap_tools", "requests", "httpx", "psycopg"}
    | {"psycopg2", "O365"}
)
"""Top-level modules of vendor SDKs and network clients that the core must not import."""

FORBIDDEN_DISTRIBUTIONS = frozenset(
    {"jira", "exchangelib", "msal", "imapclient", "imap-tools", "requests", "httpx", "psycopg"}
    | {"psycopg2", "psycopg2-binary", "psycopg-binary", "o365"}
)
"""Normalised distribution names the core's ``[project].dependencies`` must not contain."""


# ---------------------------------------------------------------------------------- helpers


def _spec_functions() -> dict[str, Callable[..., Any]]:
    """Every public function defined in :mod:`pixbridge.hookspecs` (each one must be a hook)."""
    return {
        name: fn
        for name, fn in vars(hookspecs).items()
        if inspect.isfunction(fn)
        and fn.__module__ == hookspecs.__name__
        and not name.startswith("_")
    }


SPECS = _spec_functions()
SPEC_NAMES = sorted(SPECS)


def _spec_opts(fn: Callable[..., Any]) -> dict[str, Any]:
    opts = getattr(fn, SPEC_ATTR, None)
    assert isinstance(opts, dict), f"{fn.__name__} has no @hookspec marker"
    return opts


def _is_decision(name: str) -> bool:
    return bool(_spec_opts(SPECS[name]).get("firstresult"))


DECISION_HOOKS = [n for n in SPEC_NAMES if _is_decision(n)]


def _normalise_dist(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _forbidden_imports(source: str, filename: str = "<string>") -> list[str]:
    """Imports of vendor SDKs or bundled plugins in *source*, as ``line: module`` strings."""
    found: list[str] = []

    def check(module: str, lineno: int) -> None:
        top = module.split(".")[0]
        if top in FORBIDDEN_MODULES or top.startswith("pixbridge_"):
            found.append(f"{filename}:{lineno}: {module}")

    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                check(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            check(node.module, node.lineno)
        elif isinstance(node, ast.Call):
            # importlib.import_module("jira") and __import__("jira") hide an import in a string.
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if (
                called in {"import_module", "__import__"}
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                check(node.args[0].value, node.lineno)
    return found


# ---------------------------------------------------------------------------------- hook specs


def test_hookspecs_module_defines_the_expected_hooks() -> None:
    # A new hook must be added here on purpose, together with its facade method.
    expected = sorted(
        [
            "register_adapters",
            "register_commands",
            "screen_message",
            "detect_language",
            "check_completeness",
            "decide_priority",
            "choose_assignee",
            "choose_template",
            "before_stage",
            "after_stage",
            "on_stage_error",
        ]
    )
    assert expected == SPEC_NAMES


def test_plugin_manager_knows_exactly_the_specs() -> None:
    pm = load_plugins(autoload=False).manager
    specced = sorted(
        name
        for name in vars(pm.hook)
        if not name.startswith("_") and getattr(pm.hook, name).has_spec()
    )
    assert specced == SPEC_NAMES


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_every_hook_carries_an_explicit_hookspec(name: str) -> None:
    opts = _spec_opts(SPECS[name])
    assert not opts.get("historic"), f"{name}: historic hooks need a real late-registration case"
    assert not opts.get("warn_on_impl"), f"{name} is deprecated; remove it from SPEC_NAMES"


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_every_hook_signature_is_plain_short_and_annotated(name: str) -> None:
    sig = inspect.signature(SPECS[name])
    params = list(sig.parameters.values())
    assert 1 <= len(params) <= MAX_PARAMS, f"{name} takes {len(params)} parameters"
    for p in params:
        # pluggy silently never passes keyword-only or defaulted parameters.
        assert p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD, f"{name}({p.name}) is {p.kind}"
        assert p.default is inspect.Parameter.empty, f"{name}({p.name}) has a default"
        assert isinstance(p.annotation, str) and p.annotation.strip(), (
            f"{name}({p.name}) is not annotated"
        )
    assert isinstance(sig.return_annotation, str) and sig.return_annotation.strip(), (
        f"{name} has no return annotation"
    )


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_every_hook_annotation_names_a_real_type(name: str) -> None:
    # The annotations name TYPE_CHECKING imports; resolve them against the real modules.
    namespace = {
        **vars(models),
        "click": click,
        "RunContext": RunContext,
        "AdapterRegistry": AdapterRegistry,
    }
    hints = typing.get_type_hints(SPECS[name], globalns=namespace)
    assert set(hints) == {*inspect.signature(SPECS[name]).parameters, "return"}


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_every_hook_is_documented_parameter_by_parameter(name: str) -> None:
    fn = SPECS[name]
    doc = inspect.getdoc(fn)
    assert doc, f"{name} has no docstring"
    params = list(inspect.signature(fn).parameters)
    documented = re.findall(r"^:param (\w+):", doc, flags=re.MULTILINE)
    assert documented == params, f"{name}: documented {documented}, parameters {params}"
    for p in params:
        text = re.search(rf"^:param {p}:(.*)$", doc, flags=re.MULTILINE)
        assert text is not None and text.group(1).strip(), f"{name}: empty :param {p}:"


@pytest.mark.parametrize("name", DECISION_HOOKS)
def test_decision_hooks_return_optional_and_document_it(name: str) -> None:
    fn = SPECS[name]
    annotation = inspect.signature(fn).return_annotation
    assert annotation.replace(" ", "").endswith("|None"), f"{name} -> {annotation}"
    assert ":returns:" in (inspect.getdoc(fn) or ""), f"{name} does not document :returns:"


@pytest.mark.parametrize("name", [n for n in SPEC_NAMES if not _is_decision(n)])
def test_non_decision_hooks_return_none(name: str) -> None:
    assert inspect.signature(SPECS[name]).return_annotation == "None"


def test_there_are_decision_hooks() -> None:
    # Guards the parametrisations above from silently becoming empty.
    expected = sorted(
        [
            "screen_message",
            "detect_language",
            "check_completeness",
            "decide_priority",
            "choose_assignee",
            "choose_template",
        ]
    )
    assert expected == DECISION_HOOKS


@pytest.mark.parametrize("name", DECISION_HOOKS)
def test_decision_hooks_have_a_trylast_builtin_default(name: str) -> None:
    # Each decision hook has exactly one built-in default, in defaults or (triage) in triage.
    impls = [getattr(m, name) for m in (defaults, triage) if hasattr(m, name)]
    assert len(impls) == 1, f"{len(impls)} built-in defaults answer {name}; there must be one"
    impl = impls[0]
    opts = getattr(impl, IMPL_ATTR, None)
    assert isinstance(opts, dict), f"defaults.{name} is not marked @hookimpl"
    assert opts.get("trylast") is True, f"defaults.{name} must be trylast"
    assert not opts.get("tryfirst")
    # The default must accept only parameters the spec has.
    spec_params = set(inspect.signature(SPECS[name]).parameters)
    assert set(inspect.signature(impl).parameters) <= spec_params


# ---------------------------------------------------------------------------------- facade


def _public_members(cls: type) -> dict[str, Any]:
    return {name: member for name, member in inspect.getmembers(cls) if not name.startswith("_")}


def test_facade_has_exactly_one_public_method_per_spec() -> None:
    public = _public_members(Hooks)
    assert sorted(public) == SPEC_NAMES, (
        f"missing from Hooks: {sorted(set(SPEC_NAMES) - set(public))}; "
        f"not hooks: {sorted(set(public) - set(SPEC_NAMES))}"
    )
    for name, member in public.items():
        assert inspect.isfunction(member), f"Hooks.{name} is not a plain method"


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_facade_method_matches_its_spec(name: str) -> None:
    method = getattr(Hooks, name, None)
    assert method is not None, f"Hooks has no method {name!r}"
    params = list(inspect.signature(method).parameters.values())
    assert params[0].name == "self"
    rest = params[1:]
    spec = list(inspect.signature(SPECS[name]).parameters.values())
    assert [p.name for p in rest] == [p.name for p in spec]
    for p, s in zip(rest, spec, strict=True):
        assert p.kind is inspect.Parameter.KEYWORD_ONLY, f"Hooks.{name}({p.name}) must follow *"
        assert p.default is inspect.Parameter.empty, f"Hooks.{name}({p.name}) has a default"
        assert p.annotation == s.annotation, (
            f"Hooks.{name}({p.name}): {p.annotation} != {s.annotation}"
        )
    assert inspect.getdoc(method), f"Hooks.{name} has no docstring"


# ---------------------------------------------------------------------------------- import rule


def test_import_scanner_finds_what_it_should() -> None:
    source = (
        "import jira\n"
        "import os, exchangelib.account\n"
        "from requests import Session\n"
        "from pixbridge_jira.adapter import JiraTracker\n"
        "import importlib\n"
        "importlib.import_module('httpx')\n"
        "__import__('O365')\n"
        "from . import relative\n"
        "from pixbridge.models import Ticket\n"
        "import jirafe\n"
    )
    assert _forbidden_imports(source) == [
        "<string>:1: jira",
        "<string>:2: exchangelib.account",
        "<string>:3: requests",
        "<string>:4: pixbridge_jira.adapter",
        "<string>:6: httpx",
        "<string>:7: O365",
    ]


def test_core_imports_no_vendor_sdk_and_no_bundled_plugin() -> None:
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 20, "the scan found too few files; is PACKAGE right?"
    found: list[str] = []
    for path in files:
        found += _forbidden_imports(path.read_text(encoding="utf-8"), str(path.relative_to(REPO)))
    assert found == []


def test_core_depends_on_no_vendor_sdk() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["name"] == "pixbridge"
    names = {
        _normalise_dist(re.match(r"[A-Za-z0-9._-]+", dep).group(0))  # type: ignore[union-attr]
        for dep in project["dependencies"]
    }
    assert "pluggy" in names  # the parse works
    bad = sorted(n for n in names if n in FORBIDDEN_DISTRIBUTIONS or n.startswith("pixbridge-"))
    assert bad == []


# ---------------------------------------------------------------------------------- bundled plugins


def _bundled_plugin_problems(plugin_dir: Path, infos: list[PluginInfo]) -> list[str]:
    """What is wrong with one bundled plugin under ``plugins/``: packaging, install, loading."""
    pyproject = plugin_dir / "pyproject.toml"
    if not pyproject.is_file():
        return [f"{plugin_dir.name}: no pyproject.toml"]
    project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
    dist_name = project.get("name", "")
    problems: list[str] = []
    if _normalise_dist(dist_name) != _normalise_dist(plugin_dir.name):
        problems.append(f"{plugin_dir.name}: distribution is named {dist_name!r}")
    eps = project.get("entry-points", {}).get(PROJECT, {})
    if not eps:
        return [*problems, f"{plugin_dir.name}: no entry point in group {PROJECT!r}"]
    try:
        installed = metadata.distribution(dist_name)
    except metadata.PackageNotFoundError:
        return [*problems, f"{plugin_dir.name}: distribution {dist_name!r} is not installed"]
    installed_eps = {ep.name for ep in installed.entry_points if ep.group == PROJECT}
    by_name = {i.name: i for i in infos}
    for ep_name, target in eps.items():
        if not str(target).startswith("pixbridge_"):
            problems.append(f"{plugin_dir.name}: entry point {ep_name} = {target!r}")
        if ep_name not in installed_eps:
            problems.append(f"{plugin_dir.name}: entry point {ep_name!r} is not installed")
            continue
        info = by_name.get(ep_name)
        if info is None:
            problems.append(f"{plugin_dir.name}: load_plugins() did not see {ep_name!r}")
        elif info.error is not None or info.disabled:
            problems.append(f"{plugin_dir.name}: {ep_name!r} did not load: {info.error}")
        elif _normalise_dist(info.distribution) != _normalise_dist(dist_name):
            problems.append(f"{plugin_dir.name}: {ep_name!r} came from {info.distribution}")
    return problems


def test_every_bundled_plugin_is_installed_and_loads() -> None:
    plugin_dirs = sorted(p for p in (REPO / "plugins").glob("pixbridge-*") if p.is_dir())
    # load_plugins() raises PluginError if any installed plugin implements an unknown hook or
    # registers a clashing adapter: that is part of the check.
    infos = load_plugins().infos if plugin_dirs else []
    problems = [problem for d in plugin_dirs for problem in _bundled_plugin_problems(d, infos)]
    assert problems == []


def test_bundled_plugin_check_reports_an_uninstalled_plugin(tmp_path: Path) -> None:
    # The loop above passes trivially while plugins/ is empty; prove the check itself bites.
    plugin_dir = tmp_path / "pixbridge-nowhere"
    plugin_dir.mkdir()
    assert _bundled_plugin_problems(plugin_dir, []) == ["pixbridge-nowhere: no pyproject.toml"]
    (plugin_dir / "pyproject.toml").write_text(
        '[project]\nname = "pixbridge-nowhere"\nversion = "0.1"\n', encoding="utf-8"
    )
    assert _bundled_plugin_problems(plugin_dir, []) == [
        "pixbridge-nowhere: no entry point in group 'pixbridge'"
    ]
    (plugin_dir / "pyproject.toml").write_text(
        '[project]\nname = "pixbridge-nowhere"\nversion = "0.1"\n'
        '[project.entry-points.pixbridge]\nnowhere = "pixbridge_nowhere"\n',
        encoding="utf-8",
    )
    assert _bundled_plugin_problems(plugin_dir, []) == [
        "pixbridge-nowhere: distribution 'pixbridge-nowhere' is not installed"
    ]


def test_bundled_plugin_check_accepts_an_installed_distribution(tmp_path: Path) -> None:
    # pixbridge itself is installed; pretend it were a bundled plugin with one entry point.
    plugin_dir = tmp_path / "pixbridge"
    plugin_dir.mkdir()
    (plugin_dir / "pyproject.toml").write_text(
        '[project]\nname = "pixbridge"\nversion = "0.1"\n'
        '[project.entry-points.pixbridge]\nfake = "pixbridge_fake"\n',
        encoding="utf-8",
    )
    assert _bundled_plugin_problems(plugin_dir, []) == [
        "pixbridge: entry point 'fake' is not installed"
    ]


def test_public_api_exports_the_hookimpl_marker() -> None:
    # Plugins import pixbridge.hookimpl, never pluggy.
    assert pixbridge.hookimpl is hookimpl
    assert hookimpl.project_name == PROJECT == "pixbridge"
