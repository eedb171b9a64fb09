"""One dispatcher for every channel: (netfn, cmd) -> a small handler with a minimum privilege.

A handler is `def handler(ctx: Context, data: bytes) -> bytes`: it returns the response data that
follows a zero completion code, or raises `CommandError(cc)`. It never sees sockets or sessions'
wire formats, only the Context, so the LAN channel and the in-band system interface share it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from pybmc.wire.codes import CURRENT_CHANNEL, Cc, Privilege
from pybmc.wire.errors import CommandError
from pybmc.wire.redact import redact_request

if TYPE_CHECKING:
    from pybmc.config.bmc import BmcConfig
    from pybmc.model.chassis import ChassisRuntime
    from pybmc.model.dcmi import Dcmi
    from pybmc.model.lan import Lan
    from pybmc.model.lockout import Lockout
    from pybmc.model.platform import Platform
    from pybmc.model.power import PowerBackend
    from pybmc.model.state import Changes, State
    from pybmc.model.system_interface import SystemInterface
    from pybmc.model.users import Users
    from pybmc.model.watchdog import Watchdog

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

    @property
    def encrypted(self) -> bool:
        """Whether the session's payloads are encrypted (its cipher suite has confidentiality)."""
        ...

    def set_privilege(self, privilege: Privilege) -> None: ...

    def close(self) -> None: ...


class LoginRequests(Protocol):
    """What a session-less LAN request may do to log in (IPMI 1.5): the session layer's
    answers (completion code + data) to Get Session Challenge and Activate Session, for the
    peer it came from."""

    def get_session_challenge(self, data: bytes) -> bytes: ...

    def activate_session(self, data: bytes) -> bytes: ...


class SessionTable(Protocol):
    """The active sessions, as Get Session Info and Close Session see them."""

    @property
    def sessions(self) -> Sequence[SessionView]: ...

    def find_session(self, session_id: int) -> SessionView | None: ...

    def find_by_handle(self, handle: int) -> SessionView | None: ...


class SolActivation(Protocol):
    session: SessionView


class SolControl(Protocol):
    """The BMC's one SOL instance, as the payload commands drive it."""

    @property
    def active(self) -> SolActivation | None: ...

    def activate(self, session: SessionView, encrypted: bool, authenticated: bool,
                 retry_count: int, retry_interval: float, now: float) -> None: ...

    def deactivate(self, reason: str) -> None: ...


# Run a request as if it arrived on `channel` (Send Message addressed to the BMC itself):
# (channel, privilege, now, netfn, cmd, data) -> completion code + response data.
Execute = Callable[[int, Privilege, float, int, int, bytes], bytes]


@dataclass(frozen=True, slots=True)
class BmcParts:
    """The typed parts of one BMC that handlers work on; built once by the core."""

    name: str
    config: BmcConfig
    guid: bytes  # the System GUID as it goes on the wire (least significant byte first)
    state: State
    changes: Changes
    users: Users
    lan: Lan
    chassis: ChassisRuntime
    platform: Platform
    power: PowerBackend
    watchdog: Watchdog
    system_interface: SystemInterface
    sessions: SessionTable
    sol: SolControl
    dcmi: Dcmi
    execute: Execute
    lockout: Lockout
    # (netfn, cmd) of every command the dispatcher answers: the firmware firewall reports them.
    commands: frozenset[tuple[int, int]] = frozenset()


class Context:
    """Everything a handler needs to answer one request: the request's channel, privilege,
    session and time, and the typed parts of the BMC it reaches (never the BMC itself)."""

    __slots__ = ("channel", "login", "lun", "now", "parts", "privilege", "session")

    def __init__(self, parts: BmcParts, channel: int, privilege: Privilege,
                 session: SessionView | None = None, now: float = 0.0, lun: int = 0,
                 login: LoginRequests | None = None) -> None:
        self.parts = parts
        self.login = login  # set for session-less LAN requests only
        self.channel = channel
        self.privilege = privilege
        self.session = session
        self.now = now
        self.lun = lun  # the responder LUN the request addressed (sensors live on LUN 0)

    # The parts, by name; a handler reads only the ones it needs.
    @property
    def name(self) -> str:
        return self.parts.name

    @property
    def config(self) -> BmcConfig:
        return self.parts.config

    @property
    def guid(self) -> bytes:
        return self.parts.guid

    @property
    def state(self) -> State:
        return self.parts.state

    @property
    def changes(self) -> Changes:
        return self.parts.changes

    @property
    def users(self) -> Users:
        return self.parts.users

    @property
    def lan(self) -> Lan:
        return self.parts.lan

    @property
    def chassis(self) -> ChassisRuntime:
        return self.parts.chassis

    @property
    def platform(self) -> Platform:
        return self.parts.platform

    @property
    def power(self) -> PowerBackend:
        return self.parts.power

    @property
    def watchdog(self) -> Watchdog:
        return self.parts.watchdog

    @property
    def system_interface(self) -> SystemInterface:
        return self.parts.system_interface

    @property
    def sessions(self) -> SessionTable:
        return self.parts.sessions

    @property
    def sol(self) -> SolControl:
        return self.parts.sol

    @property
    def dcmi(self) -> Dcmi:
        return self.parts.dcmi

    @property
    def lockout(self) -> Lockout:
        return self.parts.lockout

    @property
    def commands(self) -> frozenset[tuple[int, int]]:
        return self.parts.commands

    def execute(self, channel: int, privilege: Privilege, netfn: int, cmd: int,
                data: bytes) -> bytes:
        return self.parts.execute(channel, privilege, self.now, netfn, cmd, data)

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
                ctx.name, command.name, command.privilege.name, ctx.privilege.name,
            )
            return bytes([Cc.INSUFFICIENT_PRIVILEGE])
        if not command.length_ok(len(data)):
            return bytes([Cc.REQUEST_DATA_LENGTH_INVALID])
        try:
            return bytes([Cc.OK]) + command.handler(ctx, data)
        except CommandError as err:
            log.debug("%s: %s -> %#04x %s", ctx.name, command.name, err.cc, err)
            return bytes([err.cc]) + err.data
        except Exception:
            # A handler bug must cost one reply, never the server or other sessions.
            log.exception("%s: handler %s failed on data %s", ctx.name, command.name,
                          redact_request(netfn, cmd, data))
            return bytes([Cc.UNSPECIFIED])
