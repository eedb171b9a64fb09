"""The watchdog timer: Set/Get/Reset bytes, countdown from `now`, pre-timeout and expiry."""

from __future__ import annotations

from pathlib import Path

import pytest

from pybmc.config.bmc import parse_config
from pybmc.core.bmc import Bmc
from pybmc.model.power import PowerAction, PowerError, PowerListener, Untimed
from pybmc.model.watchdog import Watchdog
from pybmc.wire.codes import LAN_CHANNEL, Cc, Privilege
from tests.unit.clock import FakeClock, run_timers

T0 = 1000.0


class FakePower(Untimed):
    """Records what the watchdog asks of the machine."""

    def __init__(self, on: bool = True) -> None:
        self.on = on
        self.requests: list[PowerAction] = []
        self.causes: list[str | None] = []
        self.refuse = False

    def is_on(self) -> bool:
        return self.on

    def request(self, action: PowerAction, cause: str | None = None) -> None:
        if self.refuse:
            raise PowerError(Cc.NOT_SUPPORTED_IN_PRESENT_STATE, "refused")
        self.requests.append(action)
        self.causes.append(cause)

    def set_listener(self, listener: PowerListener) -> None:
        return None

    async def start(self) -> None:
        return None

    async def stop(self, leave_running: bool = True) -> None:
        return None


@pytest.fixture
def power() -> FakePower:
    return FakePower()


@pytest.fixture
def bmc(tmp_path: Path, power: FakePower) -> Bmc:
    config = parse_config({"bmc": {"name": "t", "address": "127.0.0.2",
                                   "state_dir": str(tmp_path)}})
    return Bmc(config, power=power)


@pytest.fixture
def watchdog(bmc: Bmc) -> Watchdog:
    return bmc.watchdog


def run(bmc: Bmc, cmd: int, data: bytes = b"", now: float = T0,
        privilege: Privilege = Privilege.ADMINISTRATOR, channel: int = 0x0F) -> str:
    ctx = bmc.context(channel, privilege, now=now)
    return bmc.execute(ctx, 0x06, cmd, data).hex()


def set_timer(bmc: Bmc, hexdata: str, now: float = T0) -> str:
    return run(bmc, 0x24, bytes.fromhex(hexdata), now)


def get_timer(bmc: Bmc, now: float = T0) -> str:
    return run(bmc, 0x25, b"", now)


def test_reset_before_any_set_is_80(bmc: Bmc):
    assert run(bmc, 0x22) == "80"


def test_set_stores_values_and_leaves_timer_stopped(bmc: Bmc):
    # SMS/OS, hard reset, no pre-timeout, clear nothing, 10.0 s
    assert set_timer(bmc, "04 01 00 00 64 00") == "00"
    assert get_timer(bmc) == "00" "04" "01" "00" "00" "6400" "6400"
    assert get_timer(bmc, T0 + 50) == "00" "04" "01" "00" "00" "6400" "6400"


def test_reset_starts_the_countdown_in_100ms_units(bmc: Bmc):
    set_timer(bmc, "04 01 00 00 64 00")
    assert run(bmc, 0x22, now=T0) == "00"
    assert get_timer(bmc, T0) == "00" "44" "01" "00" "00" "6400" "6400"
    assert get_timer(bmc, T0 + 2.5) == "00" "44" "01" "00" "00" "6400" "4b00"
    assert get_timer(bmc, T0 + 2.55) == "00" "44" "01" "00" "00" "6400" "4b00"
    assert get_timer(bmc, T0 + 9.95) == "00" "44" "01" "00" "00" "6400" "0100"


def test_expiry_resets_the_machine_and_sets_the_use_flag(bmc: Bmc, power: FakePower,
                                                         watchdog: Watchdog):
    set_timer(bmc, "04 01 00 00 64 00")
    run(bmc, 0x22, now=T0)
    watchdog.tick(T0 + 9.9)
    assert power.requests == []
    assert watchdog.get_timer() == pytest.approx(T0 + 10)
    watchdog.tick(T0 + 10.0)
    assert power.requests == [PowerAction.RESET]
    assert watchdog.get_timer() is None
    # stopped, SMS/OS expiration flag (bit 4), present countdown 0
    assert get_timer(bmc, T0 + 11) == "00" "04" "01" "00" "10" "6400" "0000"
    watchdog.tick(T0 + 20)
    assert power.requests == [PowerAction.RESET], "an expired timer acts once"
    assert power.causes == ["watchdog"], "the restart cause must not read chassis control"


@pytest.mark.parametrize(("action", "expected"), [
    ("02", PowerAction.OFF), ("03", PowerAction.CYCLE), ("00", None)])
def test_expiry_actions(bmc: Bmc, power: FakePower, watchdog: Watchdog, action: str,
                        expected: PowerAction | None):
    set_timer(bmc, f"03 {action} 00 00 0a 00")
    run(bmc, 0x22, now=T0)
    watchdog.tick(T0 + 1.0)
    assert power.requests == ([expected] if expected else [])
    assert get_timer(bmc, T0 + 1)[:10] == f"0003{action}0008", "OS Load flag is bit 3"


def test_no_action_timer_still_runs_and_expires(bmc: Bmc, watchdog: Watchdog):
    # The spec runs the timer whatever the action (Linux relies on this: it never sends a
    # heartbeat with action none because that would start the timer).
    set_timer(bmc, "04 00 00 00 0a 00")
    run(bmc, 0x22, now=T0)
    assert get_timer(bmc, T0)[2:4] == "44"
    watchdog.tick(T0 + 1)
    assert get_timer(bmc, T0 + 1) == "00" "04" "00" "00" "10" "0a00" "0000"


def test_get_sees_an_expiry_that_is_due_between_ticks(bmc: Bmc, power: FakePower):
    set_timer(bmc, "04 01 00 00 0a 00")
    run(bmc, 0x22, now=T0)
    assert get_timer(bmc, T0 + 5)[2:4] == "04"
    assert power.requests == [PowerAction.RESET]


def test_set_clears_expiration_flags_by_mask(bmc: Bmc, watchdog: Watchdog):
    for use in ("01", "02", "04"):
        set_timer(bmc, f"{use} 00 00 00 01 00")
        run(bmc, 0x22, now=T0)
        watchdog.tick(T0 + 1)
    assert get_timer(bmc, T0 + 1)[8:10] == "16"
    set_timer(bmc, "04 00 00 12 01 00", T0 + 2)
    assert get_timer(bmc, T0 + 2)[8:10] == "04"


def test_set_without_dont_stop_stops_a_running_timer(bmc: Bmc, power: FakePower,
                                                     watchdog: Watchdog):
    set_timer(bmc, "04 01 00 00 64 00")
    run(bmc, 0x22, now=T0)
    # ipmitool mc watchdog off: SMS/OS, no action, clear SMS/OS flag, 300 s
    assert set_timer(bmc, "04 00 00 10 b8 0b", T0 + 1) == "00"
    assert get_timer(bmc, T0 + 2) == "00" "04" "00" "00" "00" "b80b" "b80b"
    watchdog.tick(T0 + 400)
    assert power.requests == []


def test_dont_stop_reloads_a_running_timer(bmc: Bmc):
    set_timer(bmc, "04 01 00 00 64 00")
    run(bmc, 0x22, now=T0)
    assert set_timer(bmc, "44 01 00 00 c8 00", T0 + 5) == "00"
    assert get_timer(bmc, T0 + 5) == "00" "44" "01" "00" "00" "c800" "c800"
    assert get_timer(bmc, T0 + 6) == "00" "44" "01" "00" "00" "c800" "be00"


def test_dont_stop_leaves_a_stopped_timer_stopped(bmc: Bmc):
    # Linux ipmi_watchdog's start: Set with don't-stop, then a heartbeat (Reset) starts it.
    assert set_timer(bmc, "44 01 00 00 64 00") == "00"
    assert get_timer(bmc)[2:4] == "04"
    assert run(bmc, 0x22, now=T0 + 1) == "00"
    assert get_timer(bmc, T0 + 1)[2:4] == "44"


def test_dont_log_bit_reads_back(bmc: Bmc):
    set_timer(bmc, "84 00 00 00 0a 00")
    assert get_timer(bmc)[2:4] == "84"
    run(bmc, 0x22, now=T0)
    assert get_timer(bmc)[2:4] == "c4"


def test_nmi_pretimeout_comes_first_then_the_action(bmc: Bmc, power: FakePower,
                                                    watchdog: Watchdog):
    # NMI pre-timeout (2 << 4) + hard reset, 2 s before a 5 s expiry
    assert set_timer(bmc, "04 21 02 00 32 00") == "00"
    run(bmc, 0x22, now=T0)
    assert watchdog.get_timer() == pytest.approx(T0 + 3)
    watchdog.tick(T0 + 2.9)
    assert power.requests == []
    watchdog.tick(T0 + 3.0)
    assert power.requests == [PowerAction.DIAG]
    assert bmc.system_interface.flags == 0x08
    assert watchdog.get_timer() == pytest.approx(T0 + 5)
    watchdog.tick(T0 + 4)
    assert power.requests == [PowerAction.DIAG]
    watchdog.tick(T0 + 5)
    assert power.requests == [PowerAction.DIAG, PowerAction.RESET]


def test_messaging_pretimeout_raises_the_flag_only(bmc: Bmc, power: FakePower,
                                                   watchdog: Watchdog):
    set_timer(bmc, "04 31 01 00 32 00")
    run(bmc, 0x22, now=T0)
    watchdog.tick(T0 + 4)
    assert power.requests == []
    assert run(bmc, 0x31) == "0008"
    assert run(bmc, 0x30, b"\x08") == "00"
    assert run(bmc, 0x31) == "0000"


def test_linux_nmi_self_test_fires_after_one_second(bmc: Bmc, power: FakePower,
                                                    watchdog: Watchdog):
    # ipmi_watchdog's nmi_check: 100 s timeout, 99 s pre-timeout, NMI, then waits ~1 s.
    set_timer(bmc, "44 21 63 00 e8 03")
    run(bmc, 0x22, now=T0)
    assert watchdog.get_timer() == pytest.approx(T0 + 1)
    watchdog.tick(T0 + 1)
    assert power.requests == [PowerAction.DIAG]


def test_pretimeout_longer_than_countdown_fires_at_once(bmc: Bmc, power: FakePower,
                                                        watchdog: Watchdog):
    set_timer(bmc, "04 20 0a 00 0a 00")
    run(bmc, 0x22, now=T0)
    watchdog.tick(T0)
    assert power.requests == [PowerAction.DIAG]


def test_reset_rearms_the_pretimeout(bmc: Bmc, power: FakePower, watchdog: Watchdog):
    set_timer(bmc, "04 20 01 00 14 00")
    run(bmc, 0x22, now=T0)
    watchdog.tick(T0 + 1)
    run(bmc, 0x22, now=T0 + 1.5)
    watchdog.tick(T0 + 2.5)
    assert power.requests == [PowerAction.DIAG, PowerAction.DIAG]


@pytest.mark.parametrize("data", [
    "00 01 00 00 0a 00",  # timer use 0 is reserved
    "06 01 00 00 0a 00",  # timer use 6 is reserved
    "04 04 00 00 0a 00",  # action 4 is reserved
    "04 11 01 00 0a 00",  # SMI pre-timeout: no SMI handler in a VM
    "04 41 01 00 0a 00",  # pre-timeout interrupt 4 is reserved
])
def test_reserved_values_are_cc(bmc: Bmc, data: str):
    assert set_timer(bmc, data) == "cc"
    assert run(bmc, 0x22) == "80", "a refused Set leaves the timer uninitialized"


def test_lengths(bmc: Bmc):
    assert set_timer(bmc, "04 01 00 00 0a") == "c7"
    assert run(bmc, 0x22, b"\x00") == "c7"
    assert run(bmc, 0x25, b"\x00") == "c7"


def test_privileges(bmc: Bmc):
    set_timer(bmc, "04 01 00 00 0a 00")
    assert run(bmc, 0x25, privilege=Privilege.USER, channel=LAN_CHANNEL)[:2] == "00"
    assert run(bmc, 0x22, privilege=Privilege.USER, channel=LAN_CHANNEL) == "d4"
    assert run(bmc, 0x24, bytes.fromhex("04010000 0a00"), privilege=Privilege.USER,
               channel=LAN_CHANNEL) == "d4"
    assert run(bmc, 0x22, privilege=Privilege.OPERATOR, channel=LAN_CHANNEL) == "00"


def test_power_off_stops_the_timer(bmc: Bmc, power: FakePower, watchdog: Watchdog):
    set_timer(bmc, "04 03 00 00 64 00")
    run(bmc, 0x22, now=T0)
    power.on = False
    watchdog.tick(T0 + 1)
    assert get_timer(bmc, T0 + 1)[2:4] == "04"
    watchdog.tick(T0 + 20)
    assert power.requests == []


def test_timer_started_while_off_runs(bmc: Bmc, power: FakePower, watchdog: Watchdog):
    power.on = False
    set_timer(bmc, "04 03 00 00 0a 00")
    run(bmc, 0x22, now=T0)
    watchdog.tick(T0 + 1)
    assert power.requests == [PowerAction.CYCLE]


def test_host_reset_stops_the_timer(bmc: Bmc, watchdog: Watchdog):
    set_timer(bmc, "04 01 00 00 64 00")
    run(bmc, 0x22, now=T0)
    watchdog.host_reset()
    assert get_timer(bmc, T0 + 1) == "00" "04" "01" "00" "00" "6400" "6400"


def test_refused_power_action_is_logged_not_raised(bmc: Bmc, power: FakePower,
                                                   watchdog: Watchdog,
                                                   caplog: pytest.LogCaptureFixture):
    power.refuse = True
    set_timer(bmc, "04 01 00 00 0a 00")
    run(bmc, 0x22, now=T0)
    watchdog.tick(T0 + 1)
    assert "not carried out" in caplog.text
    assert get_timer(bmc, T0 + 1)[8:10] == "10"


def test_expiry_is_logged_as_a_watchdog_event(bmc: Bmc, watchdog: Watchdog,
                                              caplog: pytest.LogCaptureFixture):
    before = len(bmc.platform.sel.entries)
    set_timer(bmc, "04 32 01 00 14 00")  # messaging pre-timeout, power down, 2 s
    run(bmc, 0x22, now=T0)
    watchdog.tick(T0 + 2)
    # SEL system event records: sensor type at byte 10, event type at 12, event data at 13-15.
    # Pre-timeout: offset 8, data2 = interrupt 3 << 4 | use 4; then power down: offset 2.
    events = [(entry[10], entry[12] & 0x7F, entry[13:16])
              for entry in bmc.platform.sel.entries[before:]]
    assert events == [(0x23, 0x6F, bytes([0xC8, 0x34, 0xFF])),
                      (0x23, 0x6F, bytes([0xC2, 0x34, 0xFF]))]
    assert "watchdog expired" in caplog.text


def test_dont_log_suppresses_the_event(bmc: Bmc, watchdog: Watchdog):
    events: list[tuple[int, int, bytes]] = []
    bmc.platform.add_event = lambda *args: events.append(args)  # type: ignore[attr-defined]
    set_timer(bmc, "84 01 00 00 0a 00")
    run(bmc, 0x22, now=T0)
    watchdog.tick(T0 + 1)
    assert events == []
    assert get_timer(bmc, T0 + 1)[2:4] == "04", "a time-out clears don't-log"


def test_host_reset_clears_dont_log_but_keeps_flags(bmc: Bmc, watchdog: Watchdog):
    set_timer(bmc, "84 00 00 00 0a 00")
    run(bmc, 0x22, now=T0)
    watchdog.tick(T0 + 1)
    set_timer(bmc, "83 01 00 00 64 00", T0 + 2)
    run(bmc, 0x22, now=T0 + 2)
    watchdog.host_reset()
    assert get_timer(bmc, T0 + 3) == "00" "03" "01" "00" "10" "6400" "6400"


def test_listeners_hear_timer_changes(bmc: Bmc, watchdog: Watchdog):
    deadlines: list[float | None] = []
    watchdog.add_listener(lambda: deadlines.append(watchdog.get_timer()))
    set_timer(bmc, "04 01 00 00 0a 00")
    run(bmc, 0x22, now=T0)
    watchdog.tick(T0 + 1)
    assert deadlines == [None, pytest.approx(T0 + 1), None]


def test_the_bmc_timer_drives_the_watchdog(bmc: Bmc, power: FakePower):
    set_timer(bmc, "04 01 00 00 0a 00")
    run(bmc, 0x22, now=T0)
    assert bmc.get_timer() is not None and bmc.get_timer() <= T0 + 1
    bmc.handle_timer(T0 + 0.9)
    assert power.requests == []
    bmc.handle_timer(T0 + 1)
    assert power.requests == [PowerAction.RESET]


def test_expiry_lands_in_the_sel(bmc: Bmc, watchdog: Watchdog):
    set_timer(bmc, "04 01 00 00 0a 00")
    run(bmc, 0x22, now=T0)
    watchdog.tick(T0 + 1)
    # SEL record: sensor type at 10, event/reading type at 12, event data at 13..15
    watchdog_records = [r for r in bmc.platform.sel.entries if r[10] == 0x23]
    assert [(r[12], r[13:16].hex()) for r in watchdog_records] == [(0x6F, "c104ff")]


def test_zero_countdown_acts_at_once(bmc: Bmc, power: FakePower, watchdog: Watchdog):
    set_timer(bmc, "04 02 00 00 00 00")
    run(bmc, 0x22, now=T0)
    assert watchdog.get_timer() == pytest.approx(T0)
    watchdog.tick(T0)
    assert power.requests == [PowerAction.OFF]


def test_a_reset_of_the_simulated_machine_stops_the_timer(tmp_path: Path):
    config = parse_config({"bmc": {"name": "s", "address": "127.0.0.2",
                                   "state_dir": str(tmp_path)},
                           "power": {"initial_state": "on"}})
    bmc = Bmc(config)
    assert bmc.power.is_on()
    set_timer(bmc, "04 01 00 00 64 00")
    run(bmc, 0x22, now=T0)
    bmc.system_interface.queue_message(0x01, b"\x42")
    assert get_timer(bmc, T0)[2:4] == "44"
    bmc.power.request(PowerAction.RESET)  # chassis power reset: a "boot" event
    assert get_timer(bmc, T0 + 1)[2:4] == "04"
    assert run(bmc, 0x31) == "0000", "the old OS's messages are gone"


# ----------------------------------------------------------------- restart cause (00 07)
def simulated_bmc(tmp_path: Path) -> Bmc:
    config = parse_config({"bmc": {"name": "s", "address": "127.0.0.2",
                                   "state_dir": str(tmp_path)},
                           "power": {"cycle_interval": 0.01}})
    return Bmc(config, clock=FakeClock(T0))


def chassis(bmc: Bmc, cmd: int, data: bytes = b"") -> str:
    """A chassis command over the LAN channel; `cc data...` as hex."""
    ctx = bmc.context(LAN_CHANNEL, Privilege.ADMINISTRATOR, now=T0)
    return bmc.execute(ctx, 0x00, cmd, data).hex()


def test_watchdog_hard_reset_is_restart_cause_watchdog(tmp_path: Path):
    bmc = simulated_bmc(tmp_path)
    assert chassis(bmc, 0x02, b"\x01") == "00"  # power up by Chassis Control over LAN
    assert chassis(bmc, 0x07) == "000101", "chassis control, channel 1"
    set_timer(bmc, "04 01 00 00 0a 00")  # SMS/OS, hard reset, 1 s
    run(bmc, 0x22, now=T0)
    bmc.watchdog.tick(T0 + 1)
    assert bmc.power.is_on()
    assert chassis(bmc, 0x07) == "000400", "watchdog (4), not chassis control (1)"


def test_watchdog_power_cycle_is_restart_cause_watchdog(tmp_path: Path):
    bmc = simulated_bmc(tmp_path)
    assert chassis(bmc, 0x02, b"\x01") == "00"
    set_timer(bmc, "04 03 00 00 0a 00")  # SMS/OS, power cycle, 1 s
    run(bmc, 0x22, now=T0)
    kinds: list[str] = []
    listener = bmc._on_power_event
    bmc.power.set_listener(lambda e: (kinds.append(e.kind), listener(e))[1])
    bmc.clock.advance(1)
    bmc.handle_timer(T0 + 1)
    assert kinds == ["off"], "the power went off; the state reads on until the cycle ends"
    run_timers(bmc, bmc.clock, 0.01)
    assert bmc.power.is_on(), "the cycle powers the machine up again"
    assert chassis(bmc, 0x07) == "000400"
