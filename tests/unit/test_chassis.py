"""Chassis commands (NetFn 0x00) with the byte sequences real clients send."""

from __future__ import annotations

from typing import Any

import pytest

from pybmc.core.bmc import Bmc
from pybmc.model.power import BootChoice, PowerAction, PowerEvent
from pybmc.model.simulated_power import SimulatedPower
from pybmc.wire.codes import LAN_CHANNEL, Privilege
from tests.unit.clock import FakeClock, run_timers
from tests.unit.conftest import ADMIN, MakeBmc

DELAY = 0.05  # soft_off_delay and cycle_interval in these tests


POWER = {"soft_off_delay": DELAY, "cycle_interval": DELAY}


@pytest.fixture
def bmc_sections() -> dict[str, Any]:
    return {"users": [ADMIN], "power": POWER}


@pytest.fixture
def bmc_clock() -> FakeClock:
    return FakeClock()


def wait(bmc: Bmc, seconds: float) -> None:
    """Let `seconds` pass on the BMC's fake clock, its timer firing as it falls due."""
    assert isinstance(bmc.clock, FakeClock)
    run_timers(bmc, bmc.clock, seconds)


def call(bmc: Bmc, request: str, privilege: Privilege = Privilege.ADMINISTRATOR,
         now: float | None = None) -> str:
    """Send `netfn cmd data...` (hex) over the LAN channel; returns `cc data...` as hex."""
    raw = bytes.fromhex(request)
    ctx = bmc.context(LAN_CHANNEL, privilege, now=now)
    return bmc.execute(ctx, raw[0], raw[1], raw[2:]).hex(" ")


def boots(bmc: Bmc) -> list[BootChoice]:
    """Record the BootChoice of every boot event from now on."""
    seen: list[BootChoice] = []
    listener = bmc._on_power_event

    def spy(event: PowerEvent) -> BootChoice | None:
        choice = listener(event)
        if event.kind == "boot":
            assert choice is not None
            seen.append(choice)
        return choice

    bmc.power.set_listener(spy)
    return seen


# ----------------------------------------------------------------- capabilities and status
def test_get_chassis_capabilities(bmc: Bmc):
    # front panel lockout provided: Chassis Status advertises disabling every button
    assert call(bmc, "00 00") == "00 02 20 20 20 20 20"


def test_set_chassis_capabilities_reads_back_and_persists(make_bmc: MakeBmc, bmc: Bmc):
    assert call(bmc, "00 05 01 22 24 26 28") == "00"
    assert call(bmc, "00 00") == "00 01 22 24 26 28 20"
    assert call(bmc, "00 05 03 20 20 20 20 30") == "00"
    assert call(make_bmc(), "00 00") == "00 03 20 20 20 20 30"


def test_set_chassis_capabilities_needs_administrator(bmc: Bmc):
    assert call(bmc, "00 05 01 20 20 20 20", Privilege.OPERATOR) == "d4"


def test_chassis_status_off_with_default_restore_policy_previous(bmc: Bmc):
    # power off, policy "previous" (01b in bits 6:5), no last event, identify supported+off,
    # every front panel button may be disabled, none is.
    assert call(bmc, "00 01") == "00 20 00 40 f0"


def test_chassis_status_needs_only_user_privilege(bmc: Bmc):
    assert call(bmc, "00 01", Privilege.USER).startswith("00 ")
    assert call(bmc, "00 01", Privilege.CALLBACK) == "d4"


def test_chassis_status_reports_power_on_via_ipmi_command(bmc: Bmc):
    assert call(bmc, "00 02 01") == "00"
    assert call(bmc, "00 01") == "00 21 10 40 f0"


def test_chassis_status_with_extra_data_is_c7(bmc: Bmc):
    assert call(bmc, "00 01 00") == "c7"


def test_set_front_panel_enables_reads_back_in_chassis_status(make_bmc: MakeBmc, bmc: Bmc):
    assert call(bmc, "00 0a 05") == "00"  # disable the diagnostic and power off buttons
    assert call(bmc, "00 01").split()[4] == "f5"
    assert call(make_bmc(), "00 01").split()[4] == "f5"
    assert call(bmc, "00 0a 00", Privilege.OPERATOR) == "d4"


# ----------------------------------------------------------------- chassis control
def test_chassis_control_on_and_off(bmc: Bmc):
    assert call(bmc, "00 02 01") == "00"
    assert bmc.power.is_on()
    assert bmc.state.power_on
    assert call(bmc, "00 02 00") == "00"
    assert not bmc.power.is_on()
    assert not bmc.state.power_on


@pytest.mark.parametrize("action", ["03", "04", "05"])
def test_reset_diag_soft_while_off_are_d5(bmc: Bmc, action: str):
    assert call(bmc, f"00 02 {action}") == "d5"
    assert not bmc.power.is_on()


@pytest.mark.parametrize("value", ["06", "0f", "81"])
def test_chassis_control_unknown_action_is_cc(bmc: Bmc, value: str):
    assert call(bmc, f"00 02 {value}") == "cc"


def test_chassis_control_needs_operator(bmc: Bmc):
    assert call(bmc, "00 02 01", Privilege.USER) == "d4"
    assert call(bmc, "00 02 01", Privilege.OPERATOR) == "00"


def test_chassis_control_without_data_is_c7(bmc: Bmc):
    assert call(bmc, "00 02") == "c7"


def test_soft_off_completes_after_the_delay(bmc: Bmc):
    call(bmc, "00 02 01")
    assert call(bmc, "00 02 05") == "00"
    assert bmc.power.is_on()  # the OS is shutting down
    wait(bmc, DELAY * 4)
    assert not bmc.power.is_on()
    assert not bmc.state.power_on


def test_soft_off_asked_twice_keeps_the_first_deadline(make_bmc: MakeBmc):
    bmc = make_bmc(power={**POWER, "soft_off_delay": 0.2})
    call(bmc, "00 02 01")
    call(bmc, "00 02 05")
    wait(bmc, 0.12)
    call(bmc, "00 02 05")
    wait(bmc, 0.07)  # 0.19 s after the first request: still shutting down
    assert bmc.power.is_on()
    wait(bmc, 0.02)  # 0.21 s after the first request, 0.09 s after the second
    assert not bmc.power.is_on()


def test_power_on_during_soft_off_does_not_stop_the_shutdown(bmc: Bmc):
    call(bmc, "00 02 01")
    call(bmc, "00 02 05")
    assert call(bmc, "00 02 01") == "00"
    wait(bmc, DELAY * 4)
    assert not bmc.power.is_on()


def test_reset_cancels_a_soft_off(bmc: Bmc):
    call(bmc, "00 02 01")
    call(bmc, "00 02 05")
    assert call(bmc, "00 02 03") == "00"
    wait(bmc, DELAY * 4)
    assert bmc.power.is_on()


def test_cycle_goes_off_then_on_after_the_interval(bmc: Bmc):
    events: list[str] = []
    listener = bmc._on_power_event
    bmc.power.set_listener(lambda e: (events.append(e.kind), listener(e))[1])
    call(bmc, "00 02 01")
    assert call(bmc, "00 02 02") == "00"
    assert events == ["on", "boot", "off"]  # the power went off at once...
    assert bmc.power.is_on()  # ...but the cycle is committed: the state reads on throughout
    assert int(call(bmc, "00 01").split()[1], 16) & 0x01  # Chassis Status: power on
    wait(bmc, DELAY * 4)
    assert bmc.power.is_on()
    assert events == ["on", "boot", "off", "on", "boot"]


def test_reset_during_a_cycle_powers_on_at_once(bmc: Bmc):
    events: list[str] = []
    listener = bmc._on_power_event
    bmc.power.set_listener(lambda e: (events.append(e.kind), listener(e))[1])
    call(bmc, "00 02 01")
    call(bmc, "00 02 02")
    assert call(bmc, "00 02 03") == "00"  # accepted, not 0xD5
    assert events == ["on", "boot", "off", "on", "boot"]
    wait(bmc, DELAY * 4)
    assert events == ["on", "boot", "off", "on", "boot"]  # the cycle's own power-on is gone


def test_soft_off_during_a_cycle_cancels_its_power_on(bmc: Bmc):
    call(bmc, "00 02 01")
    call(bmc, "00 02 02")
    assert call(bmc, "00 02 04") == "00"  # diagnostic interrupt: accepted, nothing to hit
    assert call(bmc, "00 02 05") == "00"
    assert not bmc.power.is_on()
    wait(bmc, DELAY * 4)
    assert not bmc.power.is_on()


def test_cycle_while_off_powers_on(bmc: Bmc):
    assert call(bmc, "00 02 02") == "00"
    wait(bmc, DELAY * 4)
    assert bmc.power.is_on()


def test_set_power_cycle_interval_applies_to_the_next_cycle(make_bmc: MakeBmc):
    bmc = make_bmc(power={**POWER, "cycle_interval": 5.0})
    assert call(bmc, "00 0b 00") == "00"
    call(bmc, "00 02 02")
    wait(bmc, 0.001)  # interval 0: on at the next timer
    assert bmc.power.is_on()
    again = make_bmc(power={**POWER, "cycle_interval": 5.0})  # the interval a client set persists
    call(again, "00 02 00")
    call(again, "00 02 02")
    wait(again, 0.001)
    assert again.power.is_on()


def test_off_during_a_cycle_keeps_the_machine_off(bmc: Bmc):
    call(bmc, "00 02 01")
    call(bmc, "00 02 02")
    call(bmc, "00 02 00")
    wait(bmc, DELAY * 4)
    assert not bmc.power.is_on()


def test_diag_interrupt_while_on_is_accepted(bmc: Bmc):
    call(bmc, "00 02 01")
    assert call(bmc, "00 02 04") == "00"
    assert bmc.power.is_on()


# ----------------------------------------------------------------- identify
def test_identify_with_interval_is_timed_on_then_expires(bmc: Bmc):
    assert call(bmc, "00 04 05", now=100.0) == "00"
    assert call(bmc, "00 01", now=104.0) == "00 20 00 50 f0"
    assert call(bmc, "00 01", now=105.5) == "00 20 00 40 f0"


def test_identify_without_data_lasts_15_seconds(bmc: Bmc):
    assert call(bmc, "00 04", now=10.0) == "00"
    assert call(bmc, "00 01", now=24.0).split()[3] == "50"
    assert call(bmc, "00 01", now=25.5).split()[3] == "40"


def test_identify_force_is_indefinite_until_turned_off(bmc: Bmc):
    assert call(bmc, "00 04 00 01", now=0.0) == "00"
    assert call(bmc, "00 01", now=10_000.0).split()[3] == "60"
    assert call(bmc, "00 04 00", now=10_001.0) == "00"
    assert call(bmc, "00 01", now=10_001.0).split()[3] == "40"


def test_identify_needs_operator(bmc: Bmc):
    assert call(bmc, "00 04 05", Privilege.USER) == "d4"


# ----------------------------------------------------------------- restore policy
def test_set_power_restore_policy_and_no_change(make_bmc: MakeBmc, bmc: Bmc):
    assert call(bmc, "00 06 02") == "00 07"  # always on; supported: all three
    assert call(bmc, "00 01").split()[1] == "40"  # 10b in bits 6:5, power off
    assert call(bmc, "00 06 03") == "00 07"  # no change: just the supported set
    assert bmc.state.restore_policy == 2
    assert call(bmc, "00 06 00") == "00 07"
    assert call(bmc, "00 01").split()[1] == "00"
    assert call(make_bmc(), "00 01").split()[1] == "00"


def test_set_power_restore_policy_reserved_value_is_cc(bmc: Bmc):
    assert call(bmc, "00 06 04") == "cc"


def test_restore_policy_always_on_starts_a_new_bmc_powered_on(make_bmc: MakeBmc, bmc: Bmc):
    call(bmc, "00 06 02")
    assert make_bmc().power.is_on()


# ----------------------------------------------------------------- restart cause, POH
def test_restart_cause_after_chassis_control_names_the_channel(bmc: Bmc):
    assert call(bmc, "00 07") == "00 00 00"
    call(bmc, "00 02 01")
    assert call(bmc, "00 07") == "00 01 01"
    assert bmc.execute_in_band(0x00, 0x02, b"\x03") == b"\x00"
    assert call(bmc, "00 07") == "00 01 0f"


def test_restart_cause_of_a_guest_reboot_is_soft_reset(make_bmc: MakeBmc, bmc: Bmc):
    call(bmc, "00 02 01")
    assert isinstance(bmc.power, SimulatedPower)
    bmc.power.guest_reboot()
    assert call(bmc, "00 07") == "00 0a 00"
    assert call(make_bmc(), "00 07") == "00 0a 00"


def test_reset_requested_by_the_watchdog_is_a_watchdog_restart(bmc: Bmc):
    call(bmc, "00 02 01")
    assert isinstance(bmc.power, SimulatedPower)
    bmc.power.request(PowerAction.RESET, cause="watchdog")
    assert call(bmc, "00 07") == "00 04 00"


def test_poh_counter_counts_hours_across_bmc_restarts(make_bmc: MakeBmc, bmc: Bmc):
    assert call(bmc, "00 0f") == "00 3c 00 00 00 00"
    bmc.state.poh_minutes_base = 60 * 300 + 59  # 300 h 59 min banked
    bmc.save()
    again = make_bmc()
    assert call(again, "00 0f") == "00 3c 2c 01 00 00"


def test_poh_counter_includes_the_running_power_on(bmc: Bmc):
    bmc.state.poh_minutes_base = 30
    call(bmc, "00 02 01")
    bmc.state.extra["poh_on_since"] -= 31 * 60  # on for 31 minutes: 61 minutes in all
    assert call(bmc, "00 0f") == "00 3c 01 00 00 00"


# ----------------------------------------------------------------- boot options
def test_xcat_rsetboot_net_sequence(bmc: Bmc):
    # xCAT ipmi.pm setboot: disable the 60 s timer, set in progress, flags, set complete.
    assert call(bmc, "00 08 03 08") == "00"
    assert call(bmc, "00 08 00 01") == "00"
    assert call(bmc, "00 08 05 80 04 00 00 00") == "00"
    assert call(bmc, "00 08 00 00") == "00"
    assert call(bmc, "00 09 05 00 00") == "00 01 05 80 04 00 00 00"
    assert call(bmc, "00 09 03 00 00") == "00 01 03 08"


@pytest.mark.parametrize(("flags", "device"), [
    ("80 04", "pxe"), ("80 08", "disk"), ("80 14", "cdrom"), ("80 3c", "floppy"),
    ("80 18", "bios"), ("c0 04", "pxe"), ("a0 08", "disk"), ("e0 14", "cdrom"),
])
def test_xcat_rsetboot_targets_read_back(bmc: Bmc, flags: str, device: str):
    assert call(bmc, f"00 08 05 {flags} 00 00 00") == "00"
    assert call(bmc, "00 09 05 00 00") == f"00 01 05 {flags} 00 00 00"


def test_xcat_rsetboot_default_clears_the_override(bmc: Bmc):
    call(bmc, "00 08 05 80 04 00 00 00")
    assert call(bmc, "00 08 05 00 00 00 00 00") == "00"
    assert call(bmc, "00 09 05 00 00") == "00 01 05 00 00 00 00 00"


def test_pyghmi_set_bootdev_network_persistent_uefi(bmc: Bmc):
    # Command.set_bootdev('network', persist=True, uefiboot=True)
    assert call(bmc, "00 08 03 08") == "00"
    assert call(bmc, "00 08 05 e0 04 00 00 00") == "00"
    # Command.get_bootdev(): data[0] == 1 and data[1] & 0x7f == 5, flags follow.
    assert call(bmc, "00 09 05 00 00") == "00 01 05 e0 04 00 00 00"


def test_ipmitool_bootdev_pxe_persistent_efiboot_sequence(bmc: Bmc):
    # ipmitool chassis bootdev pxe options=persistent,efiboot
    assert call(bmc, "00 08 00 01") == "00"  # set in progress
    assert call(bmc, "00 08 04 01 01") == "00"  # clear the BIOS/POST acknowledge
    assert call(bmc, "00 08 05 e0 04 00 00 00") == "00"
    assert call(bmc, "00 08 00 02") == "00"  # commit write
    assert call(bmc, "00 08 00 00") == "00"  # set complete
    assert call(bmc, "00 09 05 00 00") == "00 01 05 e0 04 00 00 00"
    assert call(bmc, "00 09 04 00 00") == "00 01 04 00 01"
    assert call(bmc, "00 09 00 00 00") == "00 01 00 00"


def test_boot_options_persist_across_a_new_bmc(make_bmc: MakeBmc, bmc: Bmc):
    call(bmc, "00 08 05 c0 08 00 00 00")
    call(bmc, "00 08 03 1f")
    call(bmc, "00 08 07 01 41 42 43")
    again = make_bmc()
    assert call(again, "00 09 05 00 00") == "00 01 05 c0 08 00 00 00"
    assert call(again, "00 09 03 00 00") == "00 01 03 1f"
    assert call(again, "00 09 07 01 00") == "00 01 07 01 41 42 43" + " 00" * 13


@pytest.mark.parametrize(("param", "data"), [
    (1, "05"), (2, "03"), (3, "1f"), (5, "e0 bc 7f 0f 1f"), (6, "01 11 22 33 44 55 66 77 88"),
])
def test_every_parameter_reads_back_byte_for_byte(bmc: Bmc, param: int, data: str):
    assert call(bmc, f"00 08 {param:02x} {data}") == "00"
    assert call(bmc, f"00 09 {param:02x} 00 00") == f"00 01 {param:02x} {data}"


def test_unset_parameters_read_as_zeros(bmc: Bmc):
    assert call(bmc, "00 09 00 00 00") == "00 01 00 00"
    assert call(bmc, "00 09 04 00 00") == "00 01 04 00 00"
    assert call(bmc, "00 09 06 00 00") == "00 01 06" + " 00" * 9
    assert call(bmc, "00 09 07 00 00") == "00 01 07 00" + " 00" * 16


def test_boot_info_acknowledge_writes_only_masked_bits(bmc: Bmc):
    assert call(bmc, "00 08 04 1f 1f") == "00"
    assert call(bmc, "00 09 04 00 00") == "00 01 04 00 1f"
    assert call(bmc, "00 08 04 06 00") == "00"  # clear bits 1 and 2 only
    assert call(bmc, "00 09 04 00 00") == "00 01 04 00 19"


def test_mailbox_blocks(bmc: Bmc):
    block = " ".join(f"{i:02x}" for i in range(16))
    assert call(bmc, f"00 08 07 02 {block}") == "00"
    assert call(bmc, "00 09 07 02 00") == f"00 01 07 02 {block}"
    assert call(bmc, "00 09 07 0f 00") == "00 01 07 0f" + " 00" * 16
    assert call(bmc, "00 09 07 10 00") == "c9"  # past the end: ipmitool stops reading here
    assert call(bmc, "00 08 07 10 01") == "c9"


@pytest.mark.parametrize("param", ["08", "60", "7f"])
def test_unknown_parameters_are_80(bmc: Bmc, param: str):
    assert call(bmc, f"00 09 {param} 00 00") == "80"
    assert call(bmc, f"00 08 {param} 00") == "80"


@pytest.mark.parametrize("request_", ["00 08 05 80 04", "00 08 03", "00 08 03 08 00",
                                      "00 08 00", "00 08", "00 09 05", "00 09 05 00 00 00"])
def test_wrong_lengths_are_c7(bmc: Bmc, request_: str):
    assert call(bmc, request_) == "c7"


def test_set_in_progress_twice_is_81_until_complete(bmc: Bmc):
    assert call(bmc, "00 08 00 01", now=0.0) == "00"
    assert call(bmc, "00 09 00 00 00", now=1.0) == "00 01 00 01"
    assert call(bmc, "00 08 00 01", now=2.0) == "81"
    assert call(bmc, "00 08 00 00", now=3.0) == "00"
    assert call(bmc, "00 08 00 01", now=4.0) == "00"


def test_an_abandoned_set_in_progress_lapses(bmc: Bmc):
    assert call(bmc, "00 08 00 01", now=0.0) == "00"
    assert call(bmc, "00 08 00 01", now=30.0) == "81"
    assert call(bmc, "00 09 00 00 00", now=61.0) == "00 01 00 00"
    assert call(bmc, "00 08 00 01", now=62.0) == "00"


def test_set_in_progress_is_not_persisted(make_bmc: MakeBmc, bmc: Bmc):
    call(bmc, "00 08 00 01")
    assert call(make_bmc(), "00 09 00 00 00") == "00 01 00 00"


def test_set_in_progress_reserved_value_is_cc(bmc: Bmc):
    assert call(bmc, "00 08 00 03") == "cc"


def test_parameter_marked_invalid_reads_back_with_bit_7(bmc: Bmc):
    assert call(bmc, "00 08 85 80 04 00 00 00") == "00"
    assert call(bmc, "00 09 05 00 00") == "00 01 85 80 04 00 00 00"
    assert call(bmc, "00 08 05 80 04 00 00 00") == "00"
    assert call(bmc, "00 09 05 00 00") == "00 01 05 80 04 00 00 00"


def test_boot_options_need_operator(bmc: Bmc):
    assert call(bmc, "00 09 05 00 00", Privilege.USER) == "d4"
    assert call(bmc, "00 08 05 80 04 00 00 00", Privilege.USER) == "d4"
    assert call(bmc, "00 09 05 00 00", Privilege.OPERATOR).startswith("00 ")


# ----------------------------------------------------------------- boot flags at boot time
def test_one_time_pxe_is_used_by_the_next_power_on_then_cleared(bmc: Bmc):
    seen = boots(bmc)
    call(bmc, "00 08 05 80 04 00 00 00")
    call(bmc, "00 02 01")
    assert seen == [BootChoice("pxe", efi=False)]
    assert call(bmc, "00 09 05 00 00") == "00 01 05 00 04 00 00 00"
    call(bmc, "00 02 03")
    assert seen[-1] == BootChoice("default")


def test_persistent_efi_disk_is_used_by_every_boot(bmc: Bmc):
    seen = boots(bmc)
    call(bmc, "00 08 05 e0 08 00 00 00")
    call(bmc, "00 02 01")
    call(bmc, "00 02 03")
    assert seen == [BootChoice("disk", efi=True)] * 2
    assert call(bmc, "00 09 05 00 00") == "00 01 05 e0 08 00 00 00"


def test_one_time_override_applies_to_a_hard_reset(bmc: Bmc):
    call(bmc, "00 02 01")
    seen = boots(bmc)
    call(bmc, "00 08 05 80 14 00 00 00")
    call(bmc, "00 02 03")
    assert seen == [BootChoice("cdrom")]


def test_one_time_override_applies_to_a_guest_reboot(bmc: Bmc):
    call(bmc, "00 02 01")
    seen = boots(bmc)
    call(bmc, "00 08 03 08")  # xCAT's "no 60 s timeout" does not keep it across a reboot
    call(bmc, "00 08 05 80 04 00 00 00")
    assert isinstance(bmc.power, SimulatedPower)
    bmc.power.guest_reboot()
    bmc.power.guest_reboot()
    assert seen == [BootChoice("pxe"), BootChoice("default")]


def test_valid_bit_clearing_parameter_keeps_it_across_a_guest_reboot(bmc: Bmc):
    call(bmc, "00 02 01")
    seen = boots(bmc)
    call(bmc, "00 08 03 02")  # don't clear on push button reset / soft reset
    call(bmc, "00 08 05 80 04 00 00 00")
    assert isinstance(bmc.power, SimulatedPower)
    bmc.power.guest_reboot()
    assert call(bmc, "00 09 05 00 00") == "00 01 05 80 04 00 00 00"
    call(bmc, "00 02 03")  # a chassis control reset is not covered by parameter 3
    assert seen == [BootChoice("pxe"), BootChoice("pxe")]
    assert call(bmc, "00 09 05 00 00") == "00 01 05 00 04 00 00 00"


def test_boot_acknowledges_bios_post_handled_the_boot_info(bmc: Bmc):
    call(bmc, "00 08 04 01 01")
    call(bmc, "00 08 05 80 04 00 00 00")
    call(bmc, "00 02 01")
    assert call(bmc, "00 09 04 00 00") == "00 01 04 00 00"


def test_one_time_override_survives_until_a_cycle_boots(bmc: Bmc):
    seen = boots(bmc)
    call(bmc, "00 08 05 80 04 00 00 00")
    call(bmc, "00 02 02")  # cycle while off: powers on after the interval
    assert seen == []
    wait(bmc, DELAY * 4)
    assert seen == [BootChoice("pxe")]


def test_one_time_override_set_before_a_bmc_restart_is_still_used(make_bmc: MakeBmc, bmc: Bmc):
    call(bmc, "00 08 05 80 04 00 00 00")
    again = make_bmc()
    seen = boots(again)
    call(again, "00 02 01")
    assert seen == [BootChoice("pxe")]
