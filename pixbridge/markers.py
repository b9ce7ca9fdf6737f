"""The hook implementation marker, re-exported as :data:`pixbridge.hookimpl`."""

from __future__ import annotations

import pluggy

__all__ = ["PROJECT", "hookimpl"]

PROJECT = "pixbridge"
"""The pluggy project name, which is also the entry-point group plugins register under."""

hookimpl = pluggy.HookimplMarker(PROJECT)
"""Marks a function as an implementation of a pixbridge hook (see :mod:`pixbridge.hookspecs`)."""
