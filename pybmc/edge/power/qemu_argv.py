"""The QEMU command line pybmc runs: the user's [qemu] args plus what the BMC adds to them.

pybmc adds a QMP socket, the first serial port as a raw Unix socket for SOL, -uuid = the BMC's
System GUID, -name, -display none when no display is given, an accelerator unless the args
choose one, -S and -no-shutdown; a `-boot order=` of the user's becomes the base boot order
that boot overrides change (see pybmc.edge.power.qemu). `-device` entries with an `id=` and a
`bootindex=` are the boot devices an override reorders instead (see boot_devices).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pybmc.model.power import BootChoice

DEFAULT_BOOT_ORDER = "cad"  # QEMU's own default for PC machines
MAX_BOOT_ORDER = 3  # CMOS holds three boot entries
BOOT_LETTERS = {"floppy": "a", "disk": "c", "cdrom": "d", "pxe": "n"}
SERIAL_ID = "pybmc-serial"
NIC_PREFIXES = ("e1000", "rtl8139", "pcnet", "vmxnet", "ne2k", "i8255", "igb", "tulip")

# Options that mean "the user chose the accelerator / display / identity themselves".
ACCEL_OPTIONS = ("-accel", "-enable-kvm", "-no-kvm")
DISPLAY_OPTIONS = ("-display", "-nographic", "-vnc", "-spice", "-curses", "-sdl")


@dataclass(frozen=True)
class BootDevice:
    """A `-device ...,id=ID,bootindex=N` of the user's args, by the IPMI boot device it is."""

    id: str
    kind: str  # pxe | disk | cdrom | floppy | other (never chosen, only kept in order)
    bootindex: int  # as configured; -1 when the device has none


@dataclass(frozen=True)
class RunPaths:
    """The files of one BMC's QEMU; the directory is short so socket paths fit in sun_path."""

    run_dir: Path

    @property
    def qmp(self) -> Path:
        return self.run_dir / "qmp.sock"

    @property
    def serial(self) -> Path:
        return self.run_dir / "serial.sock"

    @property
    def in_band(self) -> Path:
        return self.run_dir / "ipmi.sock"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "qemu.pid"

    @property
    def log(self) -> Path:
        return self.run_dir / "qemu.log"




def _option_values(args: Sequence[str], *names: str) -> list[str]:
    values = []
    for index, arg in enumerate(args[:-1]):
        if arg in names:
            values.append(args[index + 1])
    return values


def has_option(args: Sequence[str], *names: str) -> bool:
    return any(arg in names for arg in args)


def device_kind(driver: str) -> str:
    """The IPMI boot device a QEMU device driver is (by name: NICs, disks, CD-ROMs)."""
    if driver.endswith("-cd"):
        return "cdrom"
    if driver == "floppy":
        return "floppy"
    if ("blk" in driver or driver.endswith("-hd")
            or driver in ("nvme", "usb-storage", "scsi-block", "scsi-disk")):
        return "disk"
    if "net" in driver or driver.startswith(NIC_PREFIXES):
        return "pxe"
    return "other"


def boot_devices(args: Sequence[str]) -> tuple[list[BootDevice], list[str]]:
    """The devices whose bootindex an override may change (id= and a known kind), and the
    drivers of those with a bootindex but no id (which stay where they are)."""
    devices: list[BootDevice] = []
    unnamed: list[str] = []
    for value in _option_values(args, "-device"):
        driver, _, rest = value.partition(",")
        options = dict(item.partition("=")[::2] for item in rest.split(",") if item)
        try:
            index = int(options.get("bootindex", "-1"))
        except ValueError:
            index = -1
        if "id" not in options:
            if index >= 0:
                unnamed.append(driver)
            continue
        kind = device_kind(driver)
        if index >= 0 or kind != "other":
            devices.append(BootDevice(options["id"], kind, index))
    return devices, unnamed


def user_sets_accel(args: Sequence[str]) -> bool:
    if has_option(args, *ACCEL_OPTIONS):
        return True
    machines = _option_values(args, "-machine", "-M")
    return any("accel=" in value for value in machines)


def split_boot_option(args: Sequence[str]) -> tuple[str, list[str]]:
    """The user's base boot order, and their args without `once=` (pybmc owns one-time boots:
    QEMU's own once= restores the order at a reset and would undo a pybmc override)."""
    order = DEFAULT_BOOT_ORDER
    kept: list[str] = []
    skip = False
    for index, arg in enumerate(args):
        if skip:
            skip = False
            continue
        if arg != "-boot" or index + 1 >= len(args):
            kept.append(arg)
            continue
        skip = True
        parts = []
        for position, item in enumerate(args[index + 1].split(",")):
            key, sep, value = item.partition("=")
            if not sep and position == 0:  # legacy "-boot cd" means order=cd
                key, value = "order", item
            if key == "order":
                order = value
            if key != "once":
                parts.append(item)
        if parts:
            kept += ["-boot", ",".join(parts)]
    return order, kept


def firmware_boot_order(choice: BootChoice, base: str) -> str:
    """The CMOS boot order for this boot: the chosen device first, then the user's order."""
    base = "".join(dict.fromkeys(base)) or DEFAULT_BOOT_ORDER
    letter = BOOT_LETTERS.get(choice.device)
    if letter is None:  # default, or bios (SeaBIOS has no setup screen)
        return base[:MAX_BOOT_ORDER]
    return (letter + base.replace(letter, ""))[:MAX_BOOT_ORDER]


def accel_args(args: Sequence[str], kvm: bool) -> list[str]:
    if user_sets_accel(args):
        return []
    # A second -accel is QEMU's fallback when the first fails to initialise.
    return ["-accel", "kvm", "-accel", "tcg"] if kvm else ["-accel", "tcg"]


def build_command(binary: str, user_args: Sequence[str], *, name: str, guid: uuid.UUID,
                  paths: RunPaths, kvm: bool, extra: Sequence[str] = ()) -> list[str]:
    """The full QEMU argv. Our serial port comes before the user's args so it is ttyS0."""
    argv = [binary,
            "-qmp", f"unix:{opt_path(paths.qmp)},server=on,wait=off",
            "-chardev", f"socket,id={SERIAL_ID},path={opt_path(paths.serial)},server=on,wait=off",
            "-serial", f"chardev:{SERIAL_ID}"]
    if not has_option(user_args, "-name"):
        argv += ["-name", name]
    if not has_option(user_args, "-uuid"):
        argv += ["-uuid", str(guid)]
    if not has_option(user_args, *DISPLAY_OPTIONS):
        argv += ["-display", "none"]
    argv += accel_args(user_args, kvm)
    argv += [arg for arg in user_args if arg != "-daemonize"]
    argv += list(extra)
    argv += ["-S", "-no-shutdown"]
    return argv


def opt_path(path: Path | str) -> str:
    """A value inside a QEMU option string, where a comma is written twice."""
    return str(path).replace(",", ",,")


def argument_warnings(user_args: Sequence[str], config_args: Sequence[str]) -> list[str]:
    """What in the user's args works against the BMC (each logged once at launch)."""
    warnings = []
    devices, unnamed = boot_devices(user_args)
    for driver in unnamed:
        warnings.append(f"-device {driver} has a bootindex but no id=: chassis bootdev cannot "
                        "move it")
    if any("bootindex" in arg for arg in user_args) and not any(
            d.bootindex >= 0 for d in devices):
        warnings.append("a bootindex without a device id= makes SeaBIOS ignore the boot order "
                        "pybmc sets for chassis bootdev")
    if has_option(user_args, "-nographic"):
        warnings.append("-nographic puts a monitor on stdio; prefer -display none")
    if any(arg.startswith("once=") or ",once=" in arg for arg in config_args):
        warnings.append("-boot once= dropped: use chassis bootdev (IPMI) instead")
    if "-daemonize" in config_args:
        warnings.append("-daemonize dropped: pybmc watches the QEMU process itself")
    return warnings
