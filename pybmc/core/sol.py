"""The BMC's one SOL instance: who holds it, and the stream between its session and the guest.

Activation and deactivation come from the payload commands; SOL packets come from the session
layer's payload hook; guest output comes from the console bridge. Packets go out through the
session layer, and `bmc.wake()` asks the edge to send them now.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pybmc.config.paths import console_socket
from pybmc.edge.console import ConsoleBridge, SerialTarget
from pybmc.edge.local_console import LocalConsoleServer
from pybmc.protocol.sol import SolPacketError, SolStream
from pybmc.wire.codes import PayloadType

if TYPE_CHECKING:
    from pybmc.core.bmc import Bmc

log = logging.getLogger("pybmc.sol")

SOL_INSTANCE = 1
# What a console may send in one packet, and what the BMC sends at most (one byte counts it).
INBOUND_PAYLOAD_SIZE = 255
OUTBOUND_PAYLOAD_SIZE = 255
# How long a VM's start waits for its console to be connected (QEMU drops unread output).
CONSOLE_WAIT = 2.0


@dataclass
class Activation:
    session: Any  # the SessionView that activated SOL
    stream: SolStream
    encrypted: bool
    authenticated: bool


class SolManager:
    def __init__(self, bmc: Bmc) -> None:
        self.bmc = bmc
        self.active: Activation | None = None
        self.bridge = ConsoleBridge(bmc.name, self._serial_target,
                                    history_size=bmc.config.sol.history_size)
        self.bridge.add_listener(self._guest_output, self._backlog_full)
        self.local: LocalConsoleServer | None = None

    def _serial_target(self) -> SerialTarget | None:
        """The serial port: the power backend's own (QEMU) or the configured one."""
        path = getattr(self.bmc.power, "serial_path", None)
        if path:
            return SerialTarget("unix", path=str(path))
        if self.bmc.config.sol.serial:
            return SerialTarget.parse(self.bmc.config.sol.serial)
        return None

    async def start(self) -> None:
        """Start reading the guest console and accept local console clients."""
        if self._serial_target() is None:
            return
        self.bridge.start()
        if getattr(self.bmc.power, "serial_path", None):
            # The QEMU backend calls this just before the guest runs.
            self.bmc.power.before_run = self.console_ready  # type: ignore[attr-defined]
        self.local = LocalConsoleServer(self.bridge, console_socket(self.bmc.config))
        try:
            await self.local.start()
        except OSError as err:
            log.warning("%s: no local console socket: %s", self.bmc.name, err)
            self.local = None

    async def console_ready(self) -> None:
        """Connect the console before the guest runs, so that a session opened while the VM was
        off sees everything from the firmware's first line on."""
        if not await self.bridge.wait_connected(CONSOLE_WAIT):
            log.warning("%s: console not connected after %gs; starting the guest anyway",
                        self.bmc.name, CONSOLE_WAIT)

    async def stop(self) -> None:
        if self.local is not None:
            await self.local.stop()
        await self.bridge.stop()

    # ------------------------------------------------------------------ activation
    def activate(self, session: Any, encrypted: bool, authenticated: bool,
                 retry_count: int, retry_interval: float) -> None:
        stream = SolStream(retry_count=retry_count, retry_interval=retry_interval,
                           chunk=OUTBOUND_PAYLOAD_SIZE)
        self.active = Activation(session, stream, encrypted, authenticated)
        log.info("%s: SOL activated by session %#010x (user %s)", self.bmc.name,
                 session.session_id, _user(session))
        history = self.bridge.history()
        if history:
            stream.guest_output(history, time.monotonic())
        self._flush()

    def deactivate(self, reason: str) -> None:
        if self.active is None:
            return
        log.info("%s: SOL deactivated (%s)", self.bmc.name, reason)
        self.active = None
        self.bridge.update_flow()

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
            log.debug("%s: SOL packet on a session without SOL; dropped", self.bmc.name)
            return
        try:
            active.stream.receive(payload, now)
        except SolPacketError as err:
            log.debug("%s: %s", self.bmc.name, err)
            return
        if active.stream.breaks:
            active.stream.breaks = 0
            self.bridge.send_break()
        self.bridge.write(active.stream.take_console_input())
        self.bridge.update_flow()
        self._flush()

    def _guest_output(self, data: bytes) -> None:
        if not self._owner_gone() and self.active is not None:
            self.active.stream.guest_output(data, time.monotonic())
            self._flush()

    def _backlog_full(self) -> bool:
        """Stop reading the guest: the console is behind, or asked for a pause (CTS)."""
        stream = self.active.stream if self.active is not None else None
        return stream is not None and (stream.backlog_full or stream.cts_paused)

    def _flush(self) -> None:
        active = self.active
        if active is None:
            return
        packets = active.stream.packets_to_send()
        if not packets:
            return
        for packet in packets:
            self.bmc.sessions.send_payload(active.session, PayloadType.SOL, packet)
        self.bmc.wake()

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
