"""Registers the built-in commands on the ``pixbridge`` group."""

from __future__ import annotations

from pixbridge.cli import (
    config_cmd,
    license_cmd,
    mail_cmd,
    plugins_cmd,
    quarantine_cmd,
    release_cmd,
    requests_cmd,
    run_cmd,
)
from pixbridge.cli.main import cli

for module in (
    plugins_cmd,
    config_cmd,
    run_cmd,
    requests_cmd,
    mail_cmd,
    release_cmd,
    license_cmd,
    quarantine_cmd,
):
    for command in module.COMMANDS:
        cli.add_command(command)
