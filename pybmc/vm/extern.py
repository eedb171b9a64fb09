"""The in-band link to the guest: QEMU's `ipmi-bmc-extern` device and OpenIPMI's "VM" serial codec.

QEMU connects to us (a chardev socket client, `reconnect=N`) and carries every request the guest
writes to its KCS interface:

    request   seq, netfn<<2|lun, cmd, data..., checksum, A0
    response  seq, (netfn|1)<<2|lun, cmd, completion code, data..., checksum, A0
    control   command, [data], A1

The checksum makes the unescaped frame sum to zero. A0, A1 and AA inside a frame travel as
`AA, byte|0x10`. Control commands: version (FF 01) both ways on connect, capabilities (08 flags)
from QEMU, RESET (04) from QEMU when the guest resets; from us ATN on/off (00/01/02), IRQ
enable/disable (05/06), power off (03), reset (04), NMI (07) and ACPI power button (09).

`VmConnection` is the sans-IO protocol; `InBandServer` is the asyncio edge that listens on a unix
socket (or TCP host:port), runs each request through `bmc.execute_in_band` and keeps the guest's
ATN line and interrupt enable in step with the BMC's system interface state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum, IntFlag
from pathlib import Path
from typing import TYPE_CHECKING

from pybmc.ipmi.codes import Cc
from pybmc.ipmi.commands.system_interface import (
    ENABLE_RECEIVE_INTERRUPT,
    SystemInterface,
    system_interface_of,
)
from pybmc.ipmi.commands.watchdog import Watchdog, host_reset, watchdog_of
from pybmc.ipmi.message import checksum

if TYPE_CHECKING:
    from pybmc.bmc import Bmc

log = logging.getLogger("pybmc.inband")

MSG_END = 0xA0
CMD_END = 0xA1
ESCAPE = 0xAA
SPECIAL = frozenset((MSG_END, CMD_END, ESCAPE))
PROTOCOL_VERSION = 1
# QEMU sends at most a 300-byte KCS message plus seq and checksum; anything longer is garbage.
MAX_FRAME = 320
# Why FrameDecoder rejects a frame.
CUT_ESCAPE = "frame ends inside an escape"
TOO_LONG = "frame too long"


class VmCommand(IntEnum):
    """Control command bytes (QEMU hw/ipmi/ipmi_bmc_extern.c, OpenIPMI lanserv/serial_ipmi.c)."""

    NOATTN = 0x00
    ATTN = 0x01
    ATTN_IRQ = 0x02
    POWEROFF = 0x03
    RESET = 0x04
    ENABLE_IRQ = 0x05
    DISABLE_IRQ = 0x06
    SEND_NMI = 0x07
    CAPABILITIES = 0x08
    GRACEFUL_SHUTDOWN = 0x09
    VERSION = 0xFF


class VmCapability(IntFlag):
    """What the VM end says it can do (the byte after CAPABILITIES)."""

    NONE = 0
    POWER = 0x01
    RESET = 0x02
    IRQ = 0x04
    NMI = 0x08
    ATTN = 0x10
    GRACEFUL_SHUTDOWN = 0x20


# A command we send is only understood if the VM announced the matching capability.
REQUIRED_CAPABILITY = {
    VmCommand.NOATTN: VmCapability.ATTN,
    VmCommand.ATTN: VmCapability.ATTN,
    VmCommand.ATTN_IRQ: VmCapability.ATTN | VmCapability.IRQ,
    VmCommand.POWEROFF: VmCapability.POWER,
    VmCommand.RESET: VmCapability.RESET,
    VmCommand.ENABLE_IRQ: VmCapability.IRQ,
    VmCommand.DISABLE_IRQ: VmCapability.IRQ,
    VmCommand.SEND_NMI: VmCapability.NMI,
    VmCommand.GRACEFUL_SHUTDOWN: VmCapability.GRACEFUL_SHUTDOWN,
    VmCommand.VERSION: VmCapability.NONE,
}


# ----------------------------------------------------------------------------- events
@dataclass(frozen=True, slots=True)
class VmRequest:
    """An IPMI request from the guest; `seq` is QEMU's message id, echoed in the response."""

    seq: int
    netfn: int
    lun: int
    cmd: int
    data: bytes


@dataclass(frozen=True, slots=True)
class VersionReceived:
    version: int | None


@dataclass(frozen=True, slots=True)
class CapabilitiesReceived:
    capabilities: VmCapability


@dataclass(frozen=True, slots=True)
class GuestReset:
    """QEMU reset the machine (guest reboot, system_reset, or its own start-up reset)."""


@dataclass(frozen=True, slots=True)
class OtherControl:
    command: int
    data: bytes


@dataclass(frozen=True, slots=True)
class FrameDropped:
    """A frame that cannot be used: bad checksum, cut escape, too short. Only logged."""

    reason: str
    frame: bytes


VmEvent = (VmRequest | VersionReceived | CapabilitiesReceived | GuestReset | OtherControl
           | FrameDropped)


# ----------------------------------------------------------------------------- encoding
def escape(raw: bytes) -> bytes:
    """Escape the three framing bytes: b -> AA, b|0x10."""
    out = bytearray()
    for byte in raw:
        if byte in SPECIAL:
            out += bytes((ESCAPE, byte | 0x10))
        else:
            out.append(byte)
    return bytes(out)


def encode_message(header: bytes, body: bytes = b"") -> bytes:
    """One message frame: escaped header + body + checksum, then A0."""
    raw = header + body
    return escape(raw + bytes([checksum(raw)])) + bytes([MSG_END])


def encode_request(request: VmRequest) -> bytes:
    """A request as QEMU writes it (used by tests and fake VMs)."""
    header = bytes([request.seq, (request.netfn << 2) | request.lun, request.cmd])
    return encode_message(header, request.data)


def encode_response(request: VmRequest, result: bytes) -> bytes:
    """The response to `request`; `result` is the completion code followed by the data."""
    header = bytes([request.seq, ((request.netfn | 1) << 2) | request.lun, request.cmd])
    return encode_message(header, result)


def encode_control(command: int, data: bytes = b"") -> bytes:
    return escape(bytes([command]) + data) + bytes([CMD_END])


# ----------------------------------------------------------------------------- decoding
class FrameDecoder:
    """Splits the byte stream into frames and removes the escapes (no interpretation)."""

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self.max_frame = max_frame
        self._frame = bytearray()
        self._in_escape = False
        self._overflow = False

    def feed(self, data: bytes) -> list[tuple[int, bytes, str | None]]:
        """Returns (end byte, unescaped frame, problem or None) for each frame completed."""
        frames: list[tuple[int, bytes, str | None]] = []
        for byte in data:
            if byte in (MSG_END, CMD_END):
                frames.append((byte, bytes(self._frame), self._problem()))
                self._frame.clear()
                self._in_escape = False
                self._overflow = False
            elif byte == ESCAPE:
                self._in_escape = True
            else:
                if self._in_escape:
                    byte &= ~0x10
                    self._in_escape = False
                if len(self._frame) >= self.max_frame:
                    self._overflow = True
                else:
                    self._frame.append(byte)
        return frames

    def _problem(self) -> str | None:
        if self._in_escape:
            return CUT_ESCAPE
        if self._overflow:
            return TOO_LONG
        return None


class VmConnection:
    """The protocol state of one link to a VM; bytes in, events and writes out.

    Each item of `writes_to_send()` must go out as its own write: QEMU acts on the first
    control command in a read and drops the rest of that read buffer.
    """

    def __init__(self) -> None:
        self.decoder = FrameDecoder()
        self.capabilities = VmCapability.NONE
        self.peer_version: int | None = None
        self._writes: list[bytes] = []

    def connection_made(self) -> None:
        """Start the handshake: our protocol version, sent on every (re)connect."""
        self.send_control(VmCommand.VERSION, bytes([PROTOCOL_VERSION]))

    def receive_data(self, data: bytes) -> list[VmEvent]:
        events: list[VmEvent] = []
        for end, frame, problem in self.decoder.feed(data):
            if not frame and problem is None:
                continue  # an empty frame is a no-op on both ends
            event = (self._message(frame, problem) if end == MSG_END
                     else self._control(frame, problem))
            if event is not None:
                events.append(event)
        return events

    def _message(self, frame: bytes, problem: str | None) -> VmEvent | None:
        if problem == TOO_LONG and len(frame) >= 3:
            # Like QEMU's own end: answer "request data truncated" instead of a 4 s timeout.
            request = VmRequest(frame[0], frame[1] >> 2, frame[1] & 3, frame[2], b"")
            self.send_response(request, bytes([Cc.REQUEST_DATA_TRUNCATED]))
            return FrameDropped(problem, frame)
        if problem is not None:
            return FrameDropped(problem, frame)
        if len(frame) < 4:
            return FrameDropped("message too short", frame)
        if sum(frame) & 0xFF:
            return FrameDropped("bad checksum", frame)
        return VmRequest(frame[0], frame[1] >> 2, frame[1] & 3, frame[2], bytes(frame[3:-1]))

    def _control(self, frame: bytes, problem: str | None) -> VmEvent | None:
        if problem is not None:
            return FrameDropped(problem, frame)
        command, data = frame[0], bytes(frame[1:])
        if command == VmCommand.VERSION:
            self.peer_version = data[0] if data else None
            return VersionReceived(self.peer_version)
        if command == VmCommand.CAPABILITIES and data:
            self.capabilities = VmCapability(data[0] & 0x3F)
            return CapabilitiesReceived(self.capabilities)
        if command == VmCommand.RESET:
            return GuestReset()
        return OtherControl(command, data)

    def can(self, command: VmCommand) -> bool:
        required = REQUIRED_CAPABILITY.get(command, VmCapability.NONE)
        return required & self.capabilities == required

    def send_response(self, request: VmRequest, result: bytes) -> None:
        self._writes.append(encode_response(request, result))

    def send_control(self, command: VmCommand, data: bytes = b"") -> bool:
        """Queue a control command; False if the VM did not announce it can take it."""
        if not self.can(command):
            return False
        self._writes.append(encode_control(command, data))
        return True

    def writes_to_send(self) -> list[bytes]:
        writes, self._writes = self._writes, []
        return writes


# ----------------------------------------------------------------------------- asyncio edge
class _Link(asyncio.Protocol):
    """One accepted connection from QEMU; hands everything to its InBandServer."""

    def __init__(self, server: InBandServer) -> None:
        self.server = server
        self.protocol = VmConnection()
        self.transport: asyncio.Transport | None = None

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

    def connection_lost(self, exc: Exception | None) -> None:
        self.server._link_down(self, exc)

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


class InBandServer:
    """Accepts QEMU's ipmi-bmc-extern chardev and serves the guest's system interface.

    `InBandServer(bmc, "/run/pybmc/cn1/ipmi.sock")` listens on a unix socket;
    `InBandServer(bmc, host="127.0.0.1", port=9002)` on TCP. One VM link at a time: a new
    connection replaces the old one (QEMU reconnecting after a hiccup).
    """

    def __init__(self, bmc: Bmc, path: str | os.PathLike[str] | None = None, *,
                 host: str | None = None, port: int | None = None) -> None:
        if (path is None) == (port is None):
            raise ValueError("give either a unix socket path or a TCP port")
        self.bmc = bmc
        self.path = Path(path) if path is not None else None
        self.host = host or "127.0.0.1"
        self.port = port
        self._server: asyncio.AbstractServer | None = None
        self._link: _Link | None = None
        self._connected = asyncio.Event()
        self._reset_listeners: list[ResetListener] = []
        self._irq_enabled_sent: bool | None = None
        self._attention_pending = False
        self._watchdog_timer: asyncio.TimerHandle | None = None
        self.sysif: SystemInterface = system_interface_of(bmc)
        self.watchdog: Watchdog = watchdog_of(bmc)

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
            self._remove_stale_socket()
            self._server = await loop.create_unix_server(lambda: _Link(self), str(self.path))
        else:
            self._server = await loop.create_server(lambda: _Link(self), self.host, self.port)
            if not self.port:
                self.port = self._server.sockets[0].getsockname()[1]
        self.sysif.add_listener(self._on_sysif_change)
        self.watchdog.add_listener(self._arm_watchdog)
        self._arm_watchdog()
        log.info("%s: in-band IPMI (ipmi-bmc-extern) listening on %s", self.bmc.name,
                 self.address)

    async def stop(self) -> None:
        self.sysif.remove_listener(self._on_sysif_change)
        self.watchdog.remove_listener(self._arm_watchdog)
        if self._watchdog_timer is not None:
            self._watchdog_timer.cancel()
            self._watchdog_timer = None
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
    def _remove_stale_socket(self) -> None:
        assert self.path is not None
        try:
            mode = self.path.stat().st_mode
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(mode):
            raise FileExistsError(f"{self.path} exists and is not a socket")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            if probe.connect_ex(str(self.path)) == 0:
                raise OSError(f"{self.path} is in use by another listener")
        self.path.unlink()  # left behind by a process that is gone

    def _link_up(self, link: _Link) -> None:
        if self._link is not None:
            log.warning("%s: a new VM connection replaces the current one", self.bmc.name)
            old, self._link = self._link, None
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
                log.exception("%s: in-band event %r failed", self.bmc.name, event)
        self._sync_irq_enable(link)
        link.flush()

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
            log.warning("%s: in-band frame dropped: %s (%s)", self.bmc.name, event.reason,
                        event.frame.hex())

    def _execute(self, request: VmRequest) -> bytes:
        try:
            result = self.bmc.execute_in_band(request.netfn, request.cmd, request.data)
        except Exception:  # the dispatcher promises not to raise; this is the last guard
            log.exception("%s: in-band request %#04x/%#04x failed", self.bmc.name,
                          request.netfn, request.cmd)
            result = bytes([Cc.UNSPECIFIED])
        log.debug("%s: in-band %02x/%02x %s -> %s", self.bmc.name, request.netfn, request.cmd,
                  request.data.hex(), result.hex())
        return result or bytes([Cc.UNSPECIFIED])

    def _guest_reset(self) -> None:
        log.info("%s: the guest was reset", self.bmc.name)
        host_reset(self.bmc)
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

    # --------------------------------------------------------------- watchdog timing
    def _arm_watchdog(self) -> None:
        """Run the watchdog exactly when it is due (the NMI self-test allows only ~1 s)."""
        if self._watchdog_timer is not None:
            self._watchdog_timer.cancel()
            self._watchdog_timer = None
        deadline = self.watchdog.get_timer()
        if deadline is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # changed outside the event loop; Bmc.tick still runs it
            return
        # loop.time() is time.monotonic(), the clock the watchdog is given.
        self._watchdog_timer = loop.call_at(deadline, self._watchdog_due)

    def _watchdog_due(self) -> None:
        self._watchdog_timer = None
        try:
            self.watchdog.tick(time.monotonic())
        except Exception:
            log.exception("%s: watchdog tick failed", self.bmc.name)
        self._arm_watchdog()
