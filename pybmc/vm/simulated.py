"""A machine that exists only in the BMC: power state with realistic timing, no VM needed.

Cycle while off powers the machine on (the spec allows this or 0xD5; clients such as xCAT send
cycle to nodes that are off, and "on" is what a user means by it).
"""

from __future__ import annotations

import asyncio
import logging

from pybmc.ipmi.codes import Cc
from pybmc.vm.base import PowerAction, PowerError, PowerEvent, PowerListener

log = logging.getLogger("pybmc.power")


class SimulatedPower:
    def __init__(self, name: str, initially_on: bool, soft_off_delay: float = 2.0,
                 cycle_interval: float = 1.0) -> None:
        self.name = name
        self._on = initially_on
        self.soft_off_delay = soft_off_delay
        self.cycle_interval = cycle_interval
        self._listener: PowerListener | None = None
        self._pending: asyncio.TimerHandle | None = None

    def is_on(self) -> bool:
        return self._on

    def set_listener(self, listener: PowerListener) -> None:
        self._listener = listener

    def _emit(self, kind: str, cause: str) -> None:
        if self._listener is not None:
            self._listener(PowerEvent(kind, cause))

    def _cancel_pending(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None

    def _power_on(self, cause: str) -> None:
        self._pending = None
        if not self._on:
            self._on = True
            self._emit("on", cause)
            self._emit("boot", cause)

    def _power_off(self, cause: str) -> None:
        self._pending = None
        if self._on:
            self._on = False
            self._emit("off", cause)

    def _later(self, delay: float, callback, *args) -> None:
        self._cancel_pending()
        if delay <= 0:
            callback(*args)
            return
        self._pending = asyncio.get_running_loop().call_later(delay, callback, *args)

    def request(self, action: PowerAction) -> None:
        cause = "chassis control"
        if action is PowerAction.ON:
            self._cancel_pending()
            self._power_on(cause)
        elif action is PowerAction.OFF:
            self._cancel_pending()
            self._power_off(cause)
        elif action is PowerAction.CYCLE:
            if self._on:
                self._cancel_pending()
                self._power_off("power cycle")
            self._later(self.cycle_interval, self._power_on, "power cycle")
        elif action is PowerAction.RESET:
            if not self._on:
                raise PowerError(Cc.NOT_SUPPORTED_IN_PRESENT_STATE, "reset while off")
            self._emit("boot", "hard reset")
        elif action is PowerAction.DIAG:
            if not self._on:
                raise PowerError(Cc.NOT_SUPPORTED_IN_PRESENT_STATE, "NMI while off")
            log.info("%s: diagnostic interrupt (NMI) delivered", self.name)
        elif action is PowerAction.SOFT_OFF:
            if not self._on:
                raise PowerError(Cc.NOT_SUPPORTED_IN_PRESENT_STATE, "soft off while off")
            # The "OS" takes a moment to shut down, as a real one would.
            self._later(self.soft_off_delay, self._power_off, "soft off (ACPI)")

    async def start(self) -> None:
        return None

    async def stop(self, leave_running: bool = True) -> None:
        self._cancel_pending()
