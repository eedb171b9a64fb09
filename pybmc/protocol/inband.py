"""The in-band VM link protocol, sans-IO: QEMU's `ipmi-bmc-extern` / OpenIPMI "VM" codec.

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

import logging
from dataclasses import dataclass
from enum import IntEnum, IntFlag

from pybmc.wire.codes import Cc
from pybmc.wire.message import checksum

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
