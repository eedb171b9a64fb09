"""Redfish inventory and BIOS settings on the qemu backend: a real VM's boot applies them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.guestshell import GuestBmc, guest_bmc
from tests.e2e.test_redfish import PORT
from tests.e2e.test_redfish_inventory import connect, wait_for, wait_redfish
from tests.guest.vm import QEMU, firmware_vm_args

sushy = pytest.importorskip("sushy")
pytestmark = [pytest.mark.qemu,
              pytest.mark.skipif(QEMU is None, reason="qemu-system-x86_64 is not installed")]
__all__ = ["guest_bmc"]  # the fixture


def test_vm_inventory_and_bios_settings_applied_when_qemu_boots(
        guest_bmc: Callable[..., GuestBmc], tmp_path: Path) -> None:
    args, _ = firmware_vm_args(tmp_path)  # a 1 MiB IDE disk, a CD drive, an e1000 NIC
    vm = guest_bmc(args, redfish={"enabled": True, "port": PORT})
    wait_redfish(vm.process)
    system = connect(vm.process)
    assert system.simple_storage.disks_sizes_bytes == [1 << 20]  # the CD drive is not a disk
    assert system.ethernet_interfaces.summary == {"52:54:00:12:34:56": sushy.STATE_ENABLED}
    assert system.memory_summary.size_gib == 0  # 64 MiB (sushy rounds GiB to an integer)
    bios = system.bios
    assert bios.attributes["BootMode"] == "Bios"  # SeaBIOS
    bios.set_attributes({"ProcVirtualization": "Disabled"})
    assert vm.pid is None  # nothing ran yet: the settings wait for the boot
    system.reset_system(sushy.RESET_ON)
    vm.wait_power(True)
    assert vm.pid is not None

    def applied() -> bool:
        bios.refresh()
        return bios.attributes["ProcVirtualization"] == "Disabled"

    wait_for("the BIOS settings applied when QEMU started", applied, timeout=30)
    # A reset of the running VM is a boot too.
    bios.reset_bios()
    system.reset_system(sushy.RESET_FORCE_RESTART)

    def defaults_back() -> bool:
        bios.refresh()
        return bios.attributes["ProcVirtualization"] == "Enabled"

    wait_for("ResetBios applied at the VM's reset", defaults_back, timeout=30)
