"""Helpers for end-to-end tests that run commands inside the tiny Linux guest under `pybmc serve`:
an initramfs with extra files, a shell on the guest's serial console, and a QEMU-backed BMC
whose every QEMU is killed by its pid file at the end.
"""

from __future__ import annotations

import gzip
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pybmc.config.bmc import parse_config
from pybmc.config.paths import console_socket, run_dir
from pybmc.edge.power.process import process_start_time
from tests.e2e.conftest import BmcProcess, base_config, next_address
from tests.guest.vm import (
    SerialTap,
    guest_files,
    kill_from_run_dir,
    pid_from_run_dir,
    wait_until,
)


# ----------------------------------------------------------------------------- initramfs
def _cpio_entry(name: str, data: bytes, mode: int, ino: int) -> bytes:
    """One "newc" cpio member (header, name, data; each padded to 4 bytes)."""
    encoded = name.encode() + b"\0"
    fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(encoded), 0]
    header = b"070701" + b"".join(f"{value:08X}".encode() for value in fields)
    out = header + encoded
    out += b"\0" * (-len(out) % 4)
    out += data + b"\0" * (-len(data) % 4)
    return out


def cpio_archive(files: dict[str, tuple[bytes, int]]) -> bytes:
    """A newc archive of regular files {path: (data, permission bits)}."""
    out = b""
    for ino, (name, (data, perms)) in enumerate(sorted(files.items()), start=1):
        out += _cpio_entry(name.lstrip("/"), data, 0o100000 | perms, ino)
    return out + _cpio_entry("TRAILER!!!", b"", 0, 0)


def initrd_with(files: dict[str, tuple[bytes, int]], out: Path) -> Path:
    """The tiny guest's initramfs followed by a second (gzipped) archive with `files`; the
    kernel unpacks both in order, so these files are added to (or replace) the guest's."""
    built = guest_files()
    assert built is not None
    base = built[1].read_bytes()
    padding = b"\0" * (-len(base) % 4)
    out.write_bytes(base + padding + gzip.compress(cpio_archive(files)))
    return out


# ----------------------------------------------------------------------------- the shell
class GuestShell:
    """root's shell on the guest's ttyS0, reached through pybmc's console socket."""

    def __init__(self, tap: SerialTap) -> None:
        self.tap = tap

    def boot_and_login(self, since: int = 0, timeout: float = 120.0) -> int:
        """Wait for the guest's READY line after offset `since`, log in; returns the offset
        of the READY line."""
        ready = self.tap.wait_for("TINYGUEST READY", since=since, timeout=timeout)
        self.tap.wait_for("login: ", since=ready, timeout=30)
        mark = self.tap.mark()
        self.tap.send(b"root\r")
        self.tap.wait_for("# ", since=mark, timeout=15)
        return ready

    def run(self, command: str, timeout: float = 60.0) -> tuple[int, str]:
        """Run one command line; (exit status, its output)."""
        mark = self.tap.mark()
        self.tap.send(command.encode() + b'; echo "RC=$?"\r')
        end = self.tap.wait_for("\nRC=", since=mark, timeout=timeout)
        deadline = time.monotonic() + 5
        while not re.match(rb"\d+\r?\n", bytes(self.tap.data[end:])):
            assert time.monotonic() < deadline, "exit status not printed"
            time.sleep(0.02)
        status = int(re.match(rb"\d+", bytes(self.tap.data[end:])).group())  # type: ignore
        text = self.tap.data[mark:end - len("\nRC=")].decode(errors="replace")
        lines = text.replace("\r", "").split("\n")
        return status, "\n".join(lines[1:])  # without the echoed command line


# ----------------------------------------------------------------------------- the BMC
class GuestBmc:
    """One `pybmc serve` process with one QEMU-backed BMC running the tiny guest."""

    def __init__(self, process: BmcProcess, config: dict[str, Any]) -> None:
        self.process = process
        self.config = config
        parsed = parse_config(config)
        self.run_dir = run_dir(parsed)
        self.console = SerialTap(console_socket(parsed))
        self.shell = GuestShell(self.console)

    @property
    def pid(self) -> int | None:
        pid = pid_from_run_dir(self.run_dir)
        return pid if pid is not None and process_start_time(pid) is not None else None

    def power_status(self, **login: str) -> str:
        return self.process.ipmitool("chassis", "power", "status", **login).stdout.strip()

    def wait_power(self, on: bool, timeout: float = 30.0, **login: str) -> None:
        wanted = "Chassis Power is on" if on else "Chassis Power is off"
        assert wait_until(lambda: self.power_status(**login) == wanted, timeout, 0.3), \
            f"power did not turn {'on' if on else 'off'}:\n{self.process.log()[-3000:]}"


def guest_qemu_args(initrd: Path | None = None, memory: int = 256,
                    extra: tuple[str, ...] = ()) -> list[str]:
    """The tiny guest without an accelerator: pybmc picks KVM or TCG itself (unless
    PYBMC_TEST_ACCEL forces one)."""
    built = guest_files()
    assert built is not None
    kernel, base_initrd = built
    args = ["-machine", "pc", "-m", str(memory), "-nodefaults",
            "-kernel", str(kernel), "-initrd", str(initrd or base_initrd),
            "-append", "console=ttyS0,115200 panic=-1 quiet", *extra]
    forced = os.environ.get("PYBMC_TEST_ACCEL")
    return ["-accel", forced, *args] if forced else args


@pytest.fixture
def guest_bmc(bmc_factory: Any, tmp_path: Path) -> Iterator[Callable[..., GuestBmc]]:
    """Make (and always clean up) QEMU-backed BMCs: `guest_bmc(args, **config sections)`."""
    made: list[GuestBmc] = []

    def make(args: list[str], stop_vms_on_exit: bool = True, **sections: Any) -> GuestBmc:
        name = f"g{len(made) + 1}"
        qemu = {"args": args, **sections.pop("qemu", {})}
        config = base_config(name, next_address(), tmp_path / name,
                             power={"backend": "qemu", "cycle_interval": 0.5},
                             qemu=qemu, **sections)
        extra_args = ["--stop-vms-on-exit"] if stop_vms_on_exit else []
        process = bmc_factory(configs=[config], extra_args=extra_args)
        made.append(GuestBmc(process, config))
        return made[-1]

    yield make
    for bmc in made:
        bmc.console.close()
        bmc.process.stop()
        kill_from_run_dir(bmc.run_dir)
