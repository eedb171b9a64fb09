"""Virtual media on a libvirt domain: the image is fetched into state_dir as for QEMU
(pybmc.edge.power.qemu_media), then put into the domain's first CD-ROM drive with
`updateDeviceFlags` (the running domain and its persistent definition; the persistent one
only while it is shut off). An eject is the same drive without a source. The domain needs a
CD-ROM drive (an empty one is enough, see docs/libvirt.md)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pybmc.edge.power.libvirt_connection import in_thread
from pybmc.edge.power.qemu_media import CD_FILE, QemuMedia
from pybmc.model.libvirt_domain import cdrom_xml, parse_domain
from pybmc.model.virtual_media import MediaSlot

log = logging.getLogger("pybmc.media")

AFFECT_LIVE, AFFECT_CONFIG = 1, 2


class LibvirtMedia(QemuMedia):
    """The CD slot of one domain."""

    def __init__(self, name: str, media_dir: Path, domain: Callable[[], Any]) -> None:
        super().__init__(name, media_dir, self._no_qmp, lambda: False)
        self.domain = domain  # the libvirt domain, or None while not connected

    @staticmethod
    async def _no_qmp(command: str, arguments: dict[str, Any]) -> Any:
        raise AssertionError("no QMP on a libvirt domain")

    def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()

    async def _update(self, source: str) -> None:
        dom = self.domain()
        if dom is None:
            raise ConnectionError("not connected to libvirt")
        await in_thread(self.name, "updateDeviceFlags()", self._put, dom, source)

    @staticmethod
    def _put(dom: Any, source: str) -> None:
        """The CD change itself (blocking libvirt calls, in libvirt's call threads)."""
        cdroms = parse_domain(dom.XMLDesc(0)).cdroms
        if not cdroms:
            raise RuntimeError("the domain has no CD-ROM drive (<disk device='cdrom'>)")
        flags = AFFECT_CONFIG | (AFFECT_LIVE if dom.isActive() else 0)
        dom.updateDeviceFlags(cdrom_xml(cdroms[0], source), flags)

    async def _change(self, slot: MediaSlot, image: str) -> None:
        try:
            if not image:
                await self._update("")
                self.loaded = None
                (self.media_dir / CD_FILE).unlink(missing_ok=True)
                log.info("%s: virtual CD tray empty", self.name)
                return
            path = await self._download(slot, image)
            self.loaded = path
            await self._update(str(path.resolve()))
            slot.state, slot.detail, slot.percent = "inserted", "", 100
            log.info("%s: virtual CD %s in the tray", self.name, slot.image_name)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # a failed download or libvirt error ends as the slot's state
            text = err.get_error_message() if hasattr(err, "get_error_message") else str(err)
            slot.state, slot.detail = "failed", text or type(err).__name__
            log.warning("%s: virtual CD %s: %s", self.name, image or "eject", slot.detail)
