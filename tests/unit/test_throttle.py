"""The login token bucket: per source address, refill over time, bounded memory."""

from __future__ import annotations

import pytest

from pybmc.protocol.rmcp.throttle import LoginThrottle


def test_a_burst_passes_then_the_rate_rules():
    throttle = LoginThrottle(rate=2.0, burst=5)
    assert [throttle.allow("10.0.0.5", 100.0) for _ in range(7)] == [True] * 5 + [False] * 2
    assert not throttle.allow("10.0.0.5", 100.4)  # 0.8 token: not yet
    assert throttle.allow("10.0.0.5", 100.5)  # one token after half a second at 2/s
    assert not throttle.allow("10.0.0.5", 100.5)
    assert throttle.tokens("10.0.0.5", 110.0) == pytest.approx(5.0)  # never above the burst


def test_sources_are_independent():
    throttle = LoginThrottle(rate=1.0, burst=2)
    assert throttle.allow("10.0.0.5", 0.0) and throttle.allow("10.0.0.5", 0.0)
    assert not throttle.allow("10.0.0.5", 0.0)
    assert throttle.allow("10.0.0.6", 0.0)


def test_refused_requests_take_nothing():
    throttle = LoginThrottle(rate=1.0, burst=1)
    assert throttle.allow("a", 0.0)
    for step in range(9):  # a flood while empty does not push the refill further away
        assert not throttle.allow("a", step / 10)
    assert throttle.allow("a", 1.0)


def test_a_clock_that_steps_back_refills_nothing():
    throttle = LoginThrottle(rate=10.0, burst=1)
    assert throttle.allow("a", 50.0)
    assert not throttle.allow("a", 40.0)


def test_rate_zero_turns_it_off():
    throttle = LoginThrottle(rate=0.0, burst=1)
    assert not throttle.enabled
    assert all(throttle.allow("a", 0.0) for _ in range(1000))
    assert len(throttle) == 0


def test_idle_buckets_are_forgotten():
    throttle = LoginThrottle(rate=10.0, burst=10)
    for n in range(100):
        throttle.allow(f"10.0.0.{n}", 0.0)
    assert len(throttle) == 100
    throttle.allow("10.0.1.1", 1.0)  # a second later the others are full again: idle
    assert len(throttle) == 1


def test_memory_is_bounded_by_max_sources():
    throttle = LoginThrottle(rate=0.001, burst=1, max_sources=64)
    for n in range(10_000):
        throttle.allow(f"10.{n // 65536}.{n // 256 % 256}.{n % 256}", 0.0)
    assert len(throttle) == 64
    # The least recently used went first; the newest source is still throttled.
    assert not throttle.allow("10.0.39.15", 0.0)
