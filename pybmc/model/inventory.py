"""The managed machine's inventory (CPUs, memory, NICs, disks, firmware) from its configuration.

With the qemu backend it is read from the `[qemu] args` QEMU is started with (-smp, -m, -cpu,
-nic/-net/-device ...,mac=, -drive/-blockdev/-device ...,drive=, -hda.., pflash/-bios
firmware), with QEMU's own defaults where the args say nothing; otherwise from `[system]`.
Disk sizes come from the image files where readable (a qcow2 image's virtual size from its
header): `size_of` is the one I/O, and tests pass their own.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Sequence

from pybmc.config.bmc import BmcConfig
from pybmc.model.inventory_types import Disk, Inventory, Nic, Processors

__all__ = ["Disk", "Inventory", "Nic", "Processors", "firmware_is_uefi", "inventory"]

GIB = 1 << 30
QEMU_DEFAULT_MEMORY_MIB = 128  # what qemu-system-x86_64 gives a PC without -m
QEMU_DEFAULT_CPU = "qemu64"
QEMU_FIRST_MAC = (0x52, 0x54, 0x00, 0x12, 0x34, 0x56)  # then ...:57, ...:58 per NIC
NIC_DRIVER_PREFIXES = ("e1000", "rtl8139", "pcnet", "vmxnet", "ne2k", "i8255", "igb",
                       "tulip", "virtio-net", "usb-net", "sungem")
DISK_DRIVERS = ("virtio-blk", "ide-hd", "scsi-hd", "scsi-disk", "scsi-block", "nvme",
                "usb-storage", "sata-hd")
MEMORY_UNITS = {"": 1, "b": 1 / (1 << 20), "k": 1 / 1024, "m": 1, "g": 1024, "t": 1 << 20}
SIZE_RE = re.compile(r"^(\d+(?:\.\d+)?)([bkmgt]?)(?:i?b)?$", re.IGNORECASE)
QCOW2_MAGIC = b"QFI\xfb"

SizeOf = Callable[[str, str], "int | None"]  # (path, format) -> bytes, or None


def options(value: str, first_key: str = "") -> dict[str, str]:
    """QEMU's `a=b,c=d` option syntax; a leading bare word is `first_key`'s value."""
    result: dict[str, str] = {}
    for position, item in enumerate(value.split(",")):
        key, sep, rest = item.partition("=")
        if not sep and position == 0 and first_key:
            result[first_key] = item
        elif sep:
            result[key] = rest
    return result


def option_values(args: Sequence[str], *names: str) -> list[tuple[str, str]]:
    return [(arg, args[i + 1]) for i, arg in enumerate(args[:-1]) if arg in names]


def image_size(path: str, image_format: str) -> int | None:
    """The guest-visible size of a disk image: a qcow2 header's virtual size, else the file's
    (a block device's by seeking to its end); None when it cannot be read."""
    try:
        with open(path, "rb") as image:
            header = image.read(32)
            if header[:4] == QCOW2_MAGIC and image_format in ("", "qcow2"):
                return int.from_bytes(header[24:32], "big")
            return image.seek(0, os.SEEK_END)
    except OSError:
        return None


def parse_memory_mib(value: str) -> int | None:
    match = SIZE_RE.match(options(value, "size").get("size", ""))
    if match is None:
        return None
    return int(float(match.group(1)) * MEMORY_UNITS[match.group(2).lower()])


def parse_smp(value: str) -> tuple[int, int, int]:
    """(sockets, cores per socket, threads per core) as QEMU (6.2+, which prefers cores over
    sockets) computes them from -smp."""
    smp = options(value, "cpus")
    count = {key: int(smp[key]) if smp.get(key, "").isdigit() else 0
             for key in ("cpus", "sockets", "dies", "cores", "threads")}
    cpus, sockets, cores = count["cpus"], count["sockets"], count["cores"]
    dies, threads = count["dies"] or 1, count["threads"] or 1
    if not cores:
        cores = max(1, cpus // ((sockets or 1) * dies * threads))
    if not sockets:
        sockets = max(1, cpus // (cores * dies * threads))
    return sockets, cores * dies, threads


def _architecture(binary: str) -> tuple[str, str]:
    name = os.path.basename(binary)
    if "aarch64" in name:
        return "ARM", "ARM-A64"
    if name.endswith(("-i386", "-i686")):
        return "x86", "x86"
    return "x86", "x86-64"


def _qemu_processors(args: Sequence[str], binary: str) -> Processors:
    sockets, cores, threads = 1, 1, 1
    for _, value in option_values(args, "-smp"):
        sockets, cores, threads = parse_smp(value)
    model = QEMU_DEFAULT_CPU
    for _, value in option_values(args, "-cpu"):
        model = value.split(",")[0]
    return Processors(sockets, cores, threads, model, *_architecture(binary))


def _default_mac(index: int) -> str:
    octets = list(QEMU_FIRST_MAC)
    octets[5] = (octets[5] + index) & 0xFF
    return ":".join(f"{o:02x}" for o in octets)


def _qemu_nics(args: Sequence[str]) -> tuple[Nic, ...]:
    """Every NIC QEMU creates, in command-line order, with the MAC it gets (the given one,
    or QEMU's default 52:54:00:12:34:56 + n for the n-th NIC without one)."""
    found: list[tuple[str, str, str]] = []  # (id, mac, model)
    for name, value in option_values(args, "-nic", "-net", "-device"):
        if name == "-device":
            model, _, rest = value.partition(",")
            if not model.startswith(NIC_DRIVER_PREFIXES):
                continue
            opts = options(rest)
            found.append((opts.get("id", ""), opts.get("mac", ""), model))
        elif name == "-nic":
            opts = options(value, "type")
            if opts.get("type") != "none":
                found.append(("", opts.get("mac", ""), opts.get("model", "e1000")))
        else:
            opts = options(value, "type")
            if opts.get("type") == "nic":
                found.append((opts.get("id", ""), opts.get("macaddr", ""),
                              opts.get("model", "e1000")))
    if not any(arg in ("-nic", "-net", "-netdev", "-nodefaults") for arg in args):
        found.insert(0, ("", "", "e1000"))  # QEMU's default NIC, on user networking
    nics: list[Nic] = []
    unset = 0
    for index, (nic_id, mac, model) in enumerate(found):
        if not mac:
            mac, unset = _default_mac(unset), unset + 1
        nics.append(Nic(_safe_id(nic_id) or f"nic{index}", mac.lower(), model))
    return tuple(nics)


def _safe_id(text: str) -> str:
    return text if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", text or "-") else ""


def _qemu_disks(args: Sequence[str], size_of: SizeOf) -> tuple[Disk, ...]:
    """The hard disks (not CD-ROMs, floppies or firmware flash): -drive with a bus, -hdX,
    and -device disk drivers naming a -drive id or a -blockdev node."""
    images: dict[str, tuple[str, str]] = {}  # drive id / node-name -> (path, format)
    nodes: dict[str, dict[str, str]] = {}
    attached: list[tuple[str, str, str]] = []  # (id, drive/node, interface)
    standalone: list[tuple[str, str, str, str]] = []  # (id, path, format, interface)
    for name, value in option_values(args, "-drive", "-blockdev", "-device",
                                     "-hda", "-hdb", "-hdc", "-hdd"):
        if name == "-drive":
            opts = options(value)
            if opts.get("media") == "cdrom" or opts.get("if") in ("pflash", "mtd", "floppy"):
                continue
            image = (opts.get("file", ""), opts.get("format", ""))
            if opts.get("if", "ide") == "none":
                images[opts.get("id", "")] = image
            else:
                standalone.append((opts.get("id", ""), *image, opts.get("if", "ide")))
        elif name == "-blockdev":
            opts = options(value)
            nodes[opts.get("node-name", "")] = opts
        elif name == "-device":
            driver, _, rest = value.partition(",")
            opts = options(rest)
            if driver.startswith(DISK_DRIVERS) and "drive" in opts:
                attached.append((opts.get("id", ""), opts["drive"], driver.split("-")[0]))
        else:
            standalone.append(("", value, "", "ide"))
    disks: list[Disk] = []
    for disk_id, reference, interface in attached:
        path, image_format = images.get(reference) or _blockdev_image(nodes, reference)
        disks.append(_disk(disk_id, len(disks), path, image_format, interface, size_of))
    for disk_id, path, image_format, interface in standalone:
        disks.append(_disk(disk_id, len(disks), path, image_format, interface, size_of))
    return tuple(disks)


def _blockdev_image(nodes: dict[str, dict[str, str]], name: str) -> tuple[str, str]:
    """A -blockdev chain's file name and format (qcow2 node -> its file node, bounded)."""
    image_format = ""
    for _ in range(8):
        node = nodes.get(name)
        if node is None:
            return "", image_format
        if "filename" in node:
            return node["filename"], image_format
        if node.get("driver") in ("qcow2", "raw") and not image_format:
            image_format = node["driver"]
        name = node.get("file", "")
    return "", image_format


def _disk(disk_id: str, index: int, path: str, image_format: str, interface: str,
          size_of: SizeOf) -> Disk:
    size = size_of(path, image_format) if path else None
    return Disk(_safe_id(disk_id) or f"disk{index}", path, interface, size)


def _qemu_uefi(args: Sequence[str]) -> bool:
    firmware = [value for name, value in option_values(args, "-bios", "-drive", "-pflash")
                if name != "-drive" or "if=pflash" in value]
    return any(word in value.lower() for value in firmware
               for word in ("ovmf", "edk2", "uefi", "aavmf"))


def inventory(config: BmcConfig, size_of: SizeOf = image_size) -> Inventory:
    """What the machine this BMC manages has."""
    if config.power.backend == "libvirt" and config.libvirt.domain_xml:
        return _libvirt_inventory(config.libvirt.domain_xml)
    if config.power.backend == "qemu":
        args = config.qemu.args
        memory = QEMU_DEFAULT_MEMORY_MIB
        for _, value in option_values(args, "-m"):
            memory = parse_memory_mib(value) or memory
        return Inventory(_qemu_processors(args, config.qemu.binary), memory, _qemu_nics(args),
                         _qemu_disks(args, size_of), _qemu_uefi(args))
    system = config.system
    processors = Processors(system.sockets, system.cpus // system.sockets, 1,
                            system.cpu_model, "x86", "x86-64")
    nics = tuple(Nic(f"nic{i}", mac, "") for i, mac in enumerate(system.macs))
    disks = tuple(Disk(f"disk{i}", "", "", size * GIB)
                  for i, size in enumerate(system.disk_sizes_gib))
    return Inventory(processors, system.memory_mib, nics, disks, system.firmware == "uefi")


def firmware_is_uefi(config: BmcConfig) -> bool:
    """UEFI firmware (OVMF/edk2 in the QEMU args; `[system] firmware` otherwise)."""
    if config.power.backend == "qemu":
        return _qemu_uefi(config.qemu.args)
    if config.power.backend == "libvirt" and config.libvirt.domain_xml:
        return _libvirt_inventory(config.libvirt.domain_xml).uefi
    return config.system.firmware == "uefi"


@functools.lru_cache(maxsize=64)
def _libvirt_inventory(domain_xml: str) -> Inventory:
    """A libvirt domain's inventory, read from its XML (the BMC's build read it; parsed once)."""
    # Imported for libvirt BMCs only: the XML parsers are ~3 MB of a process's memory.
    from pybmc.model.libvirt_domain import parse_domain

    return parse_domain(domain_xml).inventory
