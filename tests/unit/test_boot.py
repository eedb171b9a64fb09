"""Boot option storage, device selection, restart causes and power-on hours (pybmc.model.boot)."""

from __future__ import annotations

import time

import pytest

from pybmc.core.bmc import Bmc
from pybmc.model import boot
from pybmc.model.boot import RestartCause
from pybmc.model.power import BootChoice, PowerEvent
from pybmc.model.state import State
from pybmc.wire.errors import CommandError
from tests.unit.conftest import MakeBmc


def set_flags(bmc: Bmc, flags: str) -> None:
    boot.write_parameter(bmc.state, boot.BOOT_FLAGS, bytes.fromhex(flags))


def boot_event(bmc: Bmc, cause: str) -> BootChoice:
    """What the Bmc does at a boot event: record it, take the boot device, save."""
    choice = bmc._on_power_event(PowerEvent("boot", cause))
    assert choice is not None
    return choice


# ----------------------------------------------------------------- device selector
@pytest.mark.parametrize(("byte2", "device"), [
    (0x00, "default"), (0x04, "pxe"), (0x08, "disk"), (0x0C, "disk"), (0x10, "disk"),
    (0x14, "cdrom"), (0x18, "bios"), (0x1C, "floppy"), (0x20, "cdrom"), (0x24, "cdrom"),
    (0x28, "default"), (0x2C, "disk"), (0x30, "default"), (0x3C, "floppy"),
    # the other bits of byte 2 (CMOS clear, lock keyboard, screen blank, reset lockout)
    (0xC7 | 0x04, "pxe"),
])
def test_device_selector_names(byte2: int, device: str):
    assert boot.device_name(bytes([0x80, byte2, 0, 0, 0])) == device


# ----------------------------------------------------------------- take_boot_device
def test_no_override_is_the_firmware_default(bmc: Bmc):
    assert boot.take_boot_device(bmc.state, bmc.name) == BootChoice("default", efi=False)


def test_invalid_flags_are_ignored_even_with_a_device(bmc: Bmc):
    set_flags(bmc, "60 04 00 00 00")  # persistent + EFI, but not valid
    assert boot.take_boot_device(bmc.state, bmc.name) == BootChoice()


def test_one_time_override_is_used_once(bmc: Bmc):
    set_flags(bmc, "a0 14 00 00 00")
    assert boot_event(bmc, "chassis control") == BootChoice("cdrom", efi=True)
    assert boot.read_parameter(bmc.state, boot.BOOT_FLAGS) == bytes.fromhex("2014000000")
    assert boot_event(bmc, "chassis control") == BootChoice()


def test_persistent_override_stays(bmc: Bmc):
    set_flags(bmc, "c0 18 00 00 00")
    for _ in range(3):
        choice = boot_event(bmc, "hard reset")
        assert choice == BootChoice("bios") and choice.persistent
    assert boot.read_parameter(bmc.state, boot.BOOT_FLAGS) == bytes.fromhex("c018000000")


def test_clearing_is_saved_at_once(bmc: Bmc, make_bmc: MakeBmc):
    set_flags(bmc, "80 04 00 00 00")
    boot_event(bmc, "chassis control")
    assert make_bmc().state.boot["5"] == bytes.fromhex("0004000000")


def test_locked_boot_flags_are_not_applied(bmc: Bmc):
    set_flags(bmc, "80 04 00 00 00")
    boot.mark_invalid(bmc.state, boot.BOOT_FLAGS, invalid=True)
    assert boot.take_boot_device(bmc.state, bmc.name) == BootChoice()
    boot.mark_invalid(bmc.state, boot.BOOT_FLAGS, invalid=False)
    assert boot.take_boot_device(bmc.state, bmc.name) == BootChoice("pxe")
    assert boot.INVALID_KEY not in bmc.state.boot


@pytest.mark.parametrize(("clearing", "cause", "kept"), [
    (0x02, "guest reboot", True),  # soft reset
    (0x02, "reset button", True),
    (0x01, "power button", True),
    (0x04, "watchdog hard reset", True),
    (0x10, "pef power cycle", True),
    (0x1F, "chassis control", False),  # no bit covers IPMI chassis control
    (0x1F, "hard reset", False),
    (0x1D, "guest reboot", False),  # every bit but the soft reset one
    (0x08, "guest reboot", False),  # xCAT and pyghmi write 0x08 (the 60 s timeout)
    (0x00, "watchdog", False),
])
def test_valid_bit_clearing_per_restart_cause(bmc: Bmc, clearing: int, cause: str, kept: bool):
    boot.write_parameter(bmc.state, boot.VALID_BIT_CLEARING, bytes([clearing]))
    set_flags(bmc, "80 04 00 00 00")
    assert boot_event(bmc, cause) == BootChoice("pxe")
    valid = boot.read_parameter(bmc.state, boot.BOOT_FLAGS)[0] & boot.FLAG_VALID
    assert bool(valid) is kept


def test_boot_clears_only_the_bios_post_acknowledge_bit(bmc: Bmc):
    boot.write_parameter(bmc.state, boot.BOOT_INFO_ACK, bytes([0x1F, 0x1F]))
    set_flags(bmc, "80 04 00 00 00")
    boot_event(bmc, "chassis control")
    assert boot.read_parameter(bmc.state, boot.BOOT_INFO_ACK) == bytes([0x00, 0x1E])


def test_boot_without_override_leaves_the_acknowledge_alone(bmc: Bmc):
    boot.write_parameter(bmc.state, boot.BOOT_INFO_ACK, bytes([0x01, 0x01]))
    boot_event(bmc, "chassis control")
    assert boot.read_parameter(bmc.state, boot.BOOT_INFO_ACK) == bytes([0x00, 0x01])


# ----------------------------------------------------------------- parameter storage
def test_write_parameter_checks_length_and_support():
    state = State()
    with pytest.raises(CommandError) as err:
        boot.write_parameter(state, boot.BOOT_FLAGS, b"\x80\x04")
    assert err.value.cc == 0xC7
    with pytest.raises(CommandError) as err:
        boot.write_parameter(state, 8, b"\x00")
    assert err.value.cc == 0x80
    with pytest.raises(CommandError) as err:
        boot.read_parameter(state, 0x60)
    assert err.value.cc == 0x80
    assert state.boot == {}


def test_a_stored_value_of_the_wrong_length_reads_as_unset(bmc: Bmc):
    bmc.state.boot["5"] = b"\x80"  # e.g. a hand-edited state file
    assert boot.read_parameter(bmc.state, boot.BOOT_FLAGS) == bytes(5)
    assert boot.take_boot_device(bmc.state, bmc.name) == BootChoice()


def test_boot_info_acknowledge_ignores_reserved_bits():
    state = State()
    boot.write_parameter(state, boot.BOOT_INFO_ACK, b"\xff\xff")
    assert boot.read_parameter(state, boot.BOOT_INFO_ACK) == b"\x00\x1f"


def test_short_mailbox_write_is_the_start_of_the_block():
    state = State()
    boot.write_parameter(state, boot.BOOT_INITIATOR_MAILBOX, b"\x00\x57\x01\x00hi")
    assert state.boot["7.0"] == b"\x57\x01\x00hi" + bytes(11)
    assert boot.read_parameter(state, boot.BOOT_INITIATOR_MAILBOX, block=0)[:6] == \
        b"\x00\x57\x01\x00hi"
    with pytest.raises(CommandError) as err:
        boot.write_parameter(state, boot.BOOT_INITIATOR_MAILBOX, bytes(18))
    assert err.value.cc == 0xC7


# ----------------------------------------------------------------- restart cause
@pytest.mark.parametrize(("cause", "policy", "expected"), [
    ("chassis control", 1, RestartCause.CHASSIS_CONTROL),
    ("power cycle", 1, RestartCause.CHASSIS_CONTROL),
    ("hard reset", 1, RestartCause.CHASSIS_CONTROL),
    ("guest reboot", 1, RestartCause.SOFT_RESET),
    ("guest reset", 1, RestartCause.SOFT_RESET),
    ("Watchdog power cycle", 1, RestartCause.WATCHDOG),
    ("PEF reset", 1, RestartCause.PEF_RESET),
    ("PEF power cycle", 1, RestartCause.PEF_POWER_CYCLE),
    ("power restore", 1, RestartCause.RESTORE_PREVIOUS),
    ("power restore", 2, RestartCause.RESTORE_ALWAYS_ON),
    ("power button", 1, RestartCause.POWER_BUTTON),
    ("reset button", 1, RestartCause.RESET_BUTTON),
    ("rtc wake", 1, RestartCause.RTC_WAKEUP),
    ("process exited", 1, RestartCause.UNKNOWN),
])
def test_restart_cause_for(cause: str, policy: int, expected: RestartCause):
    assert boot.restart_cause_for(cause, policy) is expected


def test_boot_records_restart_cause_and_channel(bmc: Bmc):
    bmc.state.extra[boot.CONTROL_CHANNEL_KEY] = 1
    boot.record_power_event(bmc.state, PowerEvent("boot", "hard reset"), time.time())
    assert (bmc.state.restart_cause, bmc.state.extra[boot.RESTART_CHANNEL_KEY]) == (1, 1)
    boot.record_power_event(bmc.state, PowerEvent("boot", "guest reboot"), time.time())
    assert (bmc.state.restart_cause, bmc.state.extra[boot.RESTART_CHANNEL_KEY]) == (0xA, 0)


def test_power_on_by_ipmi_sets_the_last_power_event_bit(bmc: Bmc):
    boot.record_power_event(bmc.state, PowerEvent("on", "chassis control"), time.time())
    assert bmc.state.extra[boot.LAST_POWER_EVENT_KEY] == 0x10
    boot.record_power_event(bmc.state, PowerEvent("on", "power button"), time.time())
    assert bmc.state.extra[boot.LAST_POWER_EVENT_KEY] == 0x00


# ----------------------------------------------------------------- power-on hours
class FakePower:
    def __init__(self) -> None:
        self.on = False

    def is_on(self) -> bool:
        return self.on


def power(bmc: Bmc, fake: FakePower, kind: str, wall: float) -> None:
    fake.on = kind == "on"
    boot.record_power_event(bmc.state, PowerEvent(kind, "chassis control"), wall)
    bmc.save()  # as the core does after every power event


def test_power_on_minutes_add_up_periods_and_carry_seconds(bmc: Bmc):
    fake = FakePower()
    bmc.power = fake  # type: ignore[assignment]
    power(bmc, fake, "on", 1000.0)
    assert boot.power_on_minutes(bmc.state, bmc.power.is_on(), 1000.0 + 90) == 1
    power(bmc, fake, "off", 1000.0 + 90)  # 1.5 minutes
    # off: the clock stands still
    assert boot.power_on_minutes(bmc.state, bmc.power.is_on(), 5000.0) == 1
    power(bmc, fake, "on", 6000.0)
    power(bmc, fake, "off", 6000.0 + 30)  # another half minute: 2 in all
    assert boot.power_on_minutes(bmc.state, bmc.power.is_on(), 9000.0) == 2
    assert bmc.state.poh_minutes_base == 2


def test_power_on_minutes_survive_a_bmc_restart(bmc: Bmc, make_bmc: MakeBmc):
    fake = FakePower()
    bmc.power = fake  # type: ignore[assignment]
    power(bmc, fake, "on", 0.0)
    power(bmc, fake, "off", 3 * 3600.0)
    again = make_bmc()
    assert boot.power_on_minutes(again.state, again.power.is_on(), time.time()) == 180


def test_a_clock_that_missed_its_off_event_is_not_counted(bmc: Bmc):
    fake = FakePower()
    bmc.power = fake  # type: ignore[assignment]
    power(bmc, fake, "on", 0.0)
    fake.on = False  # the BMC restarted into "always off": no off event
    assert boot.power_on_minutes(bmc.state, bmc.power.is_on(), 7200.0) == 0
    power(bmc, fake, "on", 9000.0)
    assert boot.power_on_minutes(bmc.state, bmc.power.is_on(), 9000.0 + 600) == 10


def test_machine_on_without_an_on_event_counts_from_the_first_look(bmc: Bmc):
    fake = FakePower()
    fake.on = True
    bmc.power = fake  # type: ignore[assignment]
    assert boot.power_on_minutes(bmc.state, bmc.power.is_on(), 100.0) == 0
    assert boot.power_on_minutes(bmc.state, bmc.power.is_on(), 100.0 + 120) == 2
