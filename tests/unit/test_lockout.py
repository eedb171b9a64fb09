"""The bad-password lockout on its own: LAN parameter 26's bytes, the config defaults, and the
counting, locking and lazy release of pybmc.model.lockout.Lockout against a fake clock."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from pybmc.config.bmc import ConfigError, parse_config
from pybmc.core.bmc import Bmc
from pybmc.model.lockout import Lockout, LockoutPolicy, config_policy, lockout_event_data
from pybmc.model.state import State
from pybmc.model.users import Users, users_from_config
from tests.unit.clock import FakeClock
from tests.unit.conftest import MakeBmc

LAN = 1
GET_LAN, SET_LAN = 0x02, 0x01  # NetFn Transport (0x0C) commands


class Recorder:
    """Stands in for Platform.add_event."""

    def __init__(self) -> None:
        self.events: list[tuple[int, int, bytes]] = []

    def __call__(self, sensor_type: int, reading_type: int, data: bytes) -> None:
        self.events.append((sensor_type, reading_type, data))


def make_lockout(policy: LockoutPolicy) -> tuple[Lockout, Recorder, dict[str, LockoutPolicy]]:
    config = parse_config({"bmc": {"name": "t", "address": "127.0.0.2"},
                           "users": [{"name": "admin", "password": "secret"}]})
    state = State(users=users_from_config(config.users))
    current = {"policy": policy}  # a test changes the policy as a client would
    events = Recorder()
    lockout = Lockout("t", Users(state), lambda _channel: current["policy"], events)
    return lockout, events, current


# ============================================================================ parameter 26
@pytest.mark.parametrize(("data", "policy"), [
    (bytes(6), LockoutPolicy()),
    # ipmitool lan set 1 bad_pass_thresh 3 1 60 60
    (bytes([0x01, 0x03, 0x3C, 0x00, 0x3C, 0x00]), LockoutPolicy(3, 600.0, 600.0, True)),
    (bytes([0x00, 0x05, 0x00, 0x00, 0x01, 0x00]), LockoutPolicy(5, 0.0, 10.0, False)),
    (bytes([0x01, 0xFF, 0xFF, 0xFF, 0x34, 0x12]), LockoutPolicy(255, 655350.0, 46600.0, True)),
])
def test_parameter_26_decodes_and_encodes(data: bytes, policy: LockoutPolicy):
    assert LockoutPolicy.decode(data) == policy
    assert policy.encode() == data


def test_parameter_26_rounds_seconds_up_to_tens():
    assert LockoutPolicy(2, 1.0, 2.5).encode() == bytes([0, 2, 1, 0, 1, 0])
    assert LockoutPolicy(2, 11.0, 20.0).encode() == bytes([0, 2, 2, 0, 2, 0])


def test_config_keys_and_their_defaults():
    security = parse_config({"bmc": {"name": "t", "address": "127.0.0.2"}}).security
    assert (security.lockout_threshold, security.lockout_seconds,
            security.lockout_reset_seconds) == (0, 300.0, 300.0)
    assert config_policy(security) == LockoutPolicy()  # disabled: all zero, no event
    security = parse_config({"bmc": {"name": "t", "address": "127.0.0.2"}, "security": {
        "lockout_threshold": 3, "lockout_seconds": 2, "lockout_reset_seconds": 0}}).security
    assert config_policy(security) == LockoutPolicy(3, 0.0, 2.0, True)


@pytest.mark.parametrize(("key", "value"), [
    ("lockout_threshold", 256), ("lockout_threshold", -1), ("lockout_seconds", -1),
    ("lockout_reset_seconds", 655351), ("lockout_threshold", True)])
def test_config_keys_are_checked(key: str, value: Any):
    with pytest.raises(ConfigError, match=key):
        parse_config({"bmc": {"name": "t", "address": "127.0.0.2"}, "security": {key: value}})


def get_parameter_26(bmc: Bmc) -> bytes:
    reply = bmc.execute_in_band(0x0C, GET_LAN, bytes([LAN, 26, 0, 0]))
    assert reply[:2] == b"\x00\x11"  # completion code, parameter revision
    return reply[2:]


def test_parameter_26_reads_the_config_until_a_client_sets_it(make_bmc: MakeBmc):
    bmc = make_bmc(security={"lockout_threshold": 3, "lockout_seconds": 2})
    assert get_parameter_26(bmc) == bytes([0x01, 3, 30, 0, 1, 0])
    assert bmc.lan.bad_password_policy() == LockoutPolicy(3, 300.0, 2.0, True)
    value = bytes([0x00, 5, 6, 0, 12, 0])
    assert bmc.execute_in_band(0x0C, SET_LAN, bytes([LAN, 26]) + value) == b"\x00"
    assert get_parameter_26(bmc) == value
    assert bmc.lan.bad_password_policy() == LockoutPolicy(5, 60.0, 120.0, False)
    # Reserved bits of byte 1 are refused; the stored value stays.
    assert bmc.execute_in_band(0x0C, SET_LAN, bytes([LAN, 26, 0x02, 1, 0, 0, 0, 0])) == b"\xcc"
    assert get_parameter_26(bmc) == value


def test_parameter_26_is_all_zero_by_default(bmc: Bmc):
    assert get_parameter_26(bmc) == bytes(6)


# ============================================================================ the state machine
def test_threshold_locks_logs_and_records_an_event(caplog: pytest.LogCaptureFixture):
    clock = FakeClock()
    lockout, events, _ = make_lockout(LockoutPolicy(3, 60.0, 30.0, True))
    assert lockout.record_failure(2, LAN, clock.now) is False
    assert lockout.record_failure(2, LAN, clock.advance(1)) is False
    assert not lockout.is_locked(2, LAN, clock.now) and events.events == []
    assert lockout.record_failure(2, LAN, clock.advance(1)) is True
    assert lockout.is_locked(2, LAN, clock.now)
    assert events.events == [(0x2A, 0x6F, bytes([0xF3, 0x02, 0x01]))]
    [line] = [r for r in caplog.records if "locked out" in r.getMessage()]
    assert line.levelname == "WARNING"
    assert line.getMessage() == ("t: user 2 ('admin') locked out on channel 1 after 3 bad "
                                 "passwords, for 30 s")


def test_lock_is_per_user_and_per_channel():
    clock = FakeClock()
    lockout, _, _ = make_lockout(LockoutPolicy(1, 0.0, 30.0))
    assert lockout.record_failure(2, LAN, clock.now)
    assert lockout.is_locked(2, LAN, clock.now)
    assert not lockout.is_locked(3, LAN, clock.now)
    assert not lockout.is_locked(2, 2, clock.now)


def test_lock_ends_after_the_lockout_interval(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, logger="pybmc.lockout")
    clock = FakeClock()
    lockout, _, _ = make_lockout(LockoutPolicy(2, 0.0, 30.0))
    lockout.record_failure(2, LAN, clock.now)
    assert lockout.record_failure(2, LAN, clock.now)
    assert lockout.is_locked(2, LAN, clock.advance(29.9))
    assert not lockout.is_locked(2, LAN, clock.advance(0.1))
    assert any("no longer locked out" in r.getMessage() for r in caplog.records)
    # The count starts again from zero: one more failure does not lock.
    assert lockout.record_failure(2, LAN, clock.now) is False


def test_attempts_while_locked_neither_count_nor_extend_the_lock():
    clock = FakeClock()
    lockout, events, _ = make_lockout(LockoutPolicy(2, 0.0, 30.0, True))
    lockout.record_failure(2, LAN, clock.now)
    lockout.record_failure(2, LAN, clock.now)
    for _ in range(10):
        assert lockout.record_failure(2, LAN, clock.advance(2)) is True
    assert len(events.events) == 1
    assert not lockout.is_locked(2, LAN, clock.advance(10))  # 30 s after the lock began


def test_lockout_interval_zero_holds_until_unlocked():
    clock = FakeClock()
    lockout, _, _ = make_lockout(LockoutPolicy(1, 0.0, 0.0))
    lockout.record_failure(2, LAN, clock.now)
    assert lockout.is_locked(2, LAN, clock.advance(10 ** 6))
    lockout.unlock(2)
    assert not lockout.is_locked(2, LAN, clock.now)


def test_success_resets_the_count_but_not_a_lock():
    clock = FakeClock()
    lockout, _, _ = make_lockout(LockoutPolicy(2, 0.0, 30.0))
    lockout.record_failure(2, LAN, clock.now)
    lockout.record_success(2, LAN, clock.now)
    assert lockout.record_failure(2, LAN, clock.now) is False  # 1 in a row, not 2
    assert lockout.record_failure(2, LAN, clock.now) is True
    lockout.record_success(2, LAN, clock.now)
    assert lockout.is_locked(2, LAN, clock.now)


def test_count_is_forgotten_after_the_reset_interval():
    clock = FakeClock()
    lockout, _, _ = make_lockout(LockoutPolicy(3, 60.0, 30.0))
    lockout.record_failure(2, LAN, clock.now)
    lockout.record_failure(2, LAN, clock.advance(59))  # within 60 s of the previous one
    assert lockout.record_failure(2, LAN, clock.advance(60)) is False  # the two were forgotten
    lockout.record_failure(2, LAN, clock.advance(1))
    assert lockout.record_failure(2, LAN, clock.advance(1)) is True


def test_reset_interval_zero_keeps_the_count():
    clock = FakeClock()
    lockout, _, _ = make_lockout(LockoutPolicy(2, 0.0, 30.0))
    lockout.record_failure(2, LAN, clock.now)
    assert lockout.record_failure(2, LAN, clock.advance(10 ** 6)) is True


def test_threshold_zero_never_counts_or_locks():
    clock = FakeClock()
    lockout, events, current = make_lockout(LockoutPolicy())
    for _ in range(100):
        assert lockout.record_failure(2, LAN, clock.now) is False
    assert not lockout.is_locked(2, LAN, clock.now) and events.events == []
    current["policy"] = LockoutPolicy(2, 0.0, 30.0)  # enabled later: starts from zero
    assert lockout.record_failure(2, LAN, clock.now) is False


def test_no_event_when_the_parameter_says_so():
    lockout, events, _ = make_lockout(LockoutPolicy(1, 0.0, 30.0, generate_event=False))
    assert lockout.record_failure(2, LAN, 0.0)
    assert events.events == []


def test_event_data_names_user_and_channel():
    assert lockout_event_data(5, 1) == bytes([0xF3, 0x05, 0x01])
    assert lockout_event_data(0x45, 0x1F) == bytes([0xF3, 0x05, 0x0F])
