"""Command handlers, one module per NetFn group; each module exposes a CommandTable `table`."""

from __future__ import annotations

import importlib

from pybmc.commands.dispatch import CommandTable

MODULES = (
    "session",
    "app",
    "chassis",
    "transport",
    "storage",
    "sensor",
    "watchdog",
    "system_interface",
    "payload",
)


def all_tables() -> list[CommandTable]:
    return [importlib.import_module(f"pybmc.commands.{name}").table for name in MODULES]
