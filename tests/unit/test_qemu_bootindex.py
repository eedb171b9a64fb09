"""Boot overrides by device bootindex: which devices take part, the order for a boot, and the
QMP commands that set it (only what changed, never two devices on one index)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pybmc.edge.power.qemu_argv import BootDevice, argument_warnings, boot_devices
from pybmc.edge.power.qemu_boot import BootOrder, bootindex_plan
from pybmc.model.power import BootChoice

ARGS = ["-m", "256", "-netdev", "tap,id=n0,ifname=t0",
        "-device", "virtio-net-pci,netdev=n0,id=net0,bootindex=2",
        "-drive", "file=d.qcow2,if=none,id=d0",
        "-device", "virtio-blk-pci,drive=d0,id=disk0,bootindex=1",
        "-device", "ide-cd,id=cd0", "-device", "virtio-rng-pci,id=rng0",
        "-device", "e1000,netdev=n1,bootindex=5"]
NET, DISK, CD = BootDevice("net0", "pxe", 2), BootDevice("disk0", "disk", 1), \
    BootDevice("cd0", "cdrom", -1)


def test_boot_devices_are_the_ones_with_an_id_and_a_known_kind() -> None:
    devices, unnamed = boot_devices(ARGS)
    assert devices == [NET, DISK, CD]
    assert unnamed == ["e1000"]
    assert any("e1000 has a bootindex but no id" in w for w in argument_warnings(ARGS, ARGS))


@pytest.mark.parametrize(("device", "plan"), [
    ("default", {"net0": 2, "disk0": 1, "cd0": -1}),
    ("pxe", {"net0": 1, "disk0": 2, "cd0": -1}),
    ("disk", {"disk0": 1, "net0": 2, "cd0": -1}),
    ("cdrom", {"cd0": 1, "disk0": 2, "net0": 3}),
    ("floppy", {"net0": 2, "disk0": 1, "cd0": -1}),  # no floppy: the configured order
])
def test_bootindex_plan(device: str, plan: dict[str, int]) -> None:
    assert bootindex_plan([NET, DISK, CD], BootChoice(device)) == plan


class FakeQmp:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.indexes = {"net0": 2, "disk0": 1, "cd0": -1}

    async def __call__(self, command: str, args: dict[str, Any]) -> Any:
        self.calls.append((command, args))
        if command == "qom-set":
            device, value = args["path"].rsplit("/", 1)[1], args["value"]
            # QEMU's own check: one device per bootindex.
            assert value < 0 or value not in self.indexes.values(), f"{value} already used"
            self.indexes[device] = value
        return {} if command == "qom-set" else "boot device list now set to n\r\n"


def test_override_then_restore_by_bootindex() -> None:
    order = BootOrder("cn1", "cad", [NET, DISK, CD])
    qmp = FakeQmp()
    order.launched()
    assert asyncio.run(order.apply(qmp, BootChoice("default"))) is False
    assert qmp.calls == []  # the configured order is what QEMU has: nothing to send
    assert asyncio.run(order.apply(qmp, BootChoice("pxe", efi=True))) is True
    assert qmp.indexes == {"net0": 1, "disk0": 2, "cd0": -1}
    assert all(command == "qom-set" for command, _ in qmp.calls)
    assert asyncio.run(order.apply(qmp, BootChoice("default"))) is True  # one-time: back
    assert qmp.indexes == {"net0": 2, "disk0": 1, "cd0": -1}


def test_a_new_process_starts_from_the_configured_order_and_unknown_sets_everything() -> None:
    order = BootOrder("cn1", "cad", [NET, DISK, CD])
    qmp = FakeQmp()
    order.forget()  # re-attached: what QEMU holds is unknown
    assert asyncio.run(order.apply(qmp, BootChoice("default"))) is True
    assert {c[1]["path"].rsplit("/", 1)[1] for c in qmp.calls} == {"net0", "disk0", "cd0"}


def test_without_bootindex_the_cmos_order_is_used() -> None:
    order = BootOrder("cn1", "cad", [BootDevice("net0", "pxe", -1)])
    qmp = FakeQmp()
    order.launched()
    assert not order.by_bootindex
    assert asyncio.run(order.apply(qmp, BootChoice("pxe"))) is False
    assert qmp.calls == [("human-monitor-command", {"command-line": "boot_set nca"})]
    asyncio.run(order.apply(qmp, BootChoice("pxe")))
    assert len(qmp.calls) == 1  # unchanged: not sent again


def test_uefi_http_boot_puts_the_nic_first_and_says_where_the_uri_comes_from(
        caplog: pytest.LogCaptureFixture) -> None:
    order = BootOrder("cn1", "cad", [NET, DISK, CD])
    qmp = FakeQmp()
    order.launched()
    choice = BootChoice("pxe", efi=True, http=True, http_uri="http://192.0.2.1/x.efi")
    with caplog.at_level("INFO", logger="pybmc.power"):
        assert asyncio.run(order.apply(qmp, choice)) is True
    assert qmp.indexes == {"net0": 1, "disk0": 2, "cd0": -1}
    assert "UEFI HTTP boot requested (HttpBootUri http://192.0.2.1/x.efi)" in caplog.text
