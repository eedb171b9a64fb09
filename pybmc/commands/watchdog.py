"""The watchdog commands (IPMI 2.0 section 27): Reset (06 22), Set (06 24), Get (06 25).

The timer itself is `pybmc.model.watchdog.Watchdog` (`ctx.watchdog`).
"""

from __future__ import annotations

from pybmc.commands.dispatch import CommandTable, Context
from pybmc.wire.codes import NetFn, Privilege

table = CommandTable()


# ------------------------------------------------------------------------------- commands
@table.command(NetFn.APP, 0x22, Privilege.OPERATOR, length=0)
def reset_watchdog_timer(ctx: Context, data: bytes) -> bytes:
    ctx.watchdog.reset(ctx.now)
    return b""


@table.command(NetFn.APP, 0x24, Privilege.OPERATOR, length=6)
def set_watchdog_timer(ctx: Context, data: bytes) -> bytes:
    ctx.watchdog.set(data, ctx.now)
    return b""


@table.command(NetFn.APP, 0x25, Privilege.USER, length=0)
def get_watchdog_timer(ctx: Context, data: bytes) -> bytes:
    watchdog = ctx.watchdog
    watchdog.tick(ctx.now)  # a Get between server ticks still sees an expiry that is due
    return watchdog.get(ctx.now)
