"""`chassis bootdev` on cluster nodes, BIOS (SeaBIOS) and UEFI (OVMF): the override moves the
device bootindex over QMP before the firmware runs, and a one-time override is undone for the
boot after it. Evidence from the firmware itself: SeaBIOS's debug port (its "Booting from"
lines) and OVMF's boot manager lines on the serial console, read with `pybmc cluster console`."""

from __future__ import annotations

import re
import sys
import time
import tomllib
from pathlib import Path

from tests import tomlw
from tests.e2e import clusterlab
from tests.e2e.clusterlab import cluster_file, ipmitool_in, run_cluster, wait_until
from tests.e2e.ptyproc import PtyProcess

pytestmark = clusterlab.CLUSTER_MARKS
lab = clusterlab.lab  # the fixture
LOGIN = ("admin", "secret")
CTRL_RIGHT_BRACKET = b"\x1d"


def one_node_lab(workdir: Path, netns: str, **node: object) -> Path:
    path = cluster_file(workdir, netns)
    data = tomllib.loads(path.read_text())
    data["nodes"] = [{**data["nodes"][0], **node}]
    path.write_text(tomlw.dumps(data))
    return path


def boots_after(text: str, offset: int) -> list[str]:
    return re.findall(r"Booting from ([^.\r\n]+)", text[offset:])


def test_bios_bootdev_pxe_once_by_bootindex(lab) -> None:
    netns, workdir = lab
    debug = workdir / "seabios.log"
    path = one_node_lab(workdir, netns, boot=["disk", "network"], qemu_args=[
        "-chardev", f"file,id=seabios,path={debug}",
        "-device", "isa-debugcon,iobase=0x402,chardev=seabios"])
    run_cluster("up", path, timeout=90)
    bmc = "192.168.123.4"
    ipmitool_in(netns, bmc, *LOGIN, "chassis", "bootdev", "pxe")
    assert "Up/On" in ipmitool_in(netns, bmc, *LOGIN, "chassis", "power", "on")
    read = lambda: debug.read_text(errors="replace") if debug.exists() else ""  # noqa: E731
    assert wait_until(lambda: boots_after(read(), 0), 60), read()[-2000:]
    # The disk is first in the file; the override put the NIC (iPXE, a ROM) before it.
    assert boots_after(read(), 0)[0] == "ROM"
    # One-time: the next boot is from the configured order again.
    mark = len(read())
    assert "Reset" in ipmitool_in(netns, bmc, *LOGIN, "chassis", "power", "reset")
    assert wait_until(lambda: boots_after(read(), mark), 60), read()[mark:][-2000:]
    assert boots_after(read(), mark)[0] == "Hard Disk"
    run_cluster("down", path)


def first_boot_option(console: PtyProcess, pattern: bytes, offset: int) -> bytes | None:
    """The first boot option OVMF names after `offset` of the console output; OVMF under TCG
    gets there in tens of seconds, so wait long for it, and look at nothing later."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        found = re.search(pattern, bytes(console.output[offset:]))
        if found:
            return found.group(1)
        console._read(0.5)
    return None


def test_uefi_bootdev_pxe_efiboot_by_bootindex(lab) -> None:
    netns, workdir = lab
    path = one_node_lab(workdir, netns, boot=["disk", "network"], firmware="uefi")
    run_cluster("up", path, timeout=90)
    assert (workdir / "state" / "nodes" / "cn1" / "OVMF_VARS.fd").stat().st_size > 0
    bmc = "192.168.123.4"
    ipmitool_in(netns, bmc, *LOGIN, "chassis", "bootdev", "pxe", "options=efiboot")
    console = PtyProcess([sys.executable, "-m", "pybmc", "cluster", "console", str(path), "cn1"])
    try:
        assert "Up/On" in ipmitool_in(netns, bmc, *LOGIN, "chassis", "power", "on")
        # OVMF's boot manager names each option it tries; under TCG it gets there in tens of
        # seconds, so wait for its first line and look at nothing later.
        first = rb'BdsDxe: [^\r\n]*"([^"]+)"'
        assert first_boot_option(console, first, 0) and b"PXE" in first_boot_option(
            console, first, 0), bytes(console.output)[-2000:]
        # One-time: after a reset OVMF starts from the configured order (the disk) again.
        mark = len(console.output)
        assert "Reset" in ipmitool_in(netns, bmc, *LOGIN, "chassis", "power", "reset")
        option = first_boot_option(console, first, mark)
        assert option is not None and b"PXE" not in option, bytes(console.output)[mark:][-2000:]
        console.write(CTRL_RIGHT_BRACKET)
        assert console.wait(10) == 0
    finally:
        console.close()
    run_cluster("down", path)
