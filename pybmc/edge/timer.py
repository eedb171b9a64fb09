"""The one asyncio timer of one BMC: armed at `Bmc.get_timer()`, running `Bmc.handle_timer`.

This is the only place in pybmc that schedules anything on the event loop's clock: sessions,
SOL retransmits, the watchdog, simulated power and sensor updates all report their deadlines
through the BMC's timer aggregate, and whoever changes one calls `arm()` afterwards.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger("pybmc.server")

# Every request moves its session's deadline later; a timer already set at most this much
# earlier than the new deadline stays (it finds nothing due, then arms the real deadline)
# instead of being cancelled and made again for each datagram.
EARLY_SLACK = 1e-3


class Timed(Protocol):
    name: str

    def get_timer(self) -> float | None: ...

    def handle_timer(self, now: float) -> None: ...


class BmcTimer:
    """`after_fire` runs after each firing (the edge sends what the timer queued, then
    re-arms through it)."""

    __slots__ = ("_handle", "after_fire", "target")

    def __init__(self, target: Timed, after_fire: Callable[[], None] | None = None) -> None:
        self.target = target
        self.after_fire = after_fire or self.arm
        self._handle: asyncio.TimerHandle | None = None

    def arm(self) -> None:
        deadline = self.target.get_timer()
        if self._handle is not None:
            if deadline is not None and self._handle.when() <= deadline + EARLY_SLACK:
                return
            self._handle.cancel()
            self._handle = None
        if deadline is not None:
            loop = asyncio.get_running_loop()
            # loop.time() is time.monotonic(), the clock the BMC is given.
            self._handle = loop.call_at(max(deadline, loop.time()), self._fire)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        self._handle = None
        try:
            self.target.handle_timer(time.monotonic())
        except Exception:
            log.exception("%s: timer failed", self.target.name)
        self.after_fire()
