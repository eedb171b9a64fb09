"""The QEMU CD-ROM pybmc adds for virtual media: its command line, and QMP on eject."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from pybmc.edge.power.qemu_media import QemuMedia, cd_args
from pybmc.model.virtual_media import MediaSlot


def test_cd_args_are_an_empty_tray_or_the_loaded_image():
    assert cd_args(None) == ["-drive", "if=none,id=pybmc-cd-drive,media=cdrom,readonly=on",
                             "-device", "ide-cd,drive=pybmc-cd-drive,id=pybmc-cd"]
    assert cd_args(Path("/s/a,b/cd.iso"))[1].endswith(",format=raw,file=/s/a,,b/cd.iso")


def test_eject_empties_the_tray_over_qmp_and_forgets_the_image(tmp_path: Path):
    sent: list[tuple[str, dict[str, Any]]] = []

    async def execute(command: str, arguments: dict[str, Any]) -> Any:
        sent.append((command, arguments))
        return {}

    async def scenario() -> None:
        media = QemuMedia("t", tmp_path, execute, attached=lambda: True)
        media.loaded = tmp_path / "cd.iso"
        media.loaded.write_bytes(b"iso")
        media.media_changed(MediaSlot("UsbStick", ("USBStick",), image="http://h/x"))
        media.media_changed(MediaSlot("Cd", ("CD",)))  # not inserted: an eject
        assert media._task is not None
        await media._task
        assert media.loaded is None and not (tmp_path / "cd.iso").exists()

    asyncio.run(scenario())
    assert sent == [("eject", {"id": "pybmc-cd", "force": True})]


def test_virtual_media_false_adds_no_cd_to_the_vm(tmp_path: Path):
    from pybmc.config.bmc import parse_config
    from pybmc.edge.power.qemu import QemuPower

    def power(virtual_media: bool) -> QemuPower:
        config = parse_config({"bmc": {"name": "v", "address": "127.0.0.2",
                                       "state_dir": str(tmp_path)},
                               "power": {"backend": "qemu"},
                               "qemu": {"virtual_media": virtual_media}})
        return QemuPower.from_bmc_config(config, initially_on=False)

    assert "ide-cd,drive=pybmc-cd-drive,id=pybmc-cd" in power(True)._media_args()
    assert power(False)._media_args() == []
