"""What the managed machine has, as every inventory source (QEMU args, a libvirt domain's
XML, [system]) describes it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Processors:
    sockets: int
    cores: int  # per socket
    threads: int  # per core
    model: str
    architecture: str  # Redfish ProcessorArchitecture: x86, ARM, ...
    instruction_set: str  # Redfish InstructionSet: x86-64, ARM-A64, ...

    @property
    def logical(self) -> int:
        return self.sockets * self.cores * self.threads


@dataclass(frozen=True)
class Nic:
    nic_id: str
    mac: str  # lower case, colon separated
    model: str  # the QEMU device (e1000, virtio-net-pci ...) or "" when unknown


@dataclass(frozen=True)
class Disk:
    disk_id: str
    path: str  # the image file ("" when none: an empty drive)
    interface: str  # virtio, ide, scsi, nvme ... (QEMU's if= or the device's bus)
    size_bytes: int | None  # None: not known (unreadable, or no image)


@dataclass(frozen=True)
class Inventory:
    processors: Processors
    memory_mib: int
    nics: tuple[Nic, ...]
    disks: tuple[Disk, ...]
    uefi: bool  # the firmware is UEFI (OVMF/edk2 under QEMU)
