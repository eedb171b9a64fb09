"""The SOL payload protocol (IPMI 2.0 section 15.9), BMC side, sans-IO.

One SolStream is one activated SOL instance. Guest output goes out in numbered packets (1..15),
one in flight at a time, resent until the console acknowledges it; console packets are
acknowledged at once with the number of characters accepted. Time comes in as `now`.

While the session lives, guest output is never dropped: after the configured retries a packet
keeps being resent, slower (SLOW_RETRY_INTERVAL; the session's idle timeout ends a dead
console), and
the bridge stops reading the guest while the backlog is full, so the guest waits instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Console -> BMC operation bits (byte 4).
OP_NACK = 0x40
OP_RING_WOR = 0x20
OP_GENERATE_BREAK = 0x10
OP_CTS_PAUSE = 0x08
OP_DROP_DCD_DSR = 0x04
OP_FLUSH_INBOUND = 0x02
OP_FLUSH_OUTBOUND = 0x01
# BMC -> console status bits (byte 4).
ST_NACK = 0x40
ST_TRANSFER_UNAVAILABLE = 0x20
ST_DEACTIVATING = 0x10
ST_TRANSMIT_OVERRUN = 0x08
ST_BREAK_DETECTED = 0x04

HEADER_SIZE = 4
# The accepted-character count is one byte, so no packet may carry more than 255 characters.
MAX_CHUNK = 255
SLOW_RETRY_INTERVAL = 2.0


class SolPacketError(ValueError):
    """A SOL payload too short to hold the four header bytes."""


@dataclass(frozen=True, slots=True)
class SolPacket:
    seq: int = 0  # 0 = acknowledgement only
    ack_seq: int = 0  # 0 = acknowledges nothing
    accepted: int = 0
    flags: int = 0  # operation (console -> BMC) or status (BMC -> console)
    data: bytes = b""

    @classmethod
    def decode(cls, raw: bytes) -> SolPacket:
        if len(raw) < HEADER_SIZE:
            raise SolPacketError(f"SOL payload of {len(raw)} bytes")
        return cls(raw[0] & 0x0F, raw[1] & 0x0F, raw[2], raw[3], bytes(raw[HEADER_SIZE:]))

    def encode(self) -> bytes:
        return bytes([self.seq & 0x0F, self.ack_seq & 0x0F, self.accepted & 0xFF,
                      self.flags & 0xFF]) + self.data


@dataclass
class _InFlight:
    seq: int
    data: bytes
    sent_at: float
    sends: int = 1


@dataclass
class SolStream:
    """The BMC's end of one SOL instance."""

    retry_count: int = 7
    retry_interval: float = 0.5
    chunk: int = MAX_CHUNK
    backlog_limit: int = 1 << 20
    _pending: bytearray = field(default_factory=bytearray)
    _in_flight: _InFlight | None = None
    _next_seq: int = 1
    _last_console_seq: int = 0
    _last_accepted: int = 0
    _outgoing: list[bytes] = field(default_factory=list)
    _console_input: bytearray = field(default_factory=bytearray)
    breaks: int = 0
    retransmits: int = 0
    # The console's "CTS pause" bit, carried by each of its packets: while set, the guest must
    # wait (as a UART with CTS deasserted does), so the bridge stops reading its serial port.
    cts_paused: bool = False

    # ------------------------------------------------------------------ inputs
    def guest_output(self, data: bytes, now: float) -> None:
        """Characters the guest wrote to its serial port."""
        self._pending += data
        self._send_next(now)

    def receive(self, raw: bytes, now: float) -> None:
        """One SOL payload from the console (already decrypted and verified)."""
        packet = SolPacket.decode(raw)
        self.cts_paused = bool(packet.flags & OP_CTS_PAUSE)
        if packet.ack_seq:
            self._handle_ack(packet, now)
        if packet.flags & OP_FLUSH_OUTBOUND:
            self._pending.clear()
        if packet.seq:
            self._handle_console_data(packet)
        self._send_next(now)

    def handle_timer(self, now: float) -> None:
        flight = self._in_flight
        if flight is None or now < flight.sent_at + self._interval(flight):
            return
        flight.sent_at = now
        flight.sends += 1
        self.retransmits += 1
        self._outgoing.append(SolPacket(flight.seq, data=flight.data).encode())

    # ------------------------------------------------------------------ outputs
    def packets_to_send(self) -> list[bytes]:
        out, self._outgoing = self._outgoing, []
        return out

    def take_console_input(self) -> bytes:
        """Characters the console typed, for the guest's serial port."""
        data = bytes(self._console_input)
        self._console_input.clear()
        return data

    def get_timer(self) -> float | None:
        if self._in_flight is None:
            return None
        return self._in_flight.sent_at + self._interval(self._in_flight)

    def _interval(self, flight: _InFlight) -> float:
        if flight.sends <= self.retry_count:
            return self.retry_interval
        return max(self.retry_interval, SLOW_RETRY_INTERVAL)

    @property
    def backlog(self) -> int:
        """Guest output not yet acknowledged; the bridge pauses reading when it is full."""
        return len(self._pending) + (len(self._in_flight.data) if self._in_flight else 0)

    @property
    def backlog_full(self) -> bool:
        return self.backlog >= self.backlog_limit

    # ------------------------------------------------------------------ internals
    def _handle_ack(self, packet: SolPacket, now: float) -> None:
        flight = self._in_flight
        if flight is None or packet.ack_seq != flight.seq:
            return  # a stale or duplicate acknowledgement
        if packet.flags & OP_NACK:
            # The console cannot take characters now: resend after the retry interval.
            accepted = min(packet.accepted, len(flight.data))
            if accepted:
                self._in_flight = None
                self._pending[0:0] = flight.data[accepted:]
            return
        accepted = min(packet.accepted, len(flight.data))
        self._in_flight = None
        if accepted < len(flight.data):
            # A partial acknowledgement: the rest goes again, first, in a new packet.
            self._pending[0:0] = flight.data[accepted:]

    def _handle_console_data(self, packet: SolPacket) -> None:
        if packet.seq == self._last_console_seq:
            # A retransmission: acknowledge again, but do not deliver or act twice.
            self._outgoing.append(
                SolPacket(0, packet.seq, self._last_accepted).encode())
            return
        self._last_console_seq = packet.seq
        self._last_accepted = len(packet.data)
        if packet.flags & OP_GENERATE_BREAK:
            self.breaks += 1
        self._console_input += packet.data
        self._outgoing.append(SolPacket(0, packet.seq, len(packet.data)).encode())

    def _send_next(self, now: float) -> None:
        if self._in_flight is not None or not self._pending:
            return
        data = bytes(self._pending[: self.chunk])
        del self._pending[: self.chunk]
        seq = self._next_seq
        self._next_seq = seq % 15 + 1
        self._in_flight = _InFlight(seq, data, now)
        self._outgoing.append(SolPacket(seq, data=data).encode())
