"""The BMC's one SOL instance: who holds it, and the stream between its session and the guest.

Activation and deactivation come from the payload commands; SOL packets come from the session
layer's payload hook; guest output comes from the edge's console (`guest_output`). Packets go
out through the session layer; the edge sends what is queued after every event it delivers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from pybmc.protocol.rmcp.session import SessionManager
from pybmc.protocol.sol import SolPacketError, SolStream
from pybmc.wire.codes import PayloadType

log = logging.getLogger("pybmc.sol")

SOL_INSTANCE = 1
# What a console may send in one packet, and what the BMC sends at most (one byte counts it).
INBOUND_PAYLOAD_SIZE = 255
OUTBOUND_PAYLOAD_SIZE = 255


class GuestConsole(Protocol):
    """The guest's serial console, as SOL uses it (the edge's ConsoleBridge is one)."""

    def history(self) -> bytes: ...

    def write(self, data: bytes) -> None: ...

    def send_break(self) -> None: ...

    def update_flow(self) -> None: ...


class NoConsole:
    """A BMC whose machine has no serial console: SOL works, and nothing comes back."""

    def history(self) -> bytes:
        return b""

    def write(self, data: bytes) -> None:
        pass

    def send_break(self) -> None:
        pass

    def update_flow(self) -> None:
        pass


@dataclass
class Activation:
    session: Any  # the SessionView that activated SOL
    stream: SolStream
    encrypted: bool
    authenticated: bool


class SolManager:
    def __init__(self, name: str, sessions: SessionManager, console: GuestConsole) -> None:
        self.name = name
        self.sessions = sessions
        self.console = console
        self.active: Activation | None = None

    # ------------------------------------------------------------------ activation
    def activate(self, session: Any, encrypted: bool, authenticated: bool,
                 retry_count: int, retry_interval: float, now: float) -> None:
        stream = SolStream(retry_count=retry_count, retry_interval=retry_interval,
                           chunk=OUTBOUND_PAYLOAD_SIZE)
        self.active = Activation(session, stream, encrypted, authenticated)
        log.info("%s: SOL activated by session %#010x (user %s)", self.name,
                 session.session_id, _user(session))
        history = self.console.history()
        if history:
            stream.guest_output(history, now)
        # Not sent from here: the Activate Payload reply is still being built; the core
        # flushes SOL once the datagram is handled.

    def deactivate(self, reason: str) -> None:
        if self.active is None:
            return
        log.info("%s: SOL deactivated (%s)", self.name, reason)
        self.active = None
        self.console.update_flow()

    def is_active_for(self, session: Any) -> bool:
        return self.active is not None and self.active.session is session

    def _owner_gone(self) -> bool:
        """SOL ends with its session (closed, timed out); checked whenever SOL acts."""
        if self.active is not None and not getattr(self.active.session, "active", True):
            self.deactivate("its session closed")
            return True
        return self.active is None

    def on_session_closed(self, session: Any) -> None:
        if self.is_active_for(session):
            self.deactivate("its session closed")

    # ------------------------------------------------------------------ data
    def receive_packet(self, session: Any, payload: bytes, now: float) -> None:
        """The session layer's hook for payload type 1."""
        active = self.active
        if self._owner_gone() or active is None or active.session is not session:
            log.debug("%s: SOL packet on a session without SOL; dropped", self.name)
            return
        try:
            active.stream.receive(payload, now)
        except SolPacketError as err:
            log.debug("%s: %s", self.name, err)
            return
        if active.stream.breaks:
            active.stream.breaks = 0
            self.console.send_break()
        self.console.write(active.stream.take_console_input())
        self.console.update_flow()
        self._flush()

    def guest_output(self, data: bytes, now: float) -> None:
        """What the guest wrote to its console (the edge's console reader calls this)."""
        if not self._owner_gone() and self.active is not None:
            self.active.stream.guest_output(data, now)
            self._flush()

    def backlog_full(self) -> bool:
        """Stop reading the guest: the console is behind, or asked for a pause (CTS)."""
        stream = self.active.stream if self.active is not None else None
        return stream is not None and (stream.backlog_full or stream.cts_paused)

    def flush(self) -> None:
        """Queue what the stream has ready (the console connected before the guest runs)."""
        self._flush()

    def _flush(self) -> None:
        active = self.active
        if active is None:
            return
        packets = active.stream.packets_to_send()
        if not packets:
            return
        for packet in packets:
            self.sessions.send_payload(active.session, PayloadType.SOL, packet)

    # ------------------------------------------------------------------ time
    def get_timer(self) -> float | None:
        return self.active.stream.get_timer() if self.active is not None else None

    def handle_timer(self, now: float) -> None:
        if not self._owner_gone() and self.active is not None:
            self.active.stream.handle_timer(now)
            self._flush()


def _user(session: Any) -> str:
    name = getattr(session, "user_name", b"")
    return name.decode(errors="replace") if isinstance(name, bytes) else str(name)
