"""One dispatcher for every channel: (netfn, cmd) -> a small handler with a minimum privilege.

A handler is `def handler(ctx: Context, data: bytes) -> bytes`: it returns the response data that
follows a zero completion code, or raises `CommandError(cc)`. It never sees sockets or sessions'
wire formats, only the Context, so the LAN channel and the in-band system interface share it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pybmc.wire.codes import CURRENT_CHANNEL, Cc, Privilege
from pybmc.wire.errors import CommandError

if TYPE_CHECKING:
    from pybmc.core.bmc import Bmc

log = logging.getLogger("pybmc.dispatch")


class SessionView(Protocol):
    """What a handler may know about, and do to, the session a request came in on."""

    session_id: int  # the BMC's session ID
    handle: int
    user_id: int
    user_name: bytes
    privilege: Privilege  # the current (operating) privilege
    max_privilege: Privilege  # the most this session may raise itself to
    channel: int
    remote: tuple[str, int]
    auth_type: int

    def set_privilege(self, privilege: Privilege) -> None: ...

    def close(self) -> None: ...


@dataclass
class Context:
    """Everything a handler needs to answer one request."""

    bmc: Bmc
    channel: int
    privilege: Privilege
    session: SessionView | None = None
    now: float = 0.0
    lun: int = 0
    extras: dict[str, Any] = field(default_factory=dict)

    def resolve_channel(self, channel: int) -> int:
        """Map 0x0E ("this channel") to the channel the request came in on."""
        channel &= 0x0F
        return self.channel if channel == CURRENT_CHANNEL else channel


Handler = Callable[[Context, bytes], bytes]
LengthSpec = int | tuple[int, int] | None


@dataclass(frozen=True)
class Command:
    netfn: int
    cmd: int
    name: str
    handler: Handler
    privilege: Privilege
    length: LengthSpec

    def length_ok(self, n: int) -> bool:
        if self.length is None:
            return True
        if isinstance(self.length, int):
            return n == self.length
        low, high = self.length
        return low <= n <= high


class CommandTable:
    """The commands of one module; the table is where a reader looks first."""

    def __init__(self) -> None:
        self.commands: dict[tuple[int, int], Command] = {}

    def command(
        self,
        netfn: int,
        cmd: int,
        privilege: Privilege,
        length: LengthSpec = None,
    ) -> Callable[[Handler], Handler]:
        """Register a handler. `length` is the exact request data length, or (min, max)."""

        def register(handler: Handler) -> Handler:
            key = (int(netfn), cmd)
            if key in self.commands:
                raise ValueError(f"duplicate handler for netfn {netfn:#x} cmd {cmd:#x}")
            self.commands[key] = Command(
                int(netfn), cmd, handler.__name__, handler, privilege, length
            )
            return handler

        return register


class Dispatcher:
    """Finds the handler, checks privilege and length, runs it, and never lets it raise."""

    def __init__(self, *tables: CommandTable) -> None:
        self.commands: dict[tuple[int, int], Command] = {}
        for table in tables:
            for key, command in table.commands.items():
                if key in self.commands:
                    raise ValueError(f"duplicate handler for {key}")
                self.commands[key] = command

    def lookup(self, netfn: int, cmd: int) -> Command | None:
        return self.commands.get((netfn, cmd))

    def dispatch(self, ctx: Context, netfn: int, cmd: int, data: bytes) -> bytes:
        """Run one request; returns the completion code followed by the response data."""
        command = self.commands.get((netfn, cmd))
        if command is None:
            return bytes([Cc.INVALID_COMMAND])
        if ctx.privilege < command.privilege:
            log.info(
                "%s: %s refused: needs %s, session has %s",
                ctx.bmc.name, command.name, command.privilege.name, ctx.privilege.name,
            )
            return bytes([Cc.INSUFFICIENT_PRIVILEGE])
        if not command.length_ok(len(data)):
            return bytes([Cc.REQUEST_DATA_LENGTH_INVALID])
        try:
            return bytes([Cc.OK]) + command.handler(ctx, data)
        except CommandError as err:
            log.debug("%s: %s -> %#04x %s", ctx.bmc.name, command.name, err.cc, err)
            return bytes([err.cc]) + err.data
        except Exception:
            # A handler bug must cost one reply, never the server or other sessions.
            log.exception("%s: handler %s failed on data %s", ctx.bmc.name, command.name,
                          data.hex())
            return bytes([Cc.UNSPECIFIED])
