"""A set of no-argument callbacks run after a change, for objects the edge watches (the
watchdog's timer, the system interface's flags)."""

from __future__ import annotations

import logging
from collections.abc import Callable

Listener = Callable[[], None]


class Listeners:
    """Callbacks in the order added, each at most once; one that fails is logged with `log`
    and the others still run."""

    def __init__(self, log: logging.Logger, what: str) -> None:
        self._log = log
        self._what = what  # "watchdog", "system interface": names the failing listener
        self._listeners: list[Listener] = []

    def add(self, listener: Listener) -> None:
        if listener not in self._listeners:
            self._listeners.append(listener)

    def remove(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def notify(self, owner: str) -> None:
        """Run every listener; `owner` (the BMC's name) starts the log line of a failure."""
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:
                self._log.exception("%s: %s listener failed", owner, self._what)
