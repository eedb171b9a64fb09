"""The qemu power backend against a real qemu-system-x86_64, driven directly from asyncio.

No OS image is needed for most of these: SeaBIOS's debug console says which device it tried
first. The tiny Linux guest (tests/guest/build_guest.sh) covers ACPI soft off, NMI and a
guest-initiated reboot.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from pybmc.config.bmc import QemuConfig
from pybmc.edge.power.process import process_start_time
from pybmc.edge.power.qemu import QemuPower, QemuTimeouts
from pybmc.model.power import BootChoice, PowerAction, PowerError, PowerEvent
from pybmc.wire.codes import Cc
from tests.guest.vm import (
    QEMU,
    DebugConsole,
    SerialTap,
    accel_args,
    firmware_vm_args,
    kill_from_run_dir,
    require_guest,
    short_tmp_dir,
    tiny_guest_args,
)
from tests.unit.power_fakes import Recorder

pytestmark = [pytest.mark.qemu,
              pytest.mark.skipif(QEMU is None, reason="qemu-system-x86_64 is not installed")]

GUID = uuid.UUID("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")


async def until(predicate: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.02)


async def settled(power: QemuPower) -> None:
    await until(lambda: power._pending == 0, what="queued actions")


async def running(power: QemuPower, timeout: float = 10.0) -> None:
    """Wait until QMP says the VM runs. After a warm reset SeaBIOS resets once more by itself
    and the VM passes through "shutdown" until pybmc resumes it."""
    deadline = time.monotonic() + timeout
    while (status := await power._status()) != "running":
        assert time.monotonic() < deadline, f"VM stuck in {status!r}"
        await asyncio.sleep(0.05)


@pytest.fixture
async def make_vm() -> AsyncIterator[Callable[..., tuple[QemuPower, Recorder]]]:
    made: list[tuple[QemuPower, Path]] = []
    with short_tmp_dir() as base:

        def make(args: list[str], name: str = "vm", timeouts: QemuTimeouts | None = None,
                 run_dir: Path | None = None, **kwargs: object) -> tuple[QemuPower, Recorder]:
            run = run_dir or base / f"{name}{len(made)}"
            power = QemuPower(name, QemuConfig(args=tuple(args)), GUID, run,
                              timeouts=timeouts, **kwargs)  # type: ignore[arg-type]
            recorder = Recorder()
            power.set_listener(recorder)
            made.append((power, run))
            return power, recorder

        yield make
        for power, run in made:
            try:
                await asyncio.wait_for(power.stop(leave_running=False), 30)
            finally:
                kill_from_run_dir(run)


def plain_args() -> list[str]:
    return ["-machine", "pc", "-m", "32", "-nodefaults", *accel_args()]


async def test_power_on_and_off(make_vm) -> None:
    power, recorder = make_vm(plain_args())
    await power.start()
    assert recorder.events == [PowerEvent("off", "no QEMU running")]
    power.request(PowerAction.ON)
    await until(power.is_on, what="power on")
    await settled(power)
    pid = power.pid
    assert pid is not None and process_start_time(pid) is not None
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert str(GUID).encode() in cmdline  # SMBIOS UUID = the BMC's System GUID
    assert os.path.exists(power.serial_path) and os.path.exists(power.qmp_path)
    await running(power)
    assert [e.kind for e in recorder.events] == ["off", "on", "boot"]

    power.request(PowerAction.OFF)
    await until(lambda: not power.is_on(), timeout=10, what="power off")
    assert process_start_time(pid) is None
    assert recorder.events[-1] == PowerEvent("off", "chassis control")
    assert not (power.run_dir / "qemu.pid").exists()


async def test_killed_from_outside_turns_off_within_a_second(make_vm, caplog) -> None:
    power, recorder = make_vm(plain_args())
    await power.start()
    power.request(PowerAction.ON)
    await until(power.is_on)
    await settled(power)
    caplog.set_level(logging.WARNING, "pybmc.power")
    os.kill(power.pid, signal.SIGKILL)
    killed = time.monotonic()
    await until(lambda: not power.is_on(), timeout=5)
    assert time.monotonic() - killed < 1.0
    assert recorder.events[-1] == PowerEvent("off", "QEMU killed by SIGKILL")
    assert "without being asked" in caplog.text


async def test_broken_args_fail_clearly(make_vm, caplog) -> None:
    power, recorder = make_vm([*plain_args(), "-device", "no-such-device-pybmc"])
    await power.start()
    caplog.set_level(logging.ERROR, "pybmc.power")
    started = time.monotonic()
    power.request(PowerAction.ON)
    await settled(power)
    assert time.monotonic() - started < 10  # not a hang
    assert not power.is_on()
    assert "QEMU failed to start" in caplog.text and "no-such-device-pybmc" in caplog.text
    with pytest.raises(PowerError) as caught:  # the next attempt answers a completion code
        power.request(PowerAction.ON)
    assert caught.value.cc == Cc.NOT_SUPPORTED_IN_PRESENT_STATE
    assert "no-such-device-pybmc" in str(caught.value)
    assert recorder.of("on") == []


async def test_restart_reattaches_without_touching_the_vm(make_vm) -> None:
    power, _ = make_vm(plain_args())
    await power.start()
    power.request(PowerAction.ON)
    await until(power.is_on)
    await settled(power)
    pid = power.pid
    await power.stop(leave_running=True)
    assert process_start_time(pid) is not None

    again, recorder = make_vm(plain_args(), run_dir=power.run_dir)
    await again.start()
    assert again.is_on() and again.pid == pid
    assert recorder.events == [PowerEvent("on", "QEMU already running (running)")]
    await running(again)
    await again.stop(leave_running=True)

    # A BMC that recorded "on" before its restart hears nothing new.
    third, recorder = make_vm(plain_args(), run_dir=power.run_dir, initially_on=True)
    await third.start()
    assert third.is_on() and recorder.events == []
    third.request(PowerAction.OFF)
    await until(lambda: not third.is_on(), timeout=10)
    assert process_start_time(pid) is None


async def test_restore_policy_powers_on_at_start(make_vm) -> None:
    power, recorder = make_vm(plain_args(), initially_on=True)
    await power.start()
    await until(power.is_on)
    assert recorder.of("on") == ["power restore policy"]


async def test_cycle_reset_and_diag(make_vm) -> None:
    power, recorder = make_vm(plain_args(), cycle_interval=0.2)
    await power.start()
    power.request(PowerAction.ON)
    await until(power.is_on)
    await settled(power)
    first = power.pid
    power.request(PowerAction.CYCLE)
    await settled(power)
    assert power.is_on() and power.pid not in (None, first)
    assert process_start_time(first) is None
    power.request(PowerAction.RESET)
    power.request(PowerAction.DIAG)
    await settled(power)
    await running(power)
    assert [e.kind for e in recorder.events] == ["off", "on", "boot", "off", "on", "boot", "boot"]
    assert recorder.of("boot")[-1] == "hard reset"


async def test_watchdog_actions_name_the_watchdog(make_vm) -> None:
    power, recorder = make_vm(plain_args(), cycle_interval=0.2)
    await power.start()
    power.request(PowerAction.ON)
    await until(power.is_on)
    await settled(power)
    power.request(PowerAction.RESET, cause="watchdog")
    await settled(power)
    assert recorder.of("boot")[-1] == "watchdog (hard reset)"
    power.request(PowerAction.CYCLE, cause="watchdog")
    await settled(power)
    assert power.is_on()
    assert recorder.of("off")[-1] == "watchdog (power cycle)"
    assert recorder.of("boot")[-1] == "watchdog (power cycle)"
    power.request(PowerAction.OFF, cause="watchdog")
    await settled(power)
    assert not power.is_on() and recorder.of("off")[-1] == "watchdog (chassis control)"


async def test_boot_override_applies_at_reset_once_or_persistently(make_vm) -> None:
    with short_tmp_dir() as work:
        args, debugcon_path = firmware_vm_args(work)
        debugcon = DebugConsole(debugcon_path)
        power, recorder = make_vm(args)
        await power.start()
        power.request(PowerAction.ON)
        assert await asyncio.to_thread(debugcon.first_boot_device, 0) == "Hard Disk"

        async def reset_and_see() -> str:
            await settled(power)
            mark = debugcon.mark()
            power.request(PowerAction.RESET)
            return await asyncio.to_thread(debugcon.first_boot_device, mark)

        recorder.next_boot = BootChoice("pxe")
        assert await reset_and_see() == "ROM"  # iPXE first
        assert await reset_and_see() == "Hard Disk"  # one-time override used up
        recorder.persistent = BootChoice("pxe")
        assert await reset_and_see() == "ROM"
        assert await reset_and_see() == "ROM"
        recorder.persistent = BootChoice("cdrom")
        assert await reset_and_see() == "DVD/CD"
        # SeaBIOS's own extra reset after each warm reset was not taken for a new boot.
        assert recorder.of("boot") == ["chassis control"] + ["hard reset"] * 5


async def test_power_on_uses_the_override(make_vm) -> None:
    with short_tmp_dir() as work:
        args, debugcon_path = firmware_vm_args(work)
        debugcon = DebugConsole(debugcon_path)
        power, recorder = make_vm(args)
        await power.start()
        recorder.next_boot = BootChoice("pxe")
        power.request(PowerAction.ON)
        assert await asyncio.to_thread(debugcon.first_boot_device, 0) == "ROM"


async def test_guest_reboot_applies_a_pending_override(make_vm) -> None:
    """SeaBIOS with nothing to boot reboots by itself (reboot-timeout): a guest reboot.
    (2 s apart, well outside the window in which a reset counts as SeaBIOS's own extra one.)"""
    with short_tmp_dir() as work:
        args, debugcon_path = firmware_vm_args(work, nic=False, reboot_timeout=2000)
        debugcon = DebugConsole(debugcon_path)
        power, recorder = make_vm(args)
        await power.start()
        power.request(PowerAction.ON)
        assert await asyncio.to_thread(debugcon.first_boot_device, 0) == "Hard Disk"
        await settled(power)
        recorder.next_boot = BootChoice("cdrom")  # set while the guest runs
        await until(lambda: len(debugcon.boots_since(0)) >= 3, timeout=60,
                    what="two reboots by the guest")
        boots = debugcon.boots_since(0)
        assert boots[:3] == ["Hard Disk", "DVD/CD", "Hard Disk"]
        assert recorder.of("boot")[:3] == ["chassis control", "guest reboot", "guest reboot"]
        assert power.is_on() and recorder.of("off") == ["no QEMU running"]


async def test_hung_qemu_is_killed_and_others_keep_going(make_vm) -> None:
    timeouts = QemuTimeouts(qmp_command=1.0, launch=30.0, quit=0.5, terminate=0.5, kill=5.0)
    hung, hung_events = make_vm(plain_args(), name="hung", timeouts=timeouts)
    other, _other_events = make_vm(plain_args(), name="other", timeouts=timeouts)
    await hung.start()
    await other.start()
    hung.request(PowerAction.ON)
    await until(hung.is_on)
    await settled(hung)
    os.kill(hung.pid, signal.SIGSTOP)  # QMP never answers again
    hung.request(PowerAction.RESET)  # stuck on QMP timeouts...
    started = time.monotonic()
    other.request(PowerAction.ON)  # ...while another VM starts normally
    await until(other.is_on, timeout=20)
    assert time.monotonic() - started < 10
    hung.request(PowerAction.OFF)
    await until(lambda: not hung.is_on(), timeout=20)
    assert hung_events.events[-1].kind == "off"
    assert other.is_on()


# ------------------------------------------------------------------------ the tiny guest
@pytest.fixture(scope="module")
def guest() -> None:
    require_guest()


async def test_tiny_guest_soft_off_nmi_and_reboot(make_vm, guest) -> None:
    power, recorder = make_vm(tiny_guest_args())
    await power.start()
    tap = SerialTap(power.serial_path)
    try:
        power.request(PowerAction.ON)
        ready = await asyncio.to_thread(tap.wait_for, "TINYGUEST READY")
        await asyncio.to_thread(tap.wait_for, "login:", ready)

        power.request(PowerAction.DIAG)
        await asyncio.to_thread(tap.wait_for, "NMI", ready)

        # A reboot from inside the guest: one new boot for the BMC, not two.
        mark = tap.mark()
        tap.send(b"root\r")
        await asyncio.to_thread(tap.wait_for, "# ", mark)
        tap.send(b"reboot\r")
        await asyncio.to_thread(tap.wait_for, "TINYGUEST READY", mark)
        await settled(power)
        assert recorder.of("boot") == ["chassis control", "guest reboot"]

        # ACPI power button: off only once the guest has really powered off.
        mark = tap.mark()
        power.request(PowerAction.SOFT_OFF)
        await asyncio.to_thread(tap.wait_for, "TINYGUEST POWER BUTTON", mark, 20)
        await until(lambda: not power.is_on(), timeout=30, what="guest power off")
        assert recorder.events[-1] == PowerEvent("off", "guest power off")
        assert power.pid is not None  # QEMU stays, in run state "shutdown"

        # A restarted BMC finds it off; power on is reset + cont in the same process.
        pid = power.pid
        await power.stop(leave_running=True)
        again, recorder = make_vm(tiny_guest_args(), run_dir=power.run_dir, initially_on=True)
        await again.start()
        assert recorder.events == [PowerEvent("off", "QEMU found powered off (shutdown)")]
        mark = tap.mark()
        again.request(PowerAction.ON)
        await asyncio.to_thread(tap.wait_for, "TINYGUEST READY", mark)
        assert again.is_on() and again.pid == pid
        assert recorder.of("boot") == ["chassis control"]
    finally:
        tap.close()
