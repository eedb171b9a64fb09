"""The BMC watchdog timer (IPMI 2.0 section 27): its countdown, pre-timeout and expiry actions.

Time is never read here: commands use `ctx.now` and the edge calls `Watchdog.tick(now)`, as
soon as `get_timer()` says something is due (or at least every 100 ms), so a test drives the
countdown without sleeping. On expiry the BMC carries out the action through the power backend,
sets the timer-use expiration flag and logs a Watchdog 2 sensor event; the pre-timeout interrupt
sends an NMI (PowerAction.DIAG) and/or raises the system interface's pre-timeout flag.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from enum import IntEnum

from pybmc.model.listeners import Listener, Listeners
from pybmc.model.power import PowerAction, PowerBackend, PowerError
from pybmc.model.system_interface import SystemInterface
from pybmc.wire.codes import Cc
from pybmc.wire.errors import CommandError

log = logging.getLogger("pybmc.watchdog")

# add_event(sensor type, event/reading type, event data): log a sensor event in the SEL.
AddEvent = Callable[[int, int, bytes], object]

NOT_INITIALIZED = 0x80  # Reset Watchdog Timer before any Set Watchdog Timer

# Timer Use byte (Set and Get).
DONT_LOG = 0x80
DONT_STOP = 0x40  # Set: keep running with the new values; Get: the same bit means "running"
RUNNING = 0x40
USE_MASK = 0x07
EXPIRATION_FLAGS_MASK = 0x3E  # one bit per timer use 1..5

# Sensor-specific offsets of the Watchdog 2 sensor (IPMI 2.0 table 42-3, sensor type 23h).
WATCHDOG_SENSOR_TYPE = 0x23
SENSOR_SPECIFIC = 0x6F


class TimerUse(IntEnum):
    BIOS_FRB2 = 1
    BIOS_POST = 2
    OS_LOAD = 3
    SMS_OS = 4
    OEM = 5


class TimeoutAction(IntEnum):
    NONE = 0
    HARD_RESET = 1
    POWER_DOWN = 2
    POWER_CYCLE = 3


class PreTimeoutInterrupt(IntEnum):
    NONE = 0
    SMI = 1
    NMI = 2
    MESSAGING = 3


POWER_ACTIONS = {
    TimeoutAction.HARD_RESET: PowerAction.RESET,
    TimeoutAction.POWER_DOWN: PowerAction.OFF,
    TimeoutAction.POWER_CYCLE: PowerAction.CYCLE,
}


class Watchdog:
    """One BMC's watchdog; all times are monotonic seconds passed in by the caller."""

    def __init__(self, name: str, power: PowerBackend, system_interface: SystemInterface,
                 add_event: AddEvent) -> None:
        self.name = name
        self.power = power
        self.system_interface = system_interface
        self.add_event = add_event
        self.initialized = False
        self.use = 0  # Timer Use byte as set, without the don't-stop bit
        self.actions = 0  # pre-timeout interrupt << 4 | timeout action
        self.pretimeout = 0  # seconds before expiry
        self.expiration_flags = 0
        self.initial_countdown = 0  # 100 ms units
        self.running = False
        self.expires_at = 0.0
        self.pretimeout_done = False
        self.stopped_countdown = 0  # present countdown while stopped, 100 ms units
        self.seen_on = False  # the machine's power at the last look, to notice it going off
        self._listeners = Listeners(log, "watchdog")

    # --------------------------------------------------------------- decoded fields
    @property
    def timer_use(self) -> int:
        return self.use & USE_MASK

    @property
    def action(self) -> TimeoutAction:
        return TimeoutAction(self.actions & 0x07)

    @property
    def interrupt(self) -> PreTimeoutInterrupt:
        return PreTimeoutInterrupt((self.actions >> 4) & 0x07)

    # --------------------------------------------------------------- the edge's timer
    def add_listener(self, listener: Listener) -> None:
        """`listener()` runs whenever get_timer() may have changed, so the edge can re-arm."""
        self._listeners.add(listener)

    def remove_listener(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    def _timer_changed(self) -> None:
        self._listeners.notify(self.name)

    def get_timer(self) -> float | None:
        """When tick() next has something to do (pre-timeout or expiry), or None."""
        if not self.running:
            return None
        if self.interrupt is not PreTimeoutInterrupt.NONE and not self.pretimeout_done:
            return self.expires_at - self.pretimeout
        return self.expires_at

    # --------------------------------------------------------------- commands
    def set(self, data: bytes, now: float) -> None:
        """Set Watchdog Timer; raises CommandError for reserved uses and actions."""
        use, actions, pretimeout, clear_flags = data[0], data[1], data[2], data[3]
        countdown = data[4] | (data[5] << 8)
        if not TimerUse.BIOS_FRB2 <= use & USE_MASK <= TimerUse.OEM:
            raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"timer use {use & USE_MASK}")
        if actions & 0x07 > TimeoutAction.POWER_CYCLE:
            raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"timeout action {actions & 7}")
        interrupt = (actions >> 4) & 0x07
        # A virtual machine has no SMI handler to take the interrupt.
        if interrupt not in (PreTimeoutInterrupt.NONE, PreTimeoutInterrupt.NMI,
                             PreTimeoutInterrupt.MESSAGING):
            raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"pre-timeout interrupt {interrupt}")
        keep_running = bool(use & DONT_STOP) and self.running
        self.initialized = True
        self.use = use & (DONT_LOG | USE_MASK)
        self.actions = actions & 0x77
        self.pretimeout = pretimeout
        self.expiration_flags &= ~clear_flags & EXPIRATION_FLAGS_MASK
        self.initial_countdown = countdown
        if keep_running:
            self._start(now)
        else:
            self.running = False
            self.stopped_countdown = countdown
        log.info("%s: watchdog set: use %d, action %s, pre-timeout %s %ds, %.1fs, %s",
                 self.name, self.timer_use, self.action.name, self.interrupt.name,
                 pretimeout, countdown / 10, "running" if self.running else "stopped")
        self._timer_changed()

    def reset(self, now: float) -> None:
        """Reset Watchdog Timer: (re)start the countdown from the initial value."""
        if not self.initialized:
            raise CommandError(NOT_INITIALIZED, reason="watchdog never set")
        self._start(now)
        self._timer_changed()

    def get(self, now: float) -> bytes:
        """The 8 data bytes of Get Watchdog Timer."""
        use = self.use | (RUNNING if self.running else 0)
        present = self.present_countdown(now)
        return bytes([
            use, self.actions, self.pretimeout, self.expiration_flags,
            self.initial_countdown & 0xFF, self.initial_countdown >> 8,
            present & 0xFF, present >> 8,
        ])

    def present_countdown(self, now: float) -> int:
        if not self.running:
            return self.stopped_countdown
        left = math.ceil(round((self.expires_at - now) * 10, 6))
        return max(0, min(left, self.initial_countdown))

    def _start(self, now: float) -> None:
        self.running = True
        self.expires_at = now + self.initial_countdown / 10
        self.pretimeout_done = False
        self.seen_on = self._machine_on()

    def stop(self, reason: str) -> None:
        if self.running:
            log.info("%s: watchdog stopped: %s", self.name, reason)
            self.running = False
            self.stopped_countdown = self.initial_countdown
            self._timer_changed()

    def host_reset(self) -> None:
        """A system reset stops the timer; firmware or the next OS arms it again if it wants.
        The expiration flags stay; "don't log" is cleared."""
        self.use &= ~DONT_LOG
        self.stop("host reset")

    # --------------------------------------------------------------- time passing
    def tick(self, now: float) -> None:
        """Carry out whatever fell due by `now`: the pre-timeout interrupt, then the expiry."""
        if not self.running:
            return
        machine_on = self._machine_on()
        if self.seen_on and not machine_on:
            # A power-down stops the timer, as a system reset does: the OS that armed it is gone.
            self.stop("the machine powered off")
            return
        self.seen_on = machine_on
        if (self.interrupt is not PreTimeoutInterrupt.NONE and not self.pretimeout_done
                and now >= self.expires_at - self.pretimeout):
            self._pretimeout()
        if now >= self.expires_at:
            self._expire()
        self._timer_changed()

    def _machine_on(self) -> bool:
        try:
            return bool(self.power.is_on())
        except Exception:
            log.exception("%s: watchdog cannot read the power state", self.name)
            return True

    def _pretimeout(self) -> None:
        self.pretimeout_done = True
        interrupt = self.interrupt
        log.warning("%s: watchdog pre-timeout (%s), %ds before expiry",
                    self.name, interrupt.name, self.pretimeout)
        self.system_interface.set_watchdog_pretimeout()
        if interrupt is PreTimeoutInterrupt.NMI:
            self._power(PowerAction.DIAG)
        self._log_event(0x08, interrupt << 4 | self.timer_use)

    def _expire(self) -> None:
        self.running = False
        self.stopped_countdown = 0
        self.expiration_flags |= 1 << self.timer_use
        action = self.action
        log.warning("%s: watchdog expired (timer use %d): %s",
                    self.name, self.timer_use, action.name.lower().replace("_", " "))
        self._log_event(int(action), self.interrupt << 4 | self.timer_use)
        self.use &= ~DONT_LOG  # "don't log" lasts until a time-out or a hard reset
        power_action = POWER_ACTIONS.get(action)
        if power_action is not None:
            self._power(power_action)

    def _power(self, action: PowerAction) -> None:
        try:
            self.power.request(action, cause="watchdog")
        except PowerError as err:
            log.warning("%s: watchdog %s not carried out: %s", self.name,
                        action.name, err)
        except Exception:
            log.exception("%s: watchdog %s failed", self.name, action.name)

    def _log_event(self, offset: int, data2: int) -> None:
        """A Watchdog 2 sensor event: to the SEL if the platform keeps one, and the host."""
        if self.use & DONT_LOG:
            return
        event_data = bytes([0xC0 | offset, data2 & 0xFF, 0xFF])
        try:
            self.add_event(WATCHDOG_SENSOR_TYPE, SENSOR_SPECIFIC, event_data)
        except Exception:
            log.exception("%s: watchdog event not logged", self.name)
