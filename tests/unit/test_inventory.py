"""The host inventory from QEMU args and [system]: CPUs, memory, NICs, disks, firmware."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pybmc.config.bmc import ConfigError, parse_config
from pybmc.model.inventory import image_size, inventory, parse_memory_mib, parse_smp


def config(**sections: Any) -> Any:
    return parse_config({"bmc": {"name": "t", "address": "127.0.0.2"}, **sections})


def qemu(*args: str) -> Any:
    return config(power={"backend": "qemu"}, qemu={"args": list(args)})


@pytest.mark.parametrize(("text", "topology"), [
    ("4", (1, 4, 1)),  # QEMU 6.2+ prefers cores over sockets
    ("cpus=8,sockets=2", (2, 4, 1)),
    ("sockets=2,cores=2,threads=2", (2, 2, 2)),
    ("4,threads=2", (1, 2, 2)),
    ("8,sockets=2,dies=2,cores=2", (2, 4, 1)),
])
def test_smp_topology(text: str, topology: tuple[int, int, int]) -> None:
    assert parse_smp(text) == topology


@pytest.mark.parametrize(("text", "mib"), [
    ("1024", 1024), ("2G", 2048), ("2GiB", 2048), ("size=512M,slots=2,maxmem=4G", 512),
    ("1.5g", 1536), ("524288k", 512), ("lots", None)])
def test_memory_sizes(text: str, mib: int | None) -> None:
    assert parse_memory_mib(text) == mib


def test_qemu_defaults_without_args() -> None:
    inv = inventory(qemu())
    assert (inv.processors.logical, inv.processors.model, inv.memory_mib) == (1, "qemu64", 128)
    assert [(n.nic_id, n.mac, n.model) for n in inv.nics] == [
        ("nic0", "52:54:00:12:34:56", "e1000")]  # QEMU's default NIC
    assert inv.disks == () and not inv.uefi


def test_qemu_cluster_node_args(tmp_path: Path) -> None:
    disk = tmp_path / "disk.raw"
    disk.write_bytes(bytes(4096))
    inv = inventory(qemu(
        "-m", "2048", "-smp", "4", "-cpu", "host,+vmx",
        "-netdev", "tap,id=net0-tap,ifname=t0", "-device",
        "virtio-net-pci,netdev=net0-tap,id=net0,mac=52:54:00:AA:00:01,bootindex=1",
        "-nic", "user,model=virtio-net-pci",
        "-drive", f"file={disk},if=none,id=disk0-drive,format=raw",
        "-device", "virtio-blk-pci,drive=disk0-drive,id=disk0",
        "-drive", "if=none,id=cd-drive,media=cdrom", "-device", "ide-cd,drive=cd-drive,id=cd",
        "-drive", "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE.fd"))
    assert (inv.processors.sockets, inv.processors.cores, inv.processors.model) == (1, 4, "host")
    assert inv.memory_mib == 2048
    assert [(n.nic_id, n.mac) for n in inv.nics] == [("net0", "52:54:00:aa:00:01"),
                                                     ("nic1", "52:54:00:12:34:56")]
    assert [(d.disk_id, d.interface, d.size_bytes) for d in inv.disks] == [
        ("disk0", "virtio", 4096)]  # the CD-ROM and the firmware flash are not disks
    assert inv.uefi


def test_qcow2_virtual_size_blockdev_and_unreadable_images(tmp_path: Path) -> None:
    image = tmp_path / "d.qcow2"
    image.write_bytes(b"QFI\xfb" + bytes(20) + (10 << 30).to_bytes(8, "big") + bytes(100))
    assert image_size(str(image), "qcow2") == 10 << 30
    inv = inventory(qemu(
        "-blockdev", f"driver=file,filename={image},node-name=f0",
        "-blockdev", "driver=qcow2,file=f0,node-name=q0",
        "-device", "nvme,drive=q0,serial=x,id=nv0",
        "-hda", str(tmp_path / "missing.img"), "-nodefaults"))
    assert [(d.disk_id, d.interface, d.size_bytes) for d in inv.disks] == [
        ("nv0", "nvme", 10 << 30), ("disk1", "ide", None)]
    assert inv.nics == ()


def test_simulated_inventory_from_the_system_section() -> None:
    inv = inventory(config(system={"cpus": 8, "sockets": 2, "memory_mib": 8192,
                                   "macs": ["52:54:00:AB:CD:EF"], "disk_sizes_gib": [20, 40],
                                   "firmware": "bios"}))
    assert (inv.processors.sockets, inv.processors.cores, inv.processors.logical) == (2, 4, 8)
    assert [n.mac for n in inv.nics] == ["52:54:00:ab:cd:ef"]
    assert [d.size_bytes for d in inv.disks] == [20 << 30, 40 << 30]
    assert not inv.uefi
    plain = inventory(config())
    assert (plain.processors.logical, plain.memory_mib, plain.nics, plain.uefi) == (
        2, 4096, (), True)


@pytest.mark.parametrize("system", [{"cpus": 3, "sockets": 2}, {"macs": ["nope"]},
                                    {"disk_sizes_gib": [0]}, {"firmware": "coreboot"},
                                    {"colour": "red"}])
def test_bad_system_section_is_a_config_error(system: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"\[system\]"):
        config(system=system)
