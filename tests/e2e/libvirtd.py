"""A private libvirt daemon and TCG test domains for the libvirt backend's e2e tests.

What it does, so that nothing outside its own directory changes:

- Everything lives in one fresh directory `/tmp/pblv-XXXXXX` (short: unix socket paths):
  `etc/` (libvirtd.conf, qemu.conf, virtlogd.conf, domain definitions), `run/` (`/run`),
  `lib/`, `cache/`, `log/`, `sock/` (libvirtd's sockets) and the pid files.
- `virtlogd -d` and `libvirtd -d` are started without systemd inside a private mount
  namespace (`unshare --mount --propagation private`) in which those directories are bind
  mounted over `/etc/libvirt`, `/run`, `/var/lib/libvirt`, `/var/cache/libvirt` and
  `/var/log/libvirt`. The host's libvirt configuration and state are not read or written, and
  a host libvirtd (running or not) is never touched: ours listens on
  `sock/libvirt-sock`, so the URI is `qemu:///system?socket=/tmp/pblv-XXXXXX/sock/libvirt-sock`
  (`LibvirtDaemon.uri`). No network is defined, so libvirt creates no bridge.
- The private qemu.conf runs QEMU as root (`user = "root"`, `group = "root"`) with no
  security driver, cgroups or per-domain namespaces. With `/dev/kvm` mode 0600 and QEMU as
  `libvirt-qemu`, libvirt would re-probe QEMU on every define (~32 s); as root the
  capabilities probe happens once per daemon. It also means QEMU can open any unix socket a
  test makes (the in-band socket of `pybmc libvirt attach`).
- The daemons write their pid files (`libvirtd -p`, `virtlogd -p`) into the directory; only
  those PIDs are stopped (SIGTERM, then SIGKILL), after every QEMU this daemon still runs
  (`run/libvirt/qemu/*.pid`) is killed. The mount namespace goes away with its last process;
  the directory is removed.
- `restart_libvirtd()` stops libvirtd only (QEMU keeps running) and starts it again in the
  same namespace (`nsenter --mount` via virtlogd), to test reconnection.

Domains are `type='qemu'` (TCG) and boot the tiny test guest (tests/guest/build_guest.sh) by
kernel+initrd with a serial console on ttyS0. The fixture itself drives everything through
`virsh`, so it does not need libvirt-python.

Use from a test module:

    from tests.e2e.libvirtd import libvirtd, libvirt_domain  # noqa: F401  (fixtures)

    def test_x(libvirt_domain):
        dom = libvirt_domain("pybmc-t1")          # defined, shut off; undefined afterwards
        dom.virsh("start", dom.name); dom.state()  # -> "running"
        dom.uri                                    # for [libvirt] uri
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.guest.vm import guest_files, require_guest, wait_until

LIBVIRTD = shutil.which("libvirtd") or "/usr/sbin/libvirtd"
VIRTLOGD = shutil.which("virtlogd") or "/usr/sbin/virtlogd"
VIRSH = shutil.which("virsh")
UNSHARE = shutil.which("unshare")
NSENTER = shutil.which("nsenter")
# QEMU capabilities probed by an earlier daemon (libvirt re-probes if they are stale): saves
# the ~8 s probe at each daemon start.
CAPS_CACHE = Path(os.environ.get("PYBMC_LIBVIRT_CACHE", "/var/tmp/pybmc-libvirt-cache"))

# (directory in the private tree, where it is bind mounted inside the daemon's namespace)
_BINDS = (("etc", "/etc/libvirt"), ("run", "/run"), ("lib", "/var/lib/libvirt"),
          ("cache", "/var/cache/libvirt"), ("log", "/var/log/libvirt"))

QEMU_CONF = """\
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
"""


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


def _is_qemu(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().startswith("qemu")
    except OSError:
        return False


def _terminate(pid: int, timeout: float, sig: int = signal.SIGTERM) -> None:
    if not _alive(pid):
        return
    os.kill(pid, sig)
    if not wait_until(lambda: not _alive(pid), timeout, 0.05):
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not _alive(pid), 5.0, 0.05)


def virsh(*args: str, uri: str, check: bool = True,
          timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    assert VIRSH is not None
    result = subprocess.run([VIRSH, "-c", uri, *args], capture_output=True, text=True,
                            timeout=timeout, stdin=subprocess.DEVNULL)
    if check and result.returncode != 0:
        raise AssertionError(f"virsh {' '.join(args)} failed ({result.returncode}): "
                             f"{result.stderr.strip()}")
    return result


@dataclass
class LibvirtDaemon:
    """virtlogd + libvirtd of this test run in a private directory and mount namespace."""

    base: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="pblv-",
                                                                     dir="/tmp")))
    pids: dict[str, int] = field(default_factory=dict)

    @property
    def socket(self) -> Path:
        return self.base / "sock" / "libvirt-sock"

    @property
    def uri(self) -> str:
        return f"qemu:///system?socket={self.socket}"

    def _pid_file(self, name: str) -> Path:
        return self.base / f"{name}.pid"

    def _write_config(self) -> None:
        for sub, _ in _BINDS:
            (self.base / sub).mkdir(parents=True, exist_ok=True)
        for sub in ("sock", "run/libvirt", "run/lock", "etc/qemu"):
            (self.base / sub).mkdir(parents=True, exist_ok=True)
        etc = self.base / "etc"
        (etc / "libvirtd.conf").write_text(
            f'unix_sock_dir = "{self.base / "sock"}"\n'
            'unix_sock_group = "root"\nunix_sock_ro_perms = "0700"\n'
            'unix_sock_rw_perms = "0700"\nauth_unix_ro = "none"\nauth_unix_rw = "none"\n'
            f'log_outputs = "3:file:{self.base / "libvirtd.log"}"\n')
        (etc / "virtlogd.conf").write_text(
            f'log_outputs = "3:file:{self.base / "virtlogd.log"}"\n')
        (etc / "qemu.conf").write_text(QEMU_CONF)
        if (CAPS_CACHE / "qemu").is_dir():
            shutil.copytree(CAPS_CACHE / "qemu", self.base / "cache" / "qemu", dirs_exist_ok=True)

    def _save_caps(self) -> None:
        probed = self.base / "cache" / "qemu"
        if (CAPS_CACHE / "qemu").is_dir() or not probed.is_dir():
            return
        staging = Path(tempfile.mkdtemp(prefix="caps-", dir=CAPS_CACHE.parent))
        shutil.copytree(probed, staging / "qemu")
        try:
            staging.rename(CAPS_CACHE)
        except OSError:  # another run saved it first
            shutil.rmtree(staging, ignore_errors=True)

    def _libvirtd_cmd(self) -> str:
        return (f"exec {LIBVIRTD} -d -f {self.base / 'etc' / 'libvirtd.conf'}"
                f" -p {self._pid_file('libvirtd')}")

    def start(self, timeout: float = 30.0) -> LibvirtDaemon:
        assert UNSHARE is not None, "unshare (util-linux) is needed"
        self._write_config()
        mounts = " && ".join(f"mount --bind {self.base / sub} {target}"
                             for sub, target in _BINDS)
        script = (f"{mounts} && {VIRTLOGD} -d -f {self.base / 'etc' / 'virtlogd.conf'}"
                  f" -p {self._pid_file('virtlogd')} && {self._libvirtd_cmd()}")
        try:
            subprocess.run([UNSHARE, "--mount", "--propagation", "private", "sh", "-c", script],
                           check=True, timeout=timeout, capture_output=True)
            for name in ("virtlogd", "libvirtd"):
                self._wait_pid(name, timeout)
            assert wait_until(self.answers, timeout, 0.2), "libvirtd does not answer"
            self._save_caps()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_pid(self, name: str, timeout: float) -> None:
        pid_file = self._pid_file(name)
        assert wait_until(lambda: _read_pid(pid_file) is not None, timeout, 0.05), \
            f"{name} wrote no pid file"
        self.pids[name] = _read_pid(pid_file)  # type: ignore[assignment]

    def answers(self) -> bool:
        return virsh("version", uri=self.uri, check=False, timeout=10).returncode == 0

    def qemu_pids(self) -> list[int]:
        """PIDs of the QEMU processes this daemon runs (its private /run/libvirt/qemu)."""
        pids = (_read_pid(p) for p in (self.base / "run/libvirt/qemu").glob("*.pid")
                if p.name != "driver.pid")  # driver.pid is libvirtd's own
        return [pid for pid in pids if pid is not None and _is_qemu(pid)]

    def stop_libvirtd(self, timeout: float = 20.0) -> None:
        """Stop only libvirtd (QEMU processes keep running), e.g. to test reconnection."""
        pid = self.pids.pop("libvirtd", None)
        if pid is not None:
            _terminate(pid, timeout)
        self._pid_file("libvirtd").unlink(missing_ok=True)

    def restart_libvirtd(self, timeout: float = 30.0) -> None:
        assert NSENTER is not None
        self.stop_libvirtd()
        holder = self.pids["virtlogd"]
        subprocess.run([NSENTER, f"--mount=/proc/{holder}/ns/mnt", "sh", "-c",
                        self._libvirtd_cmd()], check=True, timeout=timeout,
                       capture_output=True)
        self._wait_pid("libvirtd", timeout)
        assert wait_until(self.answers, timeout, 0.2), "libvirtd does not answer after restart"

    def stop(self) -> None:
        for pid in self.qemu_pids():
            _terminate(pid, 5.0, signal.SIGKILL)
        # virtlogd has nothing left to write once libvirtd is gone: SIGKILL after 0.5 s
        for name, grace in (("libvirtd", 10.0), ("virtlogd", 0.5)):
            pid = self.pids.pop(name, None) or _read_pid(self._pid_file(name))
            if pid is not None:
                _terminate(pid, grace)
        shutil.rmtree(self.base, ignore_errors=True)


GUEST_CMDLINE = "console=ttyS0,115200 panic=-1 quiet"


def domain_xml(name: str, kernel: Path, initrd: Path, memory_mib: int = 256,
               boot: str = "os", domain_uuid: str | None = None,
               cmdline: str = GUEST_CMDLINE) -> str:
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
    <cmdline>{cmdline}</cmdline>
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


def require_libvirtd() -> None:
    if VIRSH is None or not os.path.exists(LIBVIRTD) or not os.path.exists(VIRTLOGD):
        pytest.skip("libvirt-daemon-system / libvirt-clients are not installed")
    if UNSHARE is None:
        pytest.skip("unshare (util-linux) is not installed")
    if os.geteuid() != 0:
        pytest.skip("the private libvirt daemon needs root")


@pytest.fixture(scope="session")
def libvirtd() -> Iterator[LibvirtDaemon]:
    require_libvirtd()
    daemon = LibvirtDaemon().start()
    try:
        yield daemon
    finally:
        daemon.stop()


def define_domain(daemon: LibvirtDaemon, name: str, boot: str = "os",
                  memory_mib: int = 256, cmdline: str = GUEST_CMDLINE) -> TestDomain:
    """Define a shut-off TCG domain booting the tiny guest (replacing one of that name)."""
    require_guest()
    built = guest_files()
    assert built is not None
    kernel, initrd = built
    virsh("destroy", name, uri=daemon.uri, check=False)
    virsh("undefine", name, uri=daemon.uri, check=False)
    xml_path = daemon.base / f"{name}.xml"
    xml_path.write_text(domain_xml(name, kernel, initrd, memory_mib, boot, cmdline=cmdline))
    virsh("define", str(xml_path), uri=daemon.uri, timeout=120)
    return TestDomain(name, daemon.uri)


@pytest.fixture
def libvirt_domain(libvirtd: LibvirtDaemon) -> Iterator[Callable[..., TestDomain]]:
    """Factory: `libvirt_domain(name, boot="os"|"device", cmdline=...)` defines a shut-off TCG
    domain (kernel command line `cmdline`, quiet by default);
    every domain made is destroyed and undefined at teardown."""
    require_guest()
    made: list[TestDomain] = []

    def make(name: str, boot: str = "os", memory_mib: int = 256,
             cmdline: str = GUEST_CMDLINE) -> TestDomain:
        dom = define_domain(libvirtd, name, boot, memory_mib, cmdline)
        made.append(dom)
        return dom

    yield make
    for dom in made:
        virsh("destroy", dom.name, uri=libvirtd.uri, check=False)
        virsh("undefine", dom.name, uri=libvirtd.uri, check=False)
