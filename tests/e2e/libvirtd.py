"""A private libvirt daemon and TCG test domains for the libvirt backend's e2e tests.

The daemon is started without systemd (`virtlogd -d`, `libvirtd -d`), its PIDs are read from
pid files this module chooses, and only those PIDs are stopped afterwards. Domains are
`type='qemu'` (TCG) and boot the tiny test guest (tests/guest/build_guest.sh) by kernel+initrd
with a serial console on ttyS0. Everything goes through `virsh`, so the fixture itself does not
need libvirt-python.

Use from a test module:

    from tests.e2e.libvirtd import libvirtd, libvirt_domain  # noqa: F401  (fixtures)

    def test_x(libvirt_domain):
        dom = libvirt_domain("pybmc-t1")          # defined, shut off; undefined afterwards
        dom.virsh("start", dom.name); dom.state()  # -> "running"
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.guest.vm import guest_files, require_guest, wait_until

URI = "qemu:///system"
LIBVIRTD = shutil.which("libvirtd") or "/usr/sbin/libvirtd"
VIRTLOGD = shutil.which("virtlogd") or "/usr/sbin/virtlogd"
VIRSH = shutil.which("virsh")
PID_DIR = Path("/tmp/pybmc-libvirtd")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def virsh(*args: str, uri: str = URI, check: bool = True,
          timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    assert VIRSH is not None
    return subprocess.run([VIRSH, "-c", uri, *args], capture_output=True, text=True,
                          check=check, timeout=timeout)


@dataclass
class LibvirtDaemon:
    """virtlogd + libvirtd started by this test run (PIDs recorded, stopped by PID)."""

    uri: str = URI
    pids: dict[str, int] = field(default_factory=dict)

    def start(self, timeout: float = 30.0) -> LibvirtDaemon:
        PID_DIR.mkdir(parents=True, exist_ok=True)
        for name, binary in (("virtlogd", VIRTLOGD), ("libvirtd", LIBVIRTD)):
            pid_file = PID_DIR / f"{name}.pid"
            subprocess.run([binary, "-d", "-p", str(pid_file)], check=True, timeout=timeout)
            assert wait_until(lambda p=pid_file: _read_pid(p) is not None, timeout, 0.1), \
                f"{name} wrote no pid file"
            self.pids[name] = _read_pid(pid_file)  # type: ignore[assignment]
        assert wait_until(self.answers, timeout, 0.2), "libvirtd does not answer"
        return self

    def answers(self) -> bool:
        return virsh("version", uri=self.uri, check=False, timeout=10).returncode == 0

    def stop_libvirtd(self, timeout: float = 20.0) -> None:
        """Stop only libvirtd (QEMU processes keep running), e.g. to test reconnection."""
        pid = self.pids.pop("libvirtd", None)
        if pid is not None:
            _terminate(pid, timeout)

    def restart_libvirtd(self, timeout: float = 30.0) -> None:
        self.stop_libvirtd()
        pid_file = PID_DIR / "libvirtd.pid"
        subprocess.run([LIBVIRTD, "-d", "-p", str(pid_file)], check=True, timeout=timeout)
        assert wait_until(lambda: _read_pid(pid_file) is not None, timeout, 0.1)
        self.pids["libvirtd"] = _read_pid(pid_file)  # type: ignore[assignment]
        assert wait_until(self.answers, timeout, 0.2), "libvirtd does not answer after restart"

    def stop(self) -> None:
        for name in ("libvirtd", "virtlogd"):
            pid = self.pids.pop(name, None)
            if pid is not None:
                _terminate(pid, 20.0)


def _terminate(pid: int, timeout: float) -> None:
    if not _alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    if not wait_until(lambda: not _alive(pid), timeout, 0.1):
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not _alive(pid), 5.0, 0.1)


def domain_xml(name: str, kernel: Path, initrd: Path, memory_mib: int = 256,
               boot: str = "os", domain_uuid: str | None = None) -> str:
    """A TCG domain booting kernel+initrd, serial console on ttyS0, one disk-less NIC-less
    machine. `boot="os"` uses `<os><boot dev>`, `boot="device"` per-device `<boot order>`
    (libvirt refuses a mix of the two), so both rewrite paths can be tested."""
    os_boot = "<boot dev='hd'/><boot dev='network'/>" if boot == "os" else ""
    disk_boot = "<boot order='1'/>" if boot == "device" else ""
    return f"""<domain type='qemu'>
  <name>{name}</name>
  <uuid>{domain_uuid or uuid.uuid4()}</uuid>
  <memory unit='MiB'>{memory_mib}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{kernel}</kernel>
    <initrd>{initrd}</initrd>
    <cmdline>console=ttyS0,115200 panic=-1 quiet</cmdline>
    {os_boot}
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <target dev='hdc' bus='ide'/>
      <readonly/>
      {disk_boot}
    </disk>
    <serial type='pty'><target port='0'/></serial>
    <console type='pty'><target type='serial' port='0'/></console>
    <memballoon model='none'/>
  </devices>
</domain>
"""


@dataclass
class TestDomain:
    name: str
    uri: str

    def virsh(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return virsh(*args, uri=self.uri, check=check)

    def state(self) -> str:
        """`virsh domstate`: "running", "shut off", "paused", ..."""
        return self.virsh("domstate", self.name).stdout.strip()

    def xml(self, inactive: bool = False) -> str:
        args = ["dumpxml", self.name] + (["--inactive"] if inactive else [])
        return self.virsh(*args).stdout

    def wait_state(self, wanted: str, timeout: float = 30.0) -> None:
        assert wait_until(lambda: self.state() == wanted, timeout, 0.2), \
            f"{self.name} is {self.state()!r}, not {wanted!r}"


@pytest.fixture(scope="session")
def libvirtd() -> Iterator[LibvirtDaemon]:
    if VIRSH is None or not os.path.exists(LIBVIRTD) or not os.path.exists(VIRTLOGD):
        pytest.skip("libvirt-daemon-system / libvirt-clients are not installed")
    if os.geteuid() != 0:
        pytest.skip("the private libvirt daemon needs root")
    running = _read_pid(Path("/run/libvirtd.pid"))
    if running is not None and _alive(running):
        # A daemon this run did not start: use it, never stop it.
        yield LibvirtDaemon()
        return
    daemon = LibvirtDaemon().start()
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture
def libvirt_domain(libvirtd: LibvirtDaemon) -> Iterator[Callable[..., TestDomain]]:
    """Factory: `libvirt_domain(name, boot="os"|"device")` defines a shut-off TCG domain;
    every domain made is destroyed and undefined at teardown."""
    require_guest()
    built = guest_files()
    assert built is not None
    kernel, initrd = built
    made: list[TestDomain] = []

    def make(name: str, boot: str = "os", memory_mib: int = 256) -> TestDomain:
        virsh("destroy", name, uri=libvirtd.uri, check=False)
        virsh("undefine", name, "--nvram", uri=libvirtd.uri, check=False)
        xml_path = PID_DIR / f"{name}.xml"
        PID_DIR.mkdir(parents=True, exist_ok=True)
        xml_path.write_text(domain_xml(name, kernel, initrd, memory_mib, boot))
        virsh("define", str(xml_path), uri=libvirtd.uri, timeout=120)
        dom = TestDomain(name, libvirtd.uri)
        made.append(dom)
        return dom

    yield make
    for dom in made:
        virsh("destroy", dom.name, uri=libvirtd.uri, check=False)
        virsh("undefine", dom.name, uri=libvirtd.uri, check=False)
