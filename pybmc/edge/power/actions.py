"""What the process-driving backends (qemu, command) share: power actions run as tasks one at
a time in the order they were asked for, and PowerEvents reported to the BMC's listener."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pybmc.model.power import (
    BootChoice,
    PowerAction,
    PowerError,
    PowerEvent,
    PowerListener,
    Untimed,
    event_cause,
)
from pybmc.wire.codes import Cc

__all__ = ["QueuedActions", "event_cause"]

log = logging.getLogger("pybmc.power")

Operation = Callable[[], Awaitable[None]]

# Actions that act on a running machine: refused while it is off and nothing is under way
# (a reset asked for right after a power-on is still accepted).
NEEDS_POWER = frozenset({PowerAction.RESET, PowerAction.SOFT_OFF, PowerAction.DIAG})


class QueuedActions(Untimed):
    """Serialised power actions and the events they report, for a backend named `name`.

    `_pending` counts actions asked for and not finished (a reset asked for right after a
    power-on is accepted while the machine is still off); subclasses read `_on` and `_pending`.
    """

    name: str

    def __init__(self, name: str) -> None:
        self.name = name
        self._listener: PowerListener | None = None
        self._on: bool | None = None  # None until first observed
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._pending = 0
        self._cycles = 0  # power cycles accepted and not finished

    def is_on(self) -> bool:
        """On, or committed to being on: a power cycle reads on from the moment it is
        accepted (its off half included), as one transition, so a client polling the power
        status after `power cycle` never sees an off it did not ask for."""
        return bool(self._on) or self._cycles > 0

    def set_listener(self, listener: PowerListener) -> None:
        self._listener = listener

    # ---------------------------------------------------------------- actions
    def request(self, action: PowerAction, cause: str | None = None) -> None:
        """Check what can be refused at once (with its completion code), then queue it."""
        self._check_request(action)
        if action in NEEDS_POWER and not self._on and self._pending == 0:
            raise PowerError(Cc.NOT_SUPPORTED_IN_PRESENT_STATE,
                             f"{action.name.lower()} while powered off")
        operations: dict[PowerAction, Operation] = {
            PowerAction.ON: lambda: self._power_on(event_cause(cause, "chassis control")),
            PowerAction.OFF: lambda: self._hard_off(event_cause(cause, "chassis control")),
            PowerAction.SOFT_OFF: self._soft_off,
            PowerAction.CYCLE: lambda: self._power_cycle(event_cause(cause, "power cycle")),
            PowerAction.RESET: lambda: self._hard_reset(event_cause(cause, "hard reset")),
            PowerAction.DIAG: self._diagnostic_interrupt,
        }
        if action is PowerAction.CYCLE:
            self._cycles += 1
        self._submit(operations[action], f"power {action.name.lower()}")

    def _check_request(self, action: PowerAction) -> None:
        """A backend's own refusals (raise PowerError); none by default."""
        return None

    async def _power_cycle(self, cause: str) -> None:
        """Off (if on), the cycle interval, on: power-cycling an off machine powers it on."""
        try:
            if self._is_running():
                await self._hard_off(cause)
                await asyncio.sleep(self.cycle_interval)
            await self._power_on(cause)
        finally:
            self._cycles -= 1

    async def _drain(self, budget: float) -> None:
        """Wait (at most `budget` seconds) for queued actions, so none is cut in half."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + budget
        while self._pending > 0 and loop.time() < deadline:
            await asyncio.sleep(0.05)

    # What each backend does for the actions; request() queues them.
    cycle_interval: float

    def _is_running(self) -> bool:
        raise NotImplementedError

    async def _power_on(self, cause: str) -> None:
        raise NotImplementedError

    async def _hard_off(self, cause: str) -> None:
        raise NotImplementedError

    async def _soft_off(self) -> None:
        raise NotImplementedError

    async def _hard_reset(self, cause: str) -> None:
        raise NotImplementedError

    async def _diagnostic_interrupt(self) -> None:
        raise NotImplementedError

    def _submit(self, operation: Operation, what: str) -> None:
        """Run operations one at a time, in the order they were asked for."""
        self._pending += 1

        async def run() -> None:
            try:
                async with self._lock:
                    await operation()
            except asyncio.CancelledError:
                raise
            except Exception as err:  # one failed action must not kill the BMC
                log.error("%s: %s failed: %s", self.name, what, self._explain(err))
            finally:
                self._pending -= 1

        self._track(asyncio.get_running_loop().create_task(run(), name=f"{self.name}: {what}"))

    def _explain(self, err: BaseException) -> str:
        """How a failed action's error reads in the log."""
        return str(err)

    def _track(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _cancel_tasks(self) -> None:
        """Cancel every task still running (the BMC is stopping) and wait for them to end."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._cycles = 0  # a cycle cancelled before it started never counted itself out

    # ---------------------------------------------------------------- events out
    def _set_on(self, on: bool, cause: str) -> None:
        if self._on == on:
            return
        self._on = on
        if self._listener is not None:
            try:
                self._listener(PowerEvent("on" if on else "off", cause))
            except Exception:  # the BMC's bookkeeping must not undo a power change
                log.exception("%s: power listener failed", self.name)
        else:
            log.info("%s: power %s (%s)", self.name, "on" if on else "off", cause)

    def _take_boot_choice(self, cause: str) -> BootChoice:
        if self._listener is None:
            return BootChoice()
        try:
            choice = self._listener(PowerEvent("boot", cause))
        except Exception:
            log.exception("%s: boot listener failed; booting the default order", self.name)
            return BootChoice()
        return choice if isinstance(choice, BootChoice) else BootChoice()
