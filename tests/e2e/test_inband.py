"""In-band IPMI with a real QEMU: a tiny Linux guest's ipmi_si/ipmitool/ipmi_watchdog reach pybmc
through ipmi-bmc-extern + isa-ipmi-kcs and the InBandServer.

The BMC runs in this test process (no `pybmc serve`); its power backend forwards to the VM link,
so watchdog actions really reset the guest. The guest comes from tests/guest/build_guest.sh
(cached outside the repository). TCG works; KVM is used when a short probe shows it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pybmc.config.bmc import parse_config
from pybmc.core.bmc import Bmc
from pybmc.edge.inband import InBandServer
from pybmc.edge.timer import BmcTimer
from pybmc.model.power import PowerAction, PowerListener, Untimed

pytestmark = [pytest.mark.qemu, pytest.mark.e2e]

QEMU = shutil.which("qemu-system-x86_64")
REPO = Path(__file__).resolve().parents[2]
ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture(scope="session")
def guest_dir() -> Path:
    if QEMU is None:
        pytest.skip("qemu-system-x86_64 is not installed")
    try:
        out = subprocess.run(["sh", str(REPO / "tests/guest/build_guest.sh")], check=True,
                             capture_output=True, text=True, timeout=900)
    except (subprocess.SubprocessError, OSError) as err:
        pytest.skip(f"cannot build the test guest: {err}")
    return Path(out.stdout.strip().splitlines()[-1])


def _kvm_runs(guest_dir: Path, timeout: float = 5.0) -> bool:
    """/dev/kvm can exist and still hang (broken nested virtualization): see the kernel talk."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    assert QEMU is not None
    proc = subprocess.Popen(
        [QEMU, "-machine", "q35,accel=kvm", "-m", "128", "-display", "none", "-nodefaults",
         "-no-user-config", "-no-reboot", "-kernel", str(guest_dir / "vmlinuz"),
         "-append", "console=ttyS0 panic=-1", "-serial", "stdio"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()  # by PID: the probe's own QEMU
        out, _ = proc.communicate()
    return b"Linux version" in out


@pytest.fixture(scope="session")
def accel(guest_dir: Path) -> str:
    wanted = os.environ.get("PYBMC_TEST_ACCEL")
    if wanted:
        return wanted
    return "kvm" if _kvm_runs(guest_dir) else "tcg"


class VmLinkPower(Untimed):
    """A power backend that acts through the VM link, as ipmi_sim's VM codec does."""

    def __init__(self) -> None:
        self.server: InBandServer | None = None
        self.requests: list[PowerAction] = []

    def is_on(self) -> bool:
        return True

    def request(self, action: PowerAction, cause: str | None = None) -> None:
        assert self.server is not None
        self.requests.append(action)
        send = {PowerAction.RESET: self.server.send_reset,
                PowerAction.CYCLE: self.server.send_reset,
                PowerAction.OFF: self.server.send_power_off,
                PowerAction.SOFT_OFF: self.server.send_graceful_shutdown,
                PowerAction.DIAG: self.server.send_nmi}.get(action)
        if send is not None:
            send()

    def set_listener(self, listener: PowerListener) -> None:
        return None

    async def start(self) -> None:
        return None

    async def stop(self, leave_running: bool = True) -> None:
        return None


class GuestConsole:
    """The guest's ttyS0 over a unix socket: wait for text, log in, run shell commands."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.buffer = b""
        self.transcript = b""

    async def expect(self, pattern: bytes, timeout: float) -> bytes:
        """Everything up to and including the first match; raises TimeoutError."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (match := re.search(pattern, self.buffer)) is None:
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError(f"{pattern!r} not seen; last output:\n"
                                   f"{self.transcript[-1500:].decode(errors='replace')}")
            with contextlib.suppress(TimeoutError):
                data = await asyncio.wait_for(self.reader.read(65536), left)
                if not data:
                    raise EOFError("the guest's serial port closed")
                data = ANSI.sub(b"", data)
                self.buffer += data
                self.transcript += data
        seen, self.buffer = self.buffer[:match.end()], self.buffer[match.end():]
        return seen

    async def login(self, timeout: float = 90) -> None:
        await self.expect(rb"TINYGUEST READY[^\n]*\n", timeout)
        await self.expect(rb"login: ", 30)
        self.writer.write(b"root\r")
        await self.expect(rb"# ", 15)

    async def run(self, command: str, timeout: float = 60) -> tuple[int, str]:
        """Run one shell command; returns (exit status, output without the echoed line)."""
        self.writer.write(command.encode() + b'; echo "RC=$?"\r')
        seen = await self.expect(rb"\nRC=(\d+)", timeout)
        status = int(re.search(rb"RC=(\d+)$", seen).group(1))  # type: ignore[union-attr]
        lines = seen.decode(errors="replace").replace("\r", "").split("\n")
        return status, "\n".join(lines[1:-1])


@dataclass
class Vm:
    bmc: Bmc
    server: InBandServer
    power: VmLinkPower
    console: GuestConsole


@pytest.fixture
def short_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="pbq", dir="/tmp"))  # unix socket paths < 108 bytes
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
async def vm(guest_dir: Path, accel: str, short_dir: Path) -> AsyncIterator[Vm]:
    assert QEMU is not None
    power = VmLinkPower()
    bmc = Bmc(parse_config({"bmc": {"name": "guest", "address": "127.0.0.2",
                                    "state_dir": str(short_dir / "state")}}), power=power)
    server = InBandServer(bmc, short_dir / "ipmi.sock")
    power.server = server
    timer = BmcTimer(bmc)  # the BMC's one timer, armed after in-band requests as the edge does
    server.after_input = timer.arm
    await server.start()
    serial = short_dir / "ttyS0.sock"
    args = [QEMU, "-machine", f"q35,accel={accel}", "-m", "256", "-display", "none",
            "-nodefaults", "-no-user-config",
            "-kernel", str(guest_dir / "vmlinuz"), "-initrd", str(guest_dir / "initrd.cpio.gz"),
            "-append", "console=ttyS0,115200 panic=-1",
            "-chardev", f"socket,id=ser0,path={serial},server=on,wait=on",
            "-serial", "chardev:ser0", *server.qemu_args()]
    log_path = short_dir / "qemu.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(args, stdout=log_file, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    writer: asyncio.StreamWriter | None = None
    try:
        for _ in range(200):
            if serial.exists() or proc.poll() is not None:
                break
            await asyncio.sleep(0.05)
        if proc.poll() is not None:
            pytest.fail(f"QEMU exited at once:\n{log_path.read_text(errors='replace')}")
        reader, writer = await asyncio.open_unix_connection(str(serial))
        assert await server.wait_connected(15), "QEMU never connected to the in-band socket"
        yield Vm(bmc, server, power, GuestConsole(reader, writer))
    finally:
        proc.kill()  # by PID, the one process this fixture started
        proc.wait()
        if writer is not None:
            writer.close()
        timer.cancel()
        await server.stop()


async def test_guest_sees_the_bmc_through_kcs(vm: Vm):
    console = vm.console
    assert vm.server.capabilities == 0x3F
    await console.login()
    status, dmesg = await console.run("dmesg | grep -i ipmi")
    assert status == 0
    assert "IPMI kcs interface initialized" in dmesg
    assert "Found new BMC" in dmesg
    status, info = await console.run("ipmitool mc info")
    assert status == 0, info
    assert re.search(r"IPMI Version\s+: 2\.0", info)
    assert re.search(r"Device Available\s+: yes", info)
    # The driver enabled the receive-message interrupt through Set BMC Global Enables.
    assert vm.bmc.state.global_enables & 0x01
    status, out = await console.run("ipmitool mc watchdog reset")
    assert status != 0 and "uninitialized" in out.lower(), out
    status, out = await console.run("ipmitool mc watchdog off")
    assert status == 0, out
    status, out = await console.run("ipmitool mc watchdog get")
    assert status == 0, out
    assert re.search(r"Watchdog Timer Is:\s+Stopped", out)
    assert re.search(r"Initial Countdown:\s+300\.0 sec", out)
    status, out = await console.run("ipmitool mc watchdog reset && ipmitool mc watchdog get")
    assert status == 0, out
    assert re.search(r"Watchdog Timer Is:\s+Started/Running", out)
    status, out = await console.run("ipmitool mc watchdog off")
    assert status == 0, out
    assert vm.power.requests == []


async def test_linux_watchdog_nmi_and_reset(vm: Vm):
    console, power = vm.console, vm.power
    await console.login()
    # preaction=pre_nmi makes the driver test the NMI at load: it must arrive within ~1.5 s.
    status, out = await console.run(
        "insmod /lib/modules/ipmi_watchdog.ko timeout=5 pretimeout=2 preaction=pre_nmi"
        " && dmesg | grep -i 'ipmi.*nmi\\|watchdog'")
    assert status == 0, out
    assert "didn't seem to occur" not in out, out
    assert power.requests == [PowerAction.DIAG]
    # Open and close /dev/watchdog without the magic 'V': the timer keeps running.
    status, out = await console.run("echo 1 > /dev/watchdog; ipmitool mc watchdog get")
    assert status == 0, out
    assert re.search(r"Watchdog Timer Is:\s+Started/Running", out)
    assert re.search(r"Watchdog Timer Action:\s+Hard Reset", out)
    assert re.search(r"Pre-timeout interrupt:\s+NMI/Diagnostic", out)
    # Nobody pings it: pre-timeout NMI after 3 s, then the BMC resets the guest at 5 s.
    await console.expect(rb"TINYGUEST READY", 90)
    assert power.requests == [PowerAction.DIAG, PowerAction.DIAG, PowerAction.RESET]
    await console.expect(rb"login: ", 30)
    console.writer.write(b"root\r")
    await console.expect(rb"# ", 15)
    status, out = await console.run("ipmitool mc watchdog get")
    assert status == 0, out
    assert re.search(r"Watchdog Timer Is:\s+Stopped", out)
    assert re.search(r"\* SMS/OS", out), "the SMS/OS expiration flag survives the reset"
