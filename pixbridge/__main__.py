"""``python -m pixbridge``: the same as the ``pixbridge`` command."""

from __future__ import annotations

from pixbridge.cli.main import main

if __name__ == "__main__":
    main()
