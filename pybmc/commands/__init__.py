"""Command handlers, one module per NetFn group; each module exposes a CommandTable `table`."""

from __future__ import annotations

from pybmc.commands import (
    app,
    bus,
    chassis,
    dcmi,
    firewall,
    payload,
    sensor,
    session,
    storage,
    system_interface,
    transport,
    watchdog,
)
from pybmc.commands.dispatch import CommandTable

# Every table the dispatcher serves, imported explicitly so a reader (and the import graph)
# sees them; the order is the order the dispatcher checks them for duplicates.
TABLES: tuple[CommandTable, ...] = (
    session.table,
    app.table,
    chassis.table,
    transport.table,
    storage.table,
    sensor.table,
    watchdog.table,
    system_interface.table,
    payload.table,
    dcmi.table,
    firewall.table,
    bus.table,
)


def all_tables() -> list[CommandTable]:
    return list(TABLES)
