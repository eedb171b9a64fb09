"""Test helpers for real QEMU: the tiny guest, an accelerator that works here, a firmware-only
VM whose SeaBIOS debug console tells which device it booted first, a serial console tap, and
cleanup of every QEMU a test started, by its pid file (never by name).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

QEMU = shutil.which("qemu-system-x86_64")
BUILD_SCRIPT = Path(__file__).with_name("build_guest.sh")
GUEST_CACHE = Path(os.environ.get("PYBMC_GUEST_CACHE", "/var/tmp/pybmc-guest"))
BOOT_LINE = re.compile(r"Booting from (Hard Disk|ROM|DVD/CD|Floppy)")
BANNER = "SeaBIOS (version"

_accel: list[str] | None = None
_guest: tuple[Path, Path] | None = None
guest_build_error: str | None = None


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def accel_args() -> list[str]:
    """-accel kvm if a short KVM boot really works here, else -accel tcg (cached).
    PYBMC_TEST_ACCEL=tcg|kvm forces one."""
    global _accel
    forced = os.environ.get("PYBMC_TEST_ACCEL")
    if forced:
        return ["-accel", forced]
    if _accel is None:
        _accel = ["-accel", "kvm"] if QEMU and _kvm_boots() else ["-accel", "tcg"]
    return _accel


def _kvm_boots() -> bool:
    """The same probe pybmc's QEMU backend uses: SeaBIOS must finish POST quickly under KVM
    (some nested setups open /dev/kvm fine and then crawl through firmware code)."""
    from pybmc.edge.power.qemu_probe import kvm_works

    # In a thread of its own: callers may already be inside a running event loop.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, kvm_works(QEMU or "qemu-system-x86_64")).result()


def guest_files() -> tuple[Path, Path] | None:
    """(vmlinuz, initrd) of the tiny guest, built into the cache once; None if it cannot be
    (see `guest_build_error`)."""
    global _guest, guest_build_error
    if _guest is None and guest_build_error is None:
        try:
            result = subprocess.run(["sh", str(BUILD_SCRIPT)], capture_output=True, text=True,
                                    timeout=900, env={**os.environ,
                                                      "PYBMC_GUEST_CACHE": str(GUEST_CACHE)})
        except subprocess.TimeoutExpired:
            guest_build_error = "build_guest.sh timed out"
            return None
        if result.returncode != 0:
            guest_build_error = result.stderr.strip() or f"exit status {result.returncode}"
            return None
        cache = Path(result.stdout.strip().splitlines()[-1])
        _guest = (cache / "vmlinuz", cache / "initrd.cpio.gz")
    return _guest


def require_guest() -> None:
    """Skip without the tiny guest; in CI (CI=true) a guest that cannot be built fails."""
    import pytest

    if guest_files() is not None:
        return
    message = f"the tiny guest cannot be built: {guest_build_error}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def tiny_guest_args(memory: int = 256) -> list[str]:
    files = guest_files()
    assert files is not None
    kernel, initrd = files
    return ["-machine", "pc", "-m", str(memory), "-nodefaults", *accel_args(),
            "-kernel", str(kernel), "-initrd", str(initrd),
            "-append", "console=ttyS0,115200 panic=-1 quiet"]


def firmware_vm_args(workdir: Path, nic: bool = True,
                     reboot_timeout: int | None = None) -> tuple[list[str], Path]:
    """A VM with a blank disk, an empty CD drive, optionally an e1000 NIC (iPXE ROM, "ROM" in
    SeaBIOS's log), and SeaBIOS's debug console in a file: the args and the file's path.

    With reboot_timeout (ms) SeaBIOS, having found nothing to boot, reboots by itself: a
    guest-initiated reset. Without a NIC that takes well under a second per boot under TCG;
    iPXE alone takes ~7 s to give up."""
    disk = workdir / "blank.raw"
    with disk.open("wb") as handle:
        handle.truncate(1024 * 1024)
    debugcon = workdir / "debugcon.log"
    args = ["-machine", "pc", "-m", "64", "-nodefaults", *accel_args(),
            "-drive", f"file={disk},format=raw,if=ide,index=0",
            "-drive", "if=ide,media=cdrom,index=2",
            "-chardev", f"file,id=dbg,path={debugcon},append=on",
            "-device", "isa-debugcon,iobase=0x402,chardev=dbg"]
    if nic:
        args += ["-netdev", "user,id=n0", "-device", "e1000,netdev=n0"]
    if reboot_timeout is not None:
        args += ["-boot", f"reboot-timeout={reboot_timeout}"]
    return args, debugcon


class DebugConsole:
    """SeaBIOS's debug output: which device each boot tried first."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def text(self) -> str:
        try:
            return self.path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def mark(self) -> int:
        return len(self.text())

    def first_boot_device(self, since: int, timeout: float = 30.0) -> str:
        """The first "Booting from X" of the first boot that starts after offset `since`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.text()[since:]
            banner = text.find(BANNER)
            if banner >= 0:
                match = BOOT_LINE.search(text, banner)
                if match:
                    return match.group(1)
            time.sleep(0.1)
        raise AssertionError(f"no boot after offset {since} in {timeout}s:\n"
                             f"{self.text()[since:][-2000:]}")

    def boots_since(self, since: int) -> list[str]:
        """The first device of every boot after `since` (POSTs with a boot attempt)."""
        devices = []
        for chunk in self.text()[since:].split(BANNER)[1:]:
            match = BOOT_LINE.search(chunk)
            if match:
                devices.append(match.group(1))
        return devices


class SerialTap:
    """Reads a QEMU serial socket in a thread, reconnecting when QEMU restarts."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.data = bytearray()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.connect(self.path)
            except OSError:
                sock.close()
                time.sleep(0.05)
                continue
            self._sock = sock
            sock.settimeout(0.2)
            with sock:
                while not self._stop.is_set():
                    try:
                        chunk = sock.recv(65536)
                    except TimeoutError:
                        continue
                    except OSError:
                        break
                    if not chunk:
                        break
                    with self._lock:
                        self.data.extend(chunk)
            self._sock = None

    def text(self) -> str:
        with self._lock:
            return self.data.decode(errors="replace")

    def mark(self) -> int:
        with self._lock:
            return len(self.data)

    def wait_for(self, needle: str, since: int = 0, timeout: float = 60.0) -> int:
        """Offset just after `needle` once it appears after `since`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                found = self.data.find(needle.encode(), since)
            if found >= 0:
                return found + len(needle)
            time.sleep(0.05)
        raise AssertionError(f"{needle!r} not seen on the serial console in {timeout}s; "
                             f"last output: {self.text()[-1500:]!r}")

    def send(self, data: bytes) -> None:
        sock = self._sock
        if sock is None:
            raise AssertionError("serial console not connected")
        sock.sendall(data)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)


def pid_from_run_dir(run_dir: Path, name: str = "qemu.pid") -> int | None:
    try:
        return int(json.loads((run_dir / name).read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return None


def kill_from_run_dir(run_dir: Path) -> None:
    """Kill the QEMU (or command) a test's pybmc left behind, by its recorded pid."""
    for name in ("qemu.pid", "command.pid"):
        pid = pid_from_run_dir(run_dir, name)
        if pid is not None and _is_process_started_from(pid, run_dir):
            _kill(pid)


def _is_process_started_from(pid: int, run_dir: Path) -> bool:
    """Guard against a reused pid: the command line must mention the run directory, or the
    process must be in its own session (as pybmc starts machines)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return str(run_dir).encode() in cmdline or os.getsid(pid) == pid


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


@contextlib.contextmanager
def short_tmp_dir(prefix: str = "pybmc-t-") -> Iterator[Path]:
    """A short directory for sockets (pytest's tmp_path can exceed the 108-byte limit)."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
