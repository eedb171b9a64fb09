"""[power] backend = "command": the user's launch script is the machine."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pybmc.config.bmc import parse_config
from pybmc.edge.power.command import CommandPower
from pybmc.edge.power.process import process_start_time
from pybmc.model.power import BootChoice, PowerAction, PowerError, PowerEvent
from pybmc.wire.codes import Cc
from tests.unit.power_fakes import Recorder

GUID = uuid.UUID("12345678-1234-5678-9abc-def012345678")
# Writes its environment's PYBMC_* to a file, then runs until signalled.
MACHINE = ("import os, sys, time\n"
           "with open(sys.argv[1], 'a') as f:\n"
           "    f.write(' '.join(f'{k}={v}' for k, v in sorted(os.environ.items())"
           " if k.startswith('PYBMC_')) + '\\n')\n"
           "time.sleep(600)\n")
STUBBORN = ("import signal, sys, time\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "open(sys.argv[1], 'a').write('started\\n')\n"
            "time.sleep(600)\n")




async def until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.02)


@pytest.fixture
async def machines() -> AsyncIterator[list[CommandPower]]:
    """Every backend a test makes; each is stopped, its process killed, at the end."""
    made: list[CommandPower] = []
    yield made
    for power in made:
        await power.stop(leave_running=False)


def make(machines: list[CommandPower], tmp_path: Path, script: str = MACHINE,
         off_wait: float = 2.0, **kwargs: object) -> tuple[CommandPower, Recorder, Path]:
    out = tmp_path / "env.txt"
    power = CommandPower("cn1", (sys.executable, "-c", script, str(out)), tmp_path / "run",
                         off_wait=off_wait, cycle_interval=0.1, guid=GUID,
                         **kwargs)  # type: ignore[arg-type]
    recorder = Recorder()
    power.set_listener(recorder)
    machines.append(power)
    return power, recorder, out


async def test_power_on_runs_the_command_with_the_boot_device(machines, tmp_path) -> None:
    power, recorder, out = make(machines, tmp_path)
    await power.start()
    assert not power.is_on() and recorder.kinds() == ["off"]
    recorder.next_boot = BootChoice("pxe", efi=True)
    power.request(PowerAction.ON)
    await until(lambda: out.exists() and out.read_text())
    env = out.read_text()
    assert "PYBMC_BOOT_DEVICE=pxe" in env and "PYBMC_BOOT_EFI=1" in env
    assert "PYBMC_BOOT_HTTP=0" in env and "PYBMC_HTTP_BOOT_URI= " in env
    assert "PYBMC_NAME=cn1" in env and f"PYBMC_GUID={GUID}" in env
    assert f"PYBMC_RUN_DIR={tmp_path / 'run'}" in env
    assert power.is_on() and recorder.kinds() == ["off", "boot", "on"]
    power.request(PowerAction.ON)  # already on: nothing new
    await until(lambda: power._pending == 0)
    assert recorder.kinds() == ["off", "boot", "on"]


async def test_uefi_http_boot_hands_the_uri_to_the_command(machines, tmp_path) -> None:
    power, recorder, out = make(machines, tmp_path)
    await power.start()
    recorder.next_boot = BootChoice("pxe", efi=True, http=True, http_uri="http://h/x.efi")
    power.request(PowerAction.ON)
    await until(lambda: out.exists() and out.read_text())
    env = out.read_text()
    assert "PYBMC_BOOT_DEVICE=pxe" in env and "PYBMC_BOOT_EFI=1" in env
    assert "PYBMC_BOOT_HTTP=1" in env and "PYBMC_HTTP_BOOT_URI=http://h/x.efi" in env


async def test_watchdog_actions_name_the_watchdog(machines, tmp_path) -> None:
    power, recorder, _ = make(machines, tmp_path)
    await power.start()
    power.request(PowerAction.ON)
    await until(power.is_on)
    await until(lambda: power._pending == 0)
    power.request(PowerAction.RESET, cause="watchdog")
    await until(lambda: power._pending == 0)
    assert recorder.events[-1] == PowerEvent("boot", "watchdog (hard reset)")
    power.request(PowerAction.CYCLE, cause="watchdog")
    await until(lambda: power._pending == 0)
    assert power.is_on()
    assert recorder.events[-3:] == [PowerEvent("off", "watchdog (power cycle)"),
                                    PowerEvent("boot", "watchdog (power cycle)"),
                                    PowerEvent("on", "watchdog (power cycle)")]
    power.request(PowerAction.OFF, cause="watchdog")
    await until(lambda: power._pending == 0)
    assert not power.is_on()
    assert recorder.events[-1] == PowerEvent("off", "watchdog (chassis control)")


async def test_power_off_terms_the_process(machines, tmp_path) -> None:
    power, recorder, _ = make(machines, tmp_path)
    await power.start()
    power.request(PowerAction.ON)
    await until(power.is_on)
    pid = power.pid
    power.request(PowerAction.OFF)
    await until(lambda: not power.is_on(), timeout=3)
    assert process_start_time(pid) is None
    assert recorder.events[-1] == PowerEvent("off", "chassis control")
    assert not (tmp_path / "run" / "command.pid").exists()


async def test_power_off_kills_after_the_wait(machines, tmp_path) -> None:
    power, _, out = make(machines, tmp_path, script=STUBBORN, off_wait=0.5)
    await power.start()
    power.request(PowerAction.ON)
    await until(lambda: out.exists())
    started = time.monotonic()
    power.request(PowerAction.OFF)
    await until(lambda: not power.is_on(), timeout=5)
    assert 0.5 <= time.monotonic() - started < 3


async def test_soft_off_only_asks(machines, tmp_path) -> None:
    power, _, out = make(machines, tmp_path, script=STUBBORN, off_wait=0.3)
    await power.start()
    power.request(PowerAction.ON)
    await until(lambda: out.exists())
    power.request(PowerAction.SOFT_OFF)  # SIGTERM, which this "OS" ignores
    assert power._pending == 1  # counted at once: the wait below is for this very action
    await until(lambda: power._pending == 0)  # the soft off has run its course
    assert power.is_on()


async def test_command_exiting_by_itself_turns_power_off(machines, tmp_path) -> None:
    power, recorder, _ = make(machines, tmp_path, script="import sys; sys.exit(4)")
    await power.start()
    power.request(PowerAction.ON)
    await until(lambda: recorder.kinds()[-1:] == ["off"] and len(recorder.events) > 2)
    assert recorder.events[-1] == PowerEvent("off", "command exited with status 4")


async def test_reset_restarts_without_power_events(machines, tmp_path) -> None:
    power, recorder, out = make(machines, tmp_path)
    await power.start()
    power.request(PowerAction.ON)
    await until(lambda: out.exists() and out.read_text().count("\n") == 1)
    first = power.pid
    recorder.next_boot = BootChoice("cdrom")
    power.request(PowerAction.RESET)
    await until(lambda: out.read_text().count("\n") == 2)
    await until(lambda: power._pending == 0)
    assert power.pid not in (None, first) and power.is_on()
    assert recorder.kinds() == ["off", "boot", "on", "boot"]
    assert "PYBMC_BOOT_DEVICE=cdrom" in out.read_text().splitlines()[1]


async def test_cycle_turns_off_then_on(machines, tmp_path) -> None:
    power, recorder, out = make(machines, tmp_path)
    await power.start()
    power.request(PowerAction.CYCLE)  # while off: powers on
    await until(lambda: out.exists() and out.read_text().count("\n") == 1)
    power.request(PowerAction.CYCLE)
    await until(lambda: out.read_text().count("\n") == 2)
    await until(lambda: power._pending == 0)
    assert recorder.kinds() == ["off", "boot", "on", "off", "boot", "on"]


async def test_diag_and_while_off_refusals(machines, tmp_path) -> None:
    power, _, _ = make(machines, tmp_path)
    await power.start()
    with pytest.raises(PowerError) as caught:
        power.request(PowerAction.DIAG)
    assert caught.value.cc == Cc.INVALID_DATA_FIELD
    for action in (PowerAction.RESET, PowerAction.SOFT_OFF):
        with pytest.raises(PowerError) as caught:
            power.request(action)
        assert caught.value.cc == Cc.NOT_SUPPORTED_IN_PRESENT_STATE


async def test_restart_reattaches_and_stop_can_leave_it(machines, tmp_path) -> None:
    power, _, _ = make(machines, tmp_path)
    await power.start()
    power.request(PowerAction.ON)
    await until(power.is_on)
    pid = power.pid
    await power.stop(leave_running=True)
    assert process_start_time(pid) is not None  # still running without its BMC

    again, recorder, _ = make(machines, tmp_path)
    await again.start()
    assert again.is_on() and again.pid == pid
    assert recorder.events == [PowerEvent("on", "command already running")]
    again.request(PowerAction.OFF)  # an adopted process is signalled all the same
    await until(lambda: not again.is_on(), timeout=5)
    assert process_start_time(pid) is None


async def test_restore_policy_powers_on_at_start(machines, tmp_path) -> None:
    power, _, _ = make(machines, tmp_path, initially_on=True)
    await power.start()
    await until(power.is_on)


async def test_missing_command_stays_off(machines, tmp_path) -> None:
    power = CommandPower("cn1", ("/nonexistent/start-vm",), tmp_path / "run")
    machines.append(power)
    await power.start()
    power.request(PowerAction.ON)
    await until(lambda: power._pending == 0)
    assert not power.is_on()


def test_make_power_builds_the_command_backend(tmp_path: Path) -> None:
    from pybmc.edge.assembly import make_power

    cfg = parse_config({"bmc": {"name": "cn1", "address": "127.0.0.2",
                                "state_dir": str(tmp_path)},
                        "power": {"backend": "command", "command_on": "exec sleep 60",
                                  "command_off_wait": 1.5}})
    power = make_power(cfg, initially_on=False)
    assert isinstance(power, CommandPower)
    assert power.argv == ("/bin/sh", "-c", "exec sleep 60") and power.off_wait == 1.5
