"""The command backend with the guest's in-band link: reset, NMI and the power button go over
the VM link (as ipmi_sim's VM codec sends them) when the VM announced it can take them."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from pybmc.config.bmc import parse_config
from pybmc.edge.assembly import BmcRuntime
from pybmc.edge.power import command as command_module
from pybmc.edge.power.command import CommandPower
from pybmc.edge.power.process import process_start_time
from pybmc.model.power import BootChoice, PowerAction, PowerError, PowerEvent
from pybmc.protocol.inband import VmCapability
from pybmc.wire.codes import Cc
from tests.unit.clock import FakeClock
from tests.unit.power_fakes import Recorder

# Writes its PYBMC_BOOT_DEVICE to a file (one line per start), then runs until signalled.
MACHINE = ("import os, sys, time\n"
           "open(sys.argv[1], 'a').write(os.environ['PYBMC_BOOT_DEVICE'] + '\\n')\n"
           "time.sleep(600)\n")
ALL = VmCapability(0x3F)


class FakeLink:
    """Records what the backend sends over the VM link."""

    def __init__(self, capabilities: VmCapability = ALL) -> None:
        self.connected = True
        self.capabilities = capabilities
        self.sent: list[str] = []
        self.listeners: list[Callable[[], None]] = []

    def _send(self, what: str) -> bool:
        self.sent.append(what)
        return True

    def send_reset(self) -> bool:
        return self._send("reset")

    def send_nmi(self) -> bool:
        return self._send("nmi")

    def send_graceful_shutdown(self) -> bool:
        return self._send("button")

    def add_reset_listener(self, listener: Callable[[], None]) -> None:
        self.listeners.append(listener)

    def report_reset(self) -> None:
        for listener in self.listeners:
            listener()




async def until(predicate: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.02)


class Machine:
    def __init__(self, tmp_path: Path, link: FakeLink | None) -> None:
        self.starts = tmp_path / "starts.txt"
        self.power = CommandPower("cn1", (sys.executable, "-c", MACHINE, str(self.starts)),
                                  tmp_path / "run", off_wait=1.0, cycle_interval=0.1)
        self.recorder = Recorder()
        self.power.set_listener(self.recorder)
        self.link = link
        if link is not None:
            self.power.attach_vm_link(link)

    def boots(self) -> list[str]:
        return self.starts.read_text().split() if self.starts.exists() else []

    async def power_on(self) -> int:
        await self.power.start()
        self.power.request(PowerAction.ON)
        await until(lambda: self.boots() and self.power.pid)
        assert self.power.pid is not None
        return self.power.pid

    async def settle(self) -> None:
        await until(lambda: self.power._pending == 0)


@pytest.fixture
async def machine(tmp_path: Path) -> AsyncIterator[Callable[..., Machine]]:
    made: list[Machine] = []

    def make(link: FakeLink | None = None) -> Machine:
        made.append(Machine(tmp_path, link))
        return made[-1]

    yield make
    for each in made:
        await each.power.stop(leave_running=False)


async def test_reset_goes_over_the_link_and_keeps_the_process(machine) -> None:
    vm = machine(FakeLink())
    pid = await vm.power_on()
    vm.power.request(PowerAction.RESET)
    await vm.settle()
    assert vm.link.sent == ["reset"]
    assert vm.power.pid == pid and vm.boots() == ["default"]
    assert [e.kind for e in vm.recorder.events][-1] == "boot"  # the reset is a new boot
    assert vm.recorder.events[-1].cause == "hard reset"
    assert vm.power.is_on()


async def test_reset_restarts_the_command_when_the_boot_device_changes(machine) -> None:
    vm = machine(FakeLink())
    pid = await vm.power_on()
    vm.recorder.next_boot = BootChoice("pxe")
    vm.power.request(PowerAction.RESET)
    await until(lambda: vm.boots() == ["default", "pxe"])
    await vm.settle()
    assert vm.link.sent == []
    assert vm.power.pid not in (None, pid) and process_start_time(pid) is None
    assert "off" not in [e.kind for e in vm.recorder.events[2:]]  # a reset, not a power cycle


@pytest.mark.parametrize("link", [None, FakeLink(VmCapability(0x3F & ~0x02))],
                         ids=["no link", "no reset capability"])
async def test_reset_without_the_link_restarts_the_command(machine, link) -> None:
    vm = machine(link)
    pid = await vm.power_on()
    vm.power.request(PowerAction.RESET)
    await until(lambda: len(vm.boots()) == 2)
    await vm.settle()
    assert vm.power.pid != pid
    assert link is None or link.sent == []


async def test_diagnostic_interrupt_is_an_nmi_over_the_link(machine) -> None:
    vm = machine(FakeLink())
    await vm.power_on()
    vm.power.request(PowerAction.DIAG)
    await vm.settle()
    assert vm.link.sent == ["nmi"]


@pytest.mark.parametrize("capable,connected", [(False, True), (True, False)])
async def test_no_nmi_capable_link_answers_cc(machine, capable, connected) -> None:
    link = FakeLink(ALL if capable else VmCapability(0x3F & ~0x08))
    link.connected = connected
    vm = machine(link)
    await vm.power_on()
    with pytest.raises(PowerError) as raised:
        vm.power.request(PowerAction.DIAG)
    assert raised.value.cc == Cc.INVALID_DATA_FIELD
    assert link.sent == []


async def test_diagnostic_interrupt_needs_power(machine) -> None:
    vm = machine(FakeLink())
    await vm.power.start()
    with pytest.raises(PowerError) as raised:
        vm.power.request(PowerAction.DIAG)
    assert raised.value.cc == Cc.NOT_SUPPORTED_IN_PRESENT_STATE


async def test_soft_off_presses_the_power_button(machine) -> None:
    vm = machine(FakeLink())
    pid = await vm.power_on()
    vm.power.request(PowerAction.SOFT_OFF)
    await vm.settle()
    assert vm.link.sent == ["button"]
    assert vm.power.is_on() and vm.power.pid == pid  # the guest decides
    os.kill(pid, 15)  # the guest powers off: the user's QEMU exits
    await until(lambda: not vm.power.is_on())
    assert vm.recorder.events[-1] == PowerEvent("off", "soft off")


async def test_soft_off_without_the_capability_sends_sigterm(machine) -> None:
    vm = machine(FakeLink(VmCapability(0x3F & ~0x20)))
    pid = await vm.power_on()
    vm.power.request(PowerAction.SOFT_OFF)
    await until(lambda: not vm.power.is_on())
    assert vm.link.sent == [] and process_start_time(pid) is None


async def test_a_reset_the_vm_reports_is_a_guest_reboot(machine) -> None:
    vm = machine(FakeLink())
    clock = FakeClock()
    vm.power.clock = clock
    pid = await vm.power_on()
    boots = len([e for e in vm.recorder.events if e.kind == "boot"])
    vm.link.report_reset()  # QEMU's start-up reset: part of the boot we started
    await vm.settle()
    assert len([e for e in vm.recorder.events if e.kind == "boot"]) == boots
    clock.advance(command_module.LINK_RESET_QUIET + 0.1)  # the start-up window is over
    vm.link.report_reset()  # the guest rebooted, same boot device: nothing to restart
    await vm.settle()
    assert vm.recorder.events[-1] == PowerEvent("boot", "guest reboot")
    assert vm.power.pid == pid
    clock.advance(command_module.LINK_RESET_QUIET + 0.1)
    vm.recorder.next_boot = BootChoice("pxe")  # e.g. chassis bootdev pxe from the guest
    vm.link.report_reset()
    await until(lambda: vm.boots() == ["default", "pxe"])
    await vm.settle()
    assert vm.power.pid not in (None, pid)


# ----------------------------------------------------------------------------- wiring
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_bmc_wires_the_in_band_listener_to_the_command_backend(tmp_path) -> None:
    """[in_band] listen = tcp:...: a fake VM connects like QEMU's ipmi-bmc-extern; Chassis
    Control reset, diag and soft off then arrive on it as control commands."""
    port = free_port()
    config = parse_config({
        "bmc": {"name": "cmd", "address": "127.0.0.2", "state_dir": str(tmp_path / "state")},
        "power": {"backend": "command", "command_off_wait": 1.0,
                  "command_on": [sys.executable, "-c", MACHINE, str(tmp_path / "starts")]},
        "in_band": {"listen": f"tcp:127.0.0.1:{port}"},
    })
    runtime = BmcRuntime(config)
    bmc = runtime.bmc
    await runtime.start()
    writer: asyncio.StreamWriter | None = None
    try:
        assert runtime.in_band is not None and runtime.in_band.port == port
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(bytes.fromhex("ff01a1"))
        await writer.drain()
        writer.write(bytes.fromhex("083fa1"))  # all capabilities, as QEMU 7.2 announces
        await writer.drain()
        assert await runtime.in_band.wait_connected(5)
        bmc.power.request(PowerAction.ON)
        await until(bmc.power.is_on)
        seen = b""
        for action, control in ((3, b"\x04\xa1"), (4, b"\x07\xa1"), (5, b"\x09\xa1")):
            assert bmc.execute_in_band(0x00, 0x02, bytes([action])) == b"\x00"
            while control not in seen:  # among ATN / IRQ-enable commands the BMC sends too
                seen += await asyncio.wait_for(reader.read(100), 5)
            seen = seen[seen.index(control) + len(control):]
    finally:
        if writer is not None:
            writer.close()
        await runtime.stop(leave_vm_running=False)
