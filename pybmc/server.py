"""The asyncio edge: one UDP endpoint per BMC address, timers, startup and shutdown.

Everything protocol-shaped lives in the sans-IO session layer; this module only moves bytes
between sockets and `SessionManager`s and calls their timers. Each BMC's socket is bound to
its own address, so replies leave from the address the request was sent to.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Iterable

from pybmc.bmc import Bmc

log = logging.getLogger("pybmc.server")

# Platform and watchdog state advance on a slow tick; session timers are scheduled exactly.
TICK_INTERVAL = 1.0


class BmcEndpoint(asyncio.DatagramProtocol):
    """Carries datagrams between one UDP socket and one BMC's session layer."""

    def __init__(self, bmc: Bmc) -> None:
        self.bmc = bmc
        self.transport: asyncio.DatagramTransport | None = None
        self._timer: asyncio.TimerHandle | None = None
        bmc.wake = self.flush

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Python 3.11's selector datagram transport does not subclass DatagramTransport.
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            self.bmc.sessions.receive_datagram(data, addr[:2], time.monotonic())
        except Exception:  # the session layer promises not to raise; this is the last guard
            log.exception("%s: datagram from %s:%s dropped", self.bmc.name, *addr[:2])
        self.flush()

    def error_received(self, exc: Exception) -> None:
        log.debug("%s: socket error %s", self.bmc.name, exc)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def flush(self) -> None:
        """Send what the session layer queued, then re-arm its timer."""
        if self.transport is None or self.transport.is_closing():
            return
        for payload, dest in self.bmc.sessions.datagrams_to_send():
            self.transport.sendto(payload, dest)
        self._arm_timer()

    def _arm_timer(self) -> None:
        deadline = self.bmc.get_timer()
        if self._timer is not None:
            if deadline is not None and abs(self._timer.when() - deadline) < 1e-3:
                return
            self._timer.cancel()
            self._timer = None
        if deadline is not None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_at(max(deadline, loop.time()), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        try:
            self.bmc.handle_timer(time.monotonic())
        except Exception:
            log.exception("%s: timer failed", self.bmc.name)
        self.flush()


class Server:
    """Serves many BMCs from one process."""

    def __init__(self, bmcs: Iterable[Bmc], stop_vms_on_exit: bool = False) -> None:
        self.bmcs = list(bmcs)
        self.stop_vms_on_exit = stop_vms_on_exit
        self.endpoints: dict[str, BmcEndpoint] = {}
        self._stopping = asyncio.Event()
        self._ticker: asyncio.Task[None] | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        for bmc in self.bmcs:
            endpoint = BmcEndpoint(bmc)
            await loop.create_datagram_endpoint(
                lambda endpoint=endpoint: endpoint,
                local_addr=(bmc.config.address, bmc.config.port),
                reuse_port=False,
            )
            self.endpoints[bmc.name] = endpoint
            log.info("%s: serving IPMI on %s:%d (power: %s)", bmc.name, bmc.config.address,
                     bmc.config.port, bmc.config.power.backend)
        for bmc in self.bmcs:
            await bmc.start()
        self._ticker = asyncio.create_task(self._tick_forever())

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(TICK_INTERVAL)
            now = time.monotonic()
            for bmc in self.bmcs:
                try:
                    bmc.tick(now)
                except Exception:
                    log.exception("%s: periodic tick failed", bmc.name)
                endpoint = self.endpoints.get(bmc.name)
                if endpoint is not None:
                    endpoint.flush()

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        for bmc in self.bmcs:
            try:
                await bmc.stop(leave_vm_running=not self.stop_vms_on_exit)
            except Exception:
                log.exception("%s: error while stopping", bmc.name)
        for endpoint in self.endpoints.values():
            if endpoint.transport is not None:
                endpoint.transport.close()
        log.info("stopped")

    def request_stop(self) -> None:
        self._stopping.set()

    async def run_until_stopped(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.request_stop)
        await self.start()
        try:
            await self._stopping.wait()
        finally:
            await self.stop()
