"""A fake monotonic clock, and running a BMC's one timer the way the edge does."""

from __future__ import annotations

from typing import Protocol


class FakeClock:
    """Time that moves only when a test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


class Timed(Protocol):
    def get_timer(self) -> float | None: ...

    def handle_timer(self, now: float) -> None: ...


def run_timers(target: Timed, clock: FakeClock, seconds: float, limit: int = 10_000) -> None:
    """Move the clock `seconds` ahead, firing `target`'s timer at each deadline on the way,
    as the edge's one asyncio timer would."""
    end = clock.now + seconds
    for _ in range(limit):
        deadline = target.get_timer()
        if deadline is None or deadline > end:
            break
        clock.now = max(clock.now, deadline)
        target.handle_timer(clock.now)
    else:
        raise AssertionError(f"timer still due after {limit} firings")
    clock.now = end
