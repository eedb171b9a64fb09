"""The in-band listener: accepts QEMU's `ipmi-bmc-extern` connection and serves the guest.

The wire protocol is `pybmc.protocol.inband.VmConnection`; this module is the asyncio edge that
listens on a unix socket (or TCP host:port), runs each request through `bmc.execute_in_band` and
keeps the guest's ATN line and interrupt enable in step with the BMC's system interface state.
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import ipaddress
import logging
import os
import socket
import struct
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pybmc.edge.unix_socket import bind_private, remove_stale_socket
from pybmc.model.system_interface import ENABLE_RECEIVE_INTERRUPT, SystemInterface
from pybmc.protocol.inband import (
    PROTOCOL_VERSION,
    CapabilitiesReceived,
    FrameDropped,
    GuestReset,
    OtherControl,
    VersionReceived,
    VmCapability,
    VmCommand,
    VmConnection,
    VmEvent,
    VmRequest,
)
from pybmc.wire.codes import Cc
from pybmc.wire.redact import redact_request, redact_response

if TYPE_CHECKING:
    from pybmc.core.bmc import Bmc

log = logging.getLogger("pybmc.inband")

class _Link(asyncio.Protocol):
    """One accepted connection from QEMU; hands everything to its InBandServer."""

    def __init__(self, server: InBandServer) -> None:
        self.server = server
        self.protocol = VmConnection()
        self.transport: asyncio.Transport | None = None
        self.eof_seen = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        self.server._link_up(self)

    def data_received(self, data: bytes) -> None:
        self.server._data_from(self, data)

    def eof_received(self) -> bool | None:
        self.eof_seen = True
        return None  # close our end too

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof_seen = True
        self.server._link_down(self, exc)

    def is_dead(self) -> bool:
        """The VM end is gone: EOF or an error already seen, or an EOF waiting unread.

        A VM that restarts (QEMU's reconnect) closes its old connection before it opens the new
        one, and on a loopback or unix socket the kernel always delivers that close; but the
        event loop may accept the new connection before it reads the old one's EOF, so the
        socket is peeked as well. A link with no EOF is live, however quiet.
        """
        if self.eof_seen or self.transport is None or self.transport.is_closing():
            return True
        sock = self.transport.get_extra_info("socket")
        if sock is None:
            return False
        try:
            with socket.socket(fileno=os.dup(sock.fileno())) as probe:
                return probe.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    def peer(self) -> str:
        """Who connected, for log lines: host:port, or the pid and uid of a unix peer."""
        if self.transport is None:
            return "?"
        sock = self.transport.get_extra_info("socket")
        if sock is not None and sock.family == socket.AF_UNIX:
            with contextlib.suppress(OSError):
                creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                        struct.calcsize("3i"))
                pid, uid, _gid = struct.unpack("3i", creds)
                return f"pid {pid} uid {uid}"
            return "a unix socket peer"
        peername = self.transport.get_extra_info("peername")
        return f"{peername[0]}:{peername[1]}" if peername else "?"

    def flush(self) -> None:
        writes = self.protocol.writes_to_send()
        if self.transport is None or self.transport.is_closing():
            return
        for chunk in writes:
            self.transport.write(chunk)

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


ResetListener = Callable[[], None]


def socket_gid(group: str | None) -> int | None:
    """[in_band] socket_group as a GID (a name or a number); None for a private socket."""
    if not group:
        return None
    if group.isdigit():
        return int(group)
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise OSError(f"[in_band] socket_group {group!r}: no such group") from None


class InBandServer:
    """Accepts QEMU's ipmi-bmc-extern chardev and serves the guest's system interface.

    `InBandServer(bmc, "/run/pybmc/cn1/ipmi.sock")` listens on a unix socket;
    `InBandServer(bmc, host="127.0.0.1", port=9002)` on TCP (loopback only). One VM link at a
    time: a new connection while the link is live is refused (closed, with a warning); it takes
    over only once the old one is dead (see `_Link.is_dead`), as when QEMU reconnects.
    """

    def __init__(self, bmc: Bmc, path: str | os.PathLike[str] | None = None, *,
                 host: str | None = None, port: int | None = None,
                 group: str | None = None) -> None:
        if (path is None) == (port is None):
            raise ValueError("give either a unix socket path or a TCP port")
        self.bmc = bmc
        self.path = Path(path) if path is not None else None
        self.group = group  # the unix socket is 0660 and this group's ([in_band] socket_group)
        self.host = host or "127.0.0.1"
        self.port = port
        self._server: asyncio.AbstractServer | None = None
        self._link: _Link | None = None
        self._connected = asyncio.Event()
        self._reset_listeners: list[ResetListener] = []
        self._irq_enabled_sent: bool | None = None
        self._attention_pending = False
        self.sysif: SystemInterface = bmc.system_interface
        # Called after each batch of in-band requests: the BMC's timer may have moved (a
        # watchdog set or reset from the guest), and the edge re-arms it.
        self.after_input: Callable[[], None] = lambda: None

    # --------------------------------------------------------------- public API
    @property
    def address(self) -> str:
        return str(self.path) if self.path is not None else f"{self.host}:{self.port}"

    @property
    def connected(self) -> bool:
        return self._link is not None

    @property
    def capabilities(self) -> VmCapability:
        """What the connected VM announced (NONE while no VM is connected)."""
        return self._link.protocol.capabilities if self._link is not None else VmCapability.NONE

    def qemu_args(self, reconnect: str = "reconnect=1", chardev_id: str = "ipmi0",
                  bmc_id: str = "bmc0") -> list[str]:
        """QEMU options that connect an ipmi-bmc-extern + isa-ipmi-kcs to this server.

        `reconnect` is "reconnect=N" (QEMU < 9.2, seconds) or "reconnect-ms=N" (9.2 and later).
        """
        where = (f"path={self.path}" if self.path is not None
                 else f"host={self.host},port={self.port}")
        return ["-chardev", f"socket,id={chardev_id},{where},{reconnect}",
                "-device", f"ipmi-bmc-extern,chardev={chardev_id},id={bmc_id}",
                "-device", f"isa-ipmi-kcs,bmc={bmc_id}"]

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self.path is not None:
            remove_stale_socket(self.path)
            sock = bind_private(self.path, group=socket_gid(self.group))
            self._server = await loop.create_unix_server(lambda: _Link(self), sock=sock)
        else:
            self._server = await loop.create_server(lambda: _Link(self), self.host, self.port)
            self._refuse_non_loopback()
            if not self.port:
                self.port = self._server.sockets[0].getsockname()[1]
        self.sysif.add_listener(self._on_sysif_change)
        log.info("%s: in-band IPMI (ipmi-bmc-extern) listening on %s", self.bmc.name,
                 self.address)
        if self.path is None:
            log.warning("%s: in-band TCP listener %s: any local process can connect and act "
                        "as the guest's system interface (administrator, no password); "
                        "prefer unix:PATH, which only this user can connect to",
                        self.bmc.name, self.address)

    async def stop(self) -> None:
        self.sysif.remove_listener(self._on_sysif_change)
        if self._server is not None:
            self._server.close()
        if self._link is not None:
            self._link.close()
            self._link = None
            self._connected.clear()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    async def wait_connected(self, timeout: float | None = None) -> bool:
        """Wait until QEMU has connected and announced its capabilities."""
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def add_reset_listener(self, listener: ResetListener) -> None:
        """`listener()` runs when QEMU reports that the guest was reset."""
        self._reset_listeners.append(listener)

    def send_control(self, command: VmCommand) -> bool:
        """Send one control command as its own write; False if not connected or not capable."""
        link = self._link
        if link is None:
            log.info("%s: in-band %s not sent: no VM connected", self.bmc.name, command.name)
            return False
        if not link.protocol.send_control(command):
            log.info("%s: in-band %s not sent: the VM lacks the capability (%s)",
                     self.bmc.name, command.name, link.protocol.capabilities)
            return False
        link.flush()
        log.info("%s: to VM: %s", self.bmc.name, command.name)
        return True

    def send_power_off(self) -> bool:
        """Immediate power off (QEMU shutdown request; the QEMU process exits)."""
        return self.send_control(VmCommand.POWEROFF)

    def send_reset(self) -> bool:
        return self.send_control(VmCommand.RESET)

    def send_graceful_shutdown(self) -> bool:
        """The ACPI power button; the guest OS decides."""
        return self.send_control(VmCommand.GRACEFUL_SHUTDOWN)

    def send_nmi(self) -> bool:
        return self.send_control(VmCommand.SEND_NMI)

    # --------------------------------------------------------------- link events
    def _refuse_non_loopback(self) -> None:
        """The config allows loopback hosts only; "localhost" must not resolve elsewhere."""
        assert self._server is not None
        for sock in self._server.sockets:
            host = sock.getsockname()[0]
            if not ipaddress.ip_address(host.split("%")[0]).is_loopback:
                self._server.close()
                self._server = None
                raise OSError(f"in-band listener {self.host}:{self.port} bound {host}, "
                              "which is not a loopback address")

    def _link_up(self, link: _Link) -> None:
        if self._link is not None:
            if not self._link.is_dead():
                log.warning("%s: in-band connection from %s refused: a VM link is already "
                            "connected on %s", self.bmc.name, link.peer(), self.address)
                link.close()
                return
            log.info("%s: the previous VM link is gone; the new connection takes over",
                     self.bmc.name)
            old, self._link = self._link, None
            self._connected.clear()
            old.close()
        self._link = link
        self._irq_enabled_sent = None
        link.protocol.connection_made()
        link.flush()
        log.info("%s: VM connected on %s", self.bmc.name, self.address)

    def _link_down(self, link: _Link, exc: Exception | None) -> None:
        if link is not self._link:
            return
        self._link = None
        self._connected.clear()
        log.info("%s: VM disconnected%s", self.bmc.name, f" ({exc})" if exc else "")

    def _data_from(self, link: _Link, data: bytes) -> None:
        if link is not self._link:
            return
        for event in link.protocol.receive_data(data):
            try:
                self._handle(link, event)
            except Exception:  # one bad event must not cost the guest its BMC link
                log.exception("%s: in-band %s failed", self.bmc.name, _describe(event))
        self._sync_irq_enable(link)
        link.flush()
        self.after_input()

    def _handle(self, link: _Link, event: VmEvent) -> None:
        if isinstance(event, VmRequest):
            link.protocol.send_response(event, self._execute(event))
        elif isinstance(event, CapabilitiesReceived):
            log.info("%s: VM capabilities %#04x (%s)", self.bmc.name, int(event.capabilities),
                     event.capabilities)
            self._irq_enabled_sent = None
            self._schedule_attention()
            self._connected.set()
        elif isinstance(event, VersionReceived):
            if event.version != PROTOCOL_VERSION:
                log.warning("%s: VM protocol version %s (expected %d)", self.bmc.name,
                            event.version, PROTOCOL_VERSION)
        elif isinstance(event, GuestReset):
            self._guest_reset()
        elif isinstance(event, OtherControl):
            log.info("%s: ignoring VM control command %#04x %s", self.bmc.name, event.command,
                     event.data.hex())
        elif isinstance(event, FrameDropped):
            # The header only: the data may hold a password (Set User Password).
            log.warning("%s: in-band frame dropped: %s (%d bytes, starting %s)", self.bmc.name,
                        event.reason, len(event.frame), event.frame[:3].hex())

    def _execute(self, request: VmRequest) -> bytes:
        try:
            result = self.bmc.execute_in_band(request.netfn, request.cmd, request.data)
        except Exception:  # the dispatcher promises not to raise; this is the last guard
            log.exception("%s: in-band request %#04x/%#04x failed", self.bmc.name,
                          request.netfn, request.cmd)
            result = bytes([Cc.UNSPECIFIED])
        log.debug("%s: in-band %02x/%02x %s -> %s", self.bmc.name, request.netfn, request.cmd,
                  redact_request(request.netfn, request.cmd, request.data),
                  redact_response(request.netfn, request.cmd, request.data, result))
        return result or bytes([Cc.UNSPECIFIED])

    def _guest_reset(self) -> None:
        log.info("%s: the guest was reset", self.bmc.name)
        self.bmc.host_reset()
        for listener in list(self._reset_listeners):
            try:
                listener()
            except Exception:
                log.exception("%s: reset listener failed", self.bmc.name)

    # --------------------------------------------------------------- ATN and IRQ enable
    def _sync_irq_enable(self, link: _Link) -> None:
        """Mirror the Global Enables receive-interrupt bit into the VM's interface."""
        wanted = bool(self.bmc.state.global_enables & ENABLE_RECEIVE_INTERRUPT)
        if wanted == self._irq_enabled_sent or not link.protocol.capabilities:
            return
        command = VmCommand.ENABLE_IRQ if wanted else VmCommand.DISABLE_IRQ
        if link.protocol.send_control(command):
            log.debug("%s: to VM: %s", self.bmc.name, command.name)
            self._irq_enabled_sent = wanted

    def _on_sysif_change(self) -> None:
        self._schedule_attention()

    def _schedule_attention(self) -> None:
        # Deferred so that the response to the request that changed the flags goes first.
        if self._attention_pending:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # changed outside the event loop (a test); the next change tells
            return
        self._attention_pending = True
        loop.call_soon(self._send_attention)

    def _send_attention(self) -> None:
        self._attention_pending = False
        link = self._link
        if link is None or not link.protocol.capabilities:
            return
        self._sync_irq_enable(link)
        attention, irq = self.sysif.attention()
        if not attention:
            command = VmCommand.NOATTN
        elif irq and link.protocol.can(VmCommand.ATTN_IRQ):
            command = VmCommand.ATTN_IRQ
        else:
            command = VmCommand.ATTN
        if link.protocol.send_control(command):
            log.debug("%s: to VM: %s (flags %#04x)", self.bmc.name, command.name,
                      self.sysif.flags)
        link.flush()


def _describe(event: VmEvent) -> str:
    """An event for a log line; a request's data only with its secrets redacted."""
    if isinstance(event, VmRequest):
        return (f"request {event.netfn:#04x}/{event.cmd:#04x} "
                f"{redact_request(event.netfn, event.cmd, event.data)}")
    return type(event).__name__
