"""A machine that exists only in the BMC: power state with realistic timing, no VM needed.

What each Chassis Control action does:
- on: powers on at once (nothing if already on; a soft off already under way goes on).
- off: powers off at once, cancelling a pending soft off or the power-on half of a cycle.
- cycle: off at once, then on after `cycle_interval`. Cycle while off powers the machine on
  (after the same interval): the spec allows this or 0xD5, clients such as xCAT send cycle to
  nodes that are off, and "on" is what a user means by it. A cycle is one committed
  transition: while its off half runs, the power state reads on (what the machine is about
  to be; the SEL still records the off and the on), a hard reset ends the wait and powers on
  at once, a soft off cancels the power-on, and a diagnostic interrupt is accepted and
  dropped (there is no OS to interrupt yet).
- hard reset: a boot event at once; 0xD5 while off. It cancels a pending soft off, as a reset
  of a shutting-down OS starts it again.
- diag (NMI): logged; 0xD5 while off.
- soft off: the "OS" shuts down and the power goes off after `soft_off_delay`; 0xD5 while off.
  Asking again while it shuts down does not restart the delay.

Delays are now-driven: a pending soft off or the power-on half of a cycle is a deadline that
`get_timer()` reports and `handle_timer(now)` carries out, with `clock` (given by whoever builds
the machine; a fake one in tests) saying when a request arrived. Nothing here schedules itself.

The machine is not stopped with the BMC (`stop(leave_running=True)`): a simulated machine that
was on keeps being on when the BMC comes back, as a real server does across a BMC reset.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from pybmc.model.power import PowerAction, PowerError, PowerEvent, PowerListener, event_cause
from pybmc.wire.codes import Cc

log = logging.getLogger("pybmc.power")


class SimulatedPower:
    """A machine with a power state and no VM (the default backend)."""

    def __init__(self, name: str, initially_on: bool, soft_off_delay: float = 2.0,
                 cycle_interval: float = 1.0, *, clock: Callable[[], float]) -> None:
        self.name = name
        self._clock = clock
        self._on = initially_on
        self.soft_off_delay = soft_off_delay
        self.cycle_interval = cycle_interval
        self._listener: PowerListener | None = None
        self._pending: tuple[float, Callable[[], None]] | None = None  # (due, action)
        self._pending_what = ""  # "soft off" or "power cycle" while one is pending

    # ----------------------------------------------------------------- PowerBackend
    def is_on(self) -> bool:
        return self._on or self._cycling()

    def _cycling(self) -> bool:
        return self._pending_what == "power cycle"

    def set_listener(self, listener: PowerListener) -> None:
        self._listener = listener

    def request(self, action: PowerAction, cause: str | None = None) -> None:
        """Carry out a Chassis Control action. `cause` names who asked when it was not an
        IPMI Chassis Control command (e.g. "watchdog"), for the restart cause."""
        if action is PowerAction.ON:
            self._request_on(event_cause(cause, "chassis control"))
        elif action is PowerAction.OFF:
            self._cancel_pending()
            self._power_off(event_cause(cause, "chassis control"))
        elif action is PowerAction.CYCLE:
            self._request_cycle(event_cause(cause, "power cycle"))
        elif action is PowerAction.RESET:
            self._require_on("hard reset")
            cycling = self._cycling()
            self._cancel_pending()
            if cycling:
                self._power_on(event_cause(cause, "hard reset"))
            else:
                self._emit("boot", event_cause(cause, "hard reset"))
        elif action is PowerAction.DIAG:
            self._require_on("diagnostic interrupt")
            if self._cycling():
                log.info("%s: diagnostic interrupt dropped: the machine is power cycling",
                         self.name)
            else:
                log.info("%s: diagnostic interrupt (NMI) delivered", self.name)
        elif action is PowerAction.SOFT_OFF:
            self._request_soft_off(event_cause(cause, "soft off (ACPI)"))

    async def start(self) -> None:
        return None

    async def stop(self, leave_running: bool = True) -> None:
        self._cancel_pending()
        if not leave_running:
            self._power_off("BMC stopped")

    # ----------------------------------------------------------------- the guest's own actions
    def guest_reboot(self) -> None:
        """The OS restarts the machine itself (reboot, Ctrl-Alt-Del): a soft reset."""
        if self._on:
            self._cancel_pending()
            self._emit("boot", "guest reboot")

    def guest_shutdown(self) -> None:
        """The OS powers the machine off itself."""
        self._cancel_pending()
        self._power_off("guest shutdown")

    # ----------------------------------------------------------------- actions
    def _request_on(self, cause: str) -> None:
        if self._on:
            return
        self._cancel_pending()
        self._power_on(cause)

    def _request_cycle(self, cause: str) -> None:
        if self._on:
            self._cancel_pending()
            self._power_off(cause)
        self._later("power cycle", self.cycle_interval, lambda: self._power_on(cause))

    def _request_soft_off(self, cause: str) -> None:
        self._require_on("soft off")
        if self._cycling():
            log.info("%s: soft off while power cycling: staying off", self.name)
            self._cancel_pending()
            return
        if self._pending_what == "soft off":
            return
        log.info("%s: ACPI power button pressed; off in %.1f s", self.name, self.soft_off_delay)
        self._later("soft off", self.soft_off_delay, lambda: self._power_off(cause))

    def _require_on(self, what: str) -> None:
        if not self.is_on():
            raise PowerError(Cc.NOT_SUPPORTED_IN_PRESENT_STATE, f"{what} while off")

    # ----------------------------------------------------------------- state changes
    def _power_on(self, cause: str) -> None:
        if not self._on:
            self._on = True
            self._emit("on", cause)
            self._emit("boot", cause)

    def _power_off(self, cause: str) -> None:
        if self._on:
            self._on = False
            self._emit("off", cause)

    def _emit(self, kind: str, cause: str) -> None:
        if self._listener is not None:
            self._listener(PowerEvent(kind, cause))

    # ----------------------------------------------------------------- timers
    def get_timer(self) -> float | None:
        return self._pending[0] if self._pending is not None else None

    def handle_timer(self, now: float) -> None:
        if self._pending is not None and self._pending[0] <= now:
            _, action = self._pending
            self._pending = None
            self._pending_what = ""
            action()

    def _later(self, what: str, delay: float, callback: Callable[[], None]) -> None:
        self._cancel_pending()
        if delay <= 0:
            callback()
            return
        self._pending = (self._clock() + delay, callback)
        self._pending_what = what

    def _cancel_pending(self) -> None:
        self._pending = None
        self._pending_what = ""
