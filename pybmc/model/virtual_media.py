"""Virtual media: the BMC's removable-media slots (a CD and a USB stick) and what is in them.

Fronts (Redfish today) insert and eject through VirtualMedia; a power backend that can put
the medium into its machine (QEMU) implements MediaDrive and is told of every change. Without
one (the simulated machine) the slots keep and report the state alone. The state lives in
memory, as on a real BMC: a restarted BMC has empty slots.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol, runtime_checkable
from urllib.parse import unquote, urlsplit

log = logging.getLogger("pybmc.media")

TRANSFER_METHODS = ("Stream", "Upload")
TRANSFER_PROTOCOLS = {"http": "HTTP", "https": "HTTPS"}


class MediaError(Exception):
    """An insert or eject the slot refuses; `parameter` names the offending one."""

    def __init__(self, parameter: str, reason: str) -> None:
        super().__init__(reason)
        self.parameter = parameter


@dataclass
class MediaSlot:
    """One slot: its kind, and the image it holds (if `inserted`)."""

    slot_id: str  # "Cd" or "UsbStick"
    media_types: tuple[str, ...]
    image: str = ""  # the image's http(s) URL
    inserted: bool = False
    write_protected: bool = True
    transfer_method: str = "Stream"
    transfer_protocol: str = ""  # "HTTP" or "HTTPS"
    state: str = "empty"  # empty | inserting (a backend fetches it) | inserted | failed
    detail: str = ""  # why it failed, or the backend's progress
    percent: int | None = None  # of a background fetch, when its size is known

    @property
    def image_name(self) -> str:
        return unquote(urlsplit(self.image).path.rsplit("/", 1)[-1]) if self.image else ""


@runtime_checkable
class MediaDrive(Protocol):
    """What a power backend implements to put media into its machine."""

    def media_changed(self, slot: MediaSlot) -> None:
        """The slot's medium changed (inserted, or ejected when not `slot.inserted`).
        The backend may fetch it in the background and set slot.state/detail as it goes."""
        ...


class VirtualMedia:
    """One BMC's slots; `drive` is told of each change (None: state only)."""

    def __init__(self, name: str, drive: MediaDrive | None = None) -> None:
        self.name = name
        self.drive = drive
        self.slots = {
            "Cd": MediaSlot("Cd", ("CD", "DVD")),
            "UsbStick": MediaSlot("UsbStick", ("USBStick",), write_protected=True),
        }

    def insert(self, slot_id: str, image: str, inserted: bool = True,
               write_protected: bool = True, transfer_method: str = "Stream",
               transfer_protocol: str | None = None) -> MediaSlot:
        """Put an image (an http or https URL) in a slot, replacing what was there."""
        slot = self.slots[slot_id]
        scheme = urlsplit(image).scheme.lower()
        if scheme not in TRANSFER_PROTOCOLS or not urlsplit(image).hostname:
            raise MediaError("Image", f"{image!r} is not an http or https URL")
        if transfer_protocol is not None and transfer_protocol != TRANSFER_PROTOCOLS[scheme]:
            raise MediaError("TransferProtocolType",
                             f"{transfer_protocol} does not match the {scheme} URL")
        if transfer_method not in TRANSFER_METHODS:
            raise MediaError("TransferMethod", f"{transfer_method!r} is not Stream or Upload")
        if slot_id == "Cd" and not write_protected:
            raise MediaError("WriteProtected", "a CD is always write-protected")
        slot.image, slot.inserted, slot.write_protected = image, inserted, write_protected
        slot.transfer_method, slot.transfer_protocol = transfer_method, TRANSFER_PROTOCOLS[scheme]
        slot.state = "inserted" if inserted else "empty"
        slot.detail, slot.percent = "", None
        log.info("%s: virtual media %s: %s%s", self.name, slot_id, image,
                 "" if inserted else " (not inserted)")
        if self.drive is not None:
            self.drive.media_changed(slot)
        return slot

    def eject(self, slot_id: str) -> MediaSlot:
        slot = self.slots[slot_id]
        was = slot.image
        slot.image, slot.inserted, slot.state, slot.detail = "", False, "empty", ""
        slot.percent = None
        slot.transfer_protocol = ""
        log.info("%s: virtual media %s ejected%s", self.name, slot_id,
                 f" ({was})" if was else "")
        if self.drive is not None:
            self.drive.media_changed(slot)
        return slot
