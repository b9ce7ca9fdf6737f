"""Registers every built-in command on the ``pixbridge`` group at once, importing them all.

``pixbridge`` itself does not import this: the group loads a built-in command only when it runs
(:data:`pixbridge.cli.main.BUILTIN_COMMANDS`). Importing this module fills ``cli.commands`` for
code that looks there, such as tests. A command already added (a plugin's) is kept.
"""

from __future__ import annotations

from pixbridge.cli.main import BUILTIN_COMMANDS, cli

for _name in BUILTIN_COMMANDS:
    if _name not in cli.commands:
        cli.add_command(cli.load_lazy_command(_name), _name)
