"""Virtual media on QEMU: an empty CD-ROM added at launch, images fetched into state_dir and
changed over QMP.

pybmc adds `-drive if=none,media=cdrom` + `-device ide-cd` (id pybmc-cd) to every VM, so the
tray exists before any InsertMedia. An insert downloads the http(s) image (aiohttp, in the
background, progress logged and kept in the slot) to state_dir/media/cd.iso, then
`blockdev-change-medium` puts it in the tray; an eject is QMP `eject`. A VM launched later
starts with the current image in the tray. The CMOS boot order's "d" (a `Cd` boot override)
is this drive when the VM has no other CD. Only the CD slot reaches QEMU: the USB stick's
state is kept, not attached.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pybmc.model.virtual_media import MediaSlot

log = logging.getLogger("pybmc.media")

CD_DRIVE = "pybmc-cd-drive"
CD_DEVICE = "pybmc-cd"
CD_FILE = "cd.iso"
DOWNLOAD_TIMEOUT = 600.0  # seconds for one whole image
CHUNK = 1 << 20
PROGRESS_STEP = 0.25  # log each quarter of a download of known size

QmpExecute = Callable[[str, dict[str, Any]], Awaitable[Any]]


def cd_args(image: Path | None) -> list[str]:
    """The CD-ROM drive for the QEMU command line, with `image` in the tray if given."""
    drive = f"if=none,id={CD_DRIVE},media=cdrom,readonly=on"
    if image is not None:
        drive += f",format=raw,file={str(image).replace(',', ',,')}"
    return ["-drive", drive, "-device", f"ide-cd,drive={CD_DRIVE},id={CD_DEVICE}"]


class QemuMedia:
    """The CD slot of one VM: fetches images and changes the medium while QMP is attached."""

    def __init__(self, name: str, media_dir: Path, execute: QmpExecute,
                 attached: Callable[[], bool]) -> None:
        self.name = name
        self.media_dir = media_dir
        self.execute = execute
        self.attached = attached  # QMP is up: the VM runs
        self.loaded: Path | None = None  # the image in the tray (for the next launch too)
        self._task: asyncio.Task[None] | None = None

    def launch_args(self) -> list[str]:
        return cd_args(self.loaded)

    def media_changed(self, slot: MediaSlot) -> None:
        if slot.slot_id != "Cd":
            log.info("%s: virtual media %s is kept but not attached to QEMU", self.name,
                     slot.slot_id)
            return
        if self._task is not None and not self._task.done():
            self._task.cancel()  # a newer insert or eject replaces one still downloading
        image = slot.image if slot.inserted else ""
        if image:
            slot.state = "inserting"  # at once: the front reports the fetch as a task
        self._task = asyncio.get_running_loop().create_task(self._change(slot, image))

    async def _change(self, slot: MediaSlot, image: str) -> None:
        try:
            if not image:
                await self._eject()
                return
            path = await self._download(slot, image)
            self.loaded = path
            if self.attached():
                await self.execute("blockdev-change-medium", {
                    "id": CD_DEVICE, "filename": str(path), "format": "raw",
                    "read-only-mode": "read-only"})
            slot.state, slot.detail, slot.percent = "inserted", "", 100
            log.info("%s: virtual CD %s in the tray", self.name, slot.image_name)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # a failed download or QMP error ends as the slot's state
            slot.state, slot.detail = "failed", str(err) or type(err).__name__
            log.warning("%s: virtual CD %s: %s", self.name, image, slot.detail)

    async def _eject(self) -> None:
        self.loaded = None
        if self.attached():
            await self.execute("eject", {"id": CD_DEVICE, "force": True})
        (self.media_dir / CD_FILE).unlink(missing_ok=True)
        log.info("%s: virtual CD tray empty", self.name)

    async def _download(self, slot: MediaSlot, image: str) -> Path:
        from aiohttp import ClientSession, ClientTimeout

        self.media_dir.mkdir(parents=True, exist_ok=True)
        target = self.media_dir / CD_FILE
        partial = target.with_suffix(".part")
        done = 0
        async with ClientSession(timeout=ClientTimeout(total=DOWNLOAD_TIMEOUT)) as client, \
                client.get(image, ssl=False) as answer:
            answer.raise_for_status()
            size = answer.content_length
            log.info("%s: fetching virtual CD %s (%s bytes)", self.name, image,
                     size if size is not None else "unknown")
            next_report = PROGRESS_STEP
            with partial.open("wb") as out:
                async for chunk in answer.content.iter_chunked(CHUNK):
                    out.write(chunk)
                    done += len(chunk)
                    slot.detail = f"{done} of {size or '?'} bytes fetched"
                    slot.percent = 100 * done // size if size else None
                    if size and done / size >= next_report:
                        log.info("%s: virtual CD %d%% fetched", self.name, 100 * done // size)
                        next_report += PROGRESS_STEP
        partial.replace(target)
        return target
