"""Rate-limited log lines: the first passes, repeats are counted and summed up, memory bounded."""

from __future__ import annotations

import logging

import pytest

from pybmc.wire.ratelog import OVERFLOW_SOURCE, RateLimitedLog
from tests.unit.clock import FakeClock, run_timers

LOGGER = "pybmc.test.ratelog"


@pytest.fixture
def limiter(caplog: pytest.LogCaptureFixture) -> RateLimitedLog:
    caplog.set_level(logging.INFO, logger=LOGGER)
    return RateLimitedLog(logging.getLogger(LOGGER), "bmc1", window=10.0, max_keys=4)


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


def refuse(limiter: RateLimitedLog, now: float, source: str, who: str = "x") -> None:
    limiter.log(now, (source, "login refused"), logging.INFO,
                "%s: login from %s:623 refused: unknown user %r", "bmc1", source, who)


def test_first_line_passes_and_repeats_are_summed_up_when_the_window_ends(
        limiter: RateLimitedLog, caplog: pytest.LogCaptureFixture):
    clock = FakeClock(100.0)
    for n in range(1000):
        refuse(limiter, clock.now, "10.0.0.5", f"u{n}")
        clock.advance(0.001)
    assert lines(caplog) == ["bmc1: login from 10.0.0.5:623 refused: unknown user 'u0'"]
    assert limiter.get_timer() == pytest.approx(110.0)
    run_timers(limiter, clock, 10.0)
    assert lines(caplog)[1:] == [
        "bmc1: suppressed 999 similar messages from 10.0.0.5 (login refused) in 10 s; the "
        "last: login from 10.0.0.5:623 refused: unknown user 'u999'"]
    assert caplog.records[-1].levelno == logging.INFO


def test_a_steady_flood_costs_one_summary_per_window(limiter: RateLimitedLog,
                                                     caplog: pytest.LogCaptureFixture):
    clock = FakeClock()
    for _ in range(600):  # 60 s at 10 messages a second, the summaries written on the way
        refuse(limiter, clock.now, "10.0.0.5")
        clock.advance(0.1)
    assert len(lines(caplog)) == 1 + 5  # the first line, then one summary per 10 s window
    assert all("suppressed" in line for line in lines(caplog)[1:])
    run_timers(limiter, clock, 30.0)
    assert len(lines(caplog)) == 7 and len(limiter) == 0  # the last summary; then forgotten


def test_a_quiet_key_is_forgotten_and_logs_again(limiter: RateLimitedLog,
                                                 caplog: pytest.LogCaptureFixture):
    clock = FakeClock()
    refuse(limiter, clock.now, "10.0.0.5")
    run_timers(limiter, clock, 10.0)
    assert len(limiter) == 0 and limiter.get_timer() is None
    refuse(limiter, clock.now, "10.0.0.5")
    assert len(lines(caplog)) == 2 and "suppressed" not in lines(caplog)[1]


def test_keys_are_per_source_and_kind(limiter: RateLimitedLog, caplog: pytest.LogCaptureFixture):
    refuse(limiter, 0.0, "10.0.0.5")
    refuse(limiter, 0.0, "10.0.0.6")
    limiter.log(0.0, ("10.0.0.5", "login throttled"), logging.WARNING, "throttled")
    refuse(limiter, 0.0, "10.0.0.5")
    assert len(lines(caplog)) == 3
    assert caplog.records[-1].levelno == logging.WARNING


def test_memory_is_bounded_and_new_sources_share_one_entry_when_full(
        limiter: RateLimitedLog, caplog: pytest.LogCaptureFixture):
    clock = FakeClock()
    for n in range(1000):  # spoofed sources, all at once
        refuse(limiter, clock.now, f"10.0.{n // 250}.{n % 250}")
    assert len(limiter) == 5  # max_keys, plus the overflow entry for this kind
    assert len(lines(caplog)) == 5
    run_timers(limiter, clock, 10.0)
    assert lines(caplog)[-1].startswith(
        f"bmc1: suppressed 995 similar messages from {OVERFLOW_SOURCE} (login refused)")
    run_timers(limiter, clock, 10.0)
    assert len(limiter) == 0


def test_nothing_is_tracked_for_a_level_the_logger_drops(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    limiter = RateLimitedLog(logging.getLogger(LOGGER), "bmc1")
    refuse(limiter, 0.0, "10.0.0.5")
    assert len(limiter) == 0 and lines(caplog) == []


def test_flush_writes_pending_summaries(limiter: RateLimitedLog,
                                        caplog: pytest.LogCaptureFixture):
    refuse(limiter, 0.0, "10.0.0.5")
    refuse(limiter, 1.0, "10.0.0.5")
    limiter.flush()
    assert "suppressed 1 similar message from 10.0.0.5" in lines(caplog)[-1]
    assert len(limiter) == 0


def test_a_bad_format_in_a_suppressed_message_never_raises(limiter: RateLimitedLog,
                                                           caplog: pytest.LogCaptureFixture):
    limiter.log(0.0, ("a", "k"), logging.INFO, "first")
    limiter.log(1.0, ("a", "k"), logging.INFO, "%d broken", "not a number")
    run_timers(limiter, FakeClock(1.0), 20.0)
    assert lines(caplog)[-1].endswith("the last: %d broken")
