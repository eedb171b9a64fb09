"""What the host offers QEMU, probed once per process: whether KVM runs guests at speed, and
the QEMU version (the in-band chardev option changed name in 9.2)."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import re
import signal

from pybmc.edge.power.process import describe_exit

log = logging.getLogger("pybmc.power")

KVM_GET_API_VERSION = 0xAE00
KVM_CREATE_VM = 0xAE01
# Under a working KVM, SeaBIOS gets from reset to "No bootable device." (an empty machine) in
# well under a second; under TCG in about 0.1 s. Nested setups where /dev/kvm opens but every
# VM exit is slow (e.g. kvm_pvm) take 3 s or more, and iPXE then hangs: TCG is better there.
KVM_PROBE_TIMEOUT = 1.5
KVM_PROBE_DONE = b"No bootable device"
_KVM_WORKS: dict[str, bool] = {}
_KVM_PROBING: dict[str, asyncio.Future[bool]] = {}


def kvm_device_usable() -> bool:
    """Whether /dev/kvm opens and can create a VM (what QEMU's KVM init does first)."""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        if fcntl.ioctl(fd, KVM_GET_API_VERSION, 0) != 12:
            return False
        os.close(fcntl.ioctl(fd, KVM_CREATE_VM, 0))
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def kvm_probe_argv(binary: str) -> list[str]:
    """An empty machine whose SeaBIOS writes its debug log (I/O port 0x402) to stdout."""
    return [binary, "-accel", "kvm", "-machine", "q35", "-m", "32", "-nodefaults",
            "-no-user-config", "-display", "none", "-chardev", "stdio,id=pybmc-probe",
            "-device", "isa-debugcon,iobase=0x402,chardev=pybmc-probe"]


async def kvm_works(binary: str, timeout: float = KVM_PROBE_TIMEOUT) -> bool:
    """Whether KVM really runs guests at speed here: once per QEMU binary and process (the
    first caller probes, concurrent callers wait for it), and the choice is logged."""
    if binary in _KVM_WORKS:
        return _KVM_WORKS[binary]
    loop = asyncio.get_running_loop()
    pending = _KVM_PROBING.get(binary)
    if pending is not None and pending.get_loop() is loop and not pending.done():
        return await asyncio.shield(pending)
    future: asyncio.Future[bool] = loop.create_future()
    _KVM_PROBING[binary] = future
    try:
        works, why = await _probe_kvm(binary, timeout)
        _KVM_WORKS[binary] = works
        log.info("accelerator for %s: %s (%s)", binary, "KVM" if works else "TCG", why)
        future.set_result(works)
        return works
    finally:
        if not future.done():
            future.set_result(False)
        _KVM_PROBING.pop(binary, None)


async def _probe_kvm(binary: str, timeout: float) -> tuple[bool, str]:
    """(works, why): the device test first, then SeaBIOS must finish POST within `timeout`."""
    if not kvm_device_usable():
        return False, "/dev/kvm is missing or cannot create a VM"
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        proc = await asyncio.create_subprocess_exec(
            *kvm_probe_argv(binary), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True)
    except OSError as err:
        return False, f"cannot run {binary}: {err.strerror or err}"
    assert proc.stdout is not None
    seen = b""
    try:
        # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow a cancellation.
        async with asyncio.timeout_at(started + timeout):
            while KVM_PROBE_DONE not in seen:
                chunk = await proc.stdout.read(4096)
                if not chunk:
                    return False, f"QEMU with KVM exited ({describe_exit(await proc.wait())})"
                seen = seen[-64:] + chunk
    except TimeoutError:
        return False, (f"/dev/kvm works but SeaBIOS did not finish POST within {timeout:g}s "
                       "(nested or slow KVM)")
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # our own probe's session, by its id
            await proc.wait()
    return True, f"SeaBIOS finished POST in {loop.time() - started:.2f}s"


_VERSIONS: dict[str, tuple[int, int, int] | None] = {}


async def qemu_version(binary: str, timeout: float = 10.0) -> tuple[int, int, int] | None:
    """`binary --version` as (major, minor, micro), cached per binary; None if unknown."""
    if binary in _VERSIONS:
        return _VERSIONS[binary]
    version = None
    try:
        proc = await asyncio.create_subprocess_exec(
            binary, "--version", stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            out = b""
        match = re.search(rb"version (\d+)\.(\d+)\.(\d+)", out)
        if match:
            version = (int(match[1]), int(match[2]), int(match[3]))
    except OSError:
        return None  # not cached: the binary may appear later
    _VERSIONS[binary] = version
    return version
