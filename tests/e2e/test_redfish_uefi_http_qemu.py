"""Redfish UefiHttp on the qemu backend with OVMF: at the next boot the NIC is first in
bootindex, and OVMF's boot manager starts with one of that NIC's network boot options."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest

from tests.e2e.guestshell import GuestBmc, guest_bmc
from tests.e2e.test_redfish import PORT, https
from tests.guest.vm import QEMU

OVMF_CODE = Path("/usr/share/OVMF/OVMF_CODE_4M.fd")
OVMF_VARS = Path("/usr/share/OVMF/OVMF_VARS_4M.fd")
pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(QEMU is None, reason="qemu-system-x86_64 is not installed"),
    pytest.mark.skipif(not OVMF_CODE.exists() or not OVMF_VARS.exists(),
                       reason="OVMF is not installed"),
    pytest.mark.skipif(shutil.which("ipmitool") is None, reason="no ipmitool"),
]
__all__ = ["guest_bmc"]  # the fixture

URI = "http://192.0.2.10/boot/shimx64.efi"
FIRST_OPTION = re.compile(rb'BdsDxe: [^\r\n]*"([^"]+)"')  # OVMF names each option it tries


def uefi_args(tmp_path: Path) -> list[str]:
    variables = tmp_path / "OVMF_VARS.fd"
    shutil.copyfile(OVMF_VARS, variables)
    disk = tmp_path / "disk.raw"
    disk.write_bytes(bytes(1 << 20))  # blank: nothing to boot, configured first
    # restrict=on: user networking that reaches neither the host nor anything beyond it.
    # romfile= (none): OVMF's own virtio-net driver and network stack, not the iPXE ROM.
    return ["-machine", "q35", "-m", "256", "-nodefaults",
            "-drive", f"if=pflash,format=raw,readonly=on,file={OVMF_CODE}",
            "-drive", f"if=pflash,format=raw,file={variables}",
            "-drive", f"file={disk},if=none,format=raw,id=d0",
            "-device", "virtio-blk-pci,drive=d0,id=disk0,bootindex=1",
            "-netdev", "user,id=n0,restrict=on",
            "-device", "virtio-net-pci,netdev=n0,id=net0,bootindex=2,romfile="]


def wait_log(bmc: GuestBmc, needle: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while needle not in bmc.process.log():
        assert time.monotonic() < deadline, f"{needle!r} not logged:\n{bmc.process.log()[-3000:]}"
        time.sleep(0.2)


def first_boot_option(bmc: GuestBmc, timeout: float = 240.0) -> bytes:
    # OVMF under TCG takes tens of seconds to reach its boot manager on a loaded machine.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = FIRST_OPTION.search(bytes(bmc.console.data))
        if found:
            return found.group(1)
        time.sleep(0.5)
    raise AssertionError(f"OVMF named no boot option: {bmc.console.text()[-2000:]!r}")


def test_uefi_http_override_boots_the_nic_first(guest_bmc, tmp_path: Path) -> None:
    bmc: GuestBmc = guest_bmc(uefi_args(tmp_path), redfish={"enabled": True, "port": PORT})
    system = f"/redfish/v1/Systems/{bmc.config['bmc']['name']}"
    status, _ = https(bmc.process, "PATCH", system, {"Boot": {
        "BootSourceOverrideTarget": "UefiHttp", "BootSourceOverrideEnabled": "Once",
        "HttpBootUri": URI}})
    assert status == 204
    bmc.process.ipmitool("chassis", "power", "on")
    wait_log(bmc, f"UEFI HTTP boot requested (HttpBootUri {URI})")
    wait_log(bmc, "boot order by bootindex: net0=1, disk0=2")
    option = first_boot_option(bmc)
    assert b"PXE" in option or b"HTTP" in option, option  # the NIC's, not the disk's
    boot = https(bmc.process, "GET", system)[1]["Boot"]
    assert (boot["BootSourceOverrideTarget"], boot["BootSourceOverrideEnabled"],
            boot["HttpBootUri"]) == ("UefiHttp", "Disabled", URI)  # once: used up
