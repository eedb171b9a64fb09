"""SOL and in-band IPMI for a libvirt domain: `pybmc serve` with [power] backend = "libvirt"
in front of a TCG domain of the private libvirt daemon (tests/e2e/libvirtd.py).

`ipmitool -C 17 sol activate` reaches the guest's login prompt through libvirt's console
stream and `pybmc console NAME` shares it; after `pybmc libvirt attach --seclabel` (a static
DAC label libvirt accepts and starts the domain with) the guest's `/dev/ipmi0` answers
`ipmitool mc info` through pybmc's in-band socket (0660, [in_band] socket_group's); the
console comes back by itself when the domain is destroyed and started again with virsh, and
when libvirtd restarts under pybmc.
"""

from __future__ import annotations

import grp
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import ADMIN_PASSWORD, ADMIN_USER, BmcProcess, base_config, next_address
from tests.e2e.libvirtd import libvirt_domain, libvirtd  # noqa: F401  (fixtures)
from tests.e2e.ptyproc import PtyProcess
from tests.e2e.test_console_cli import since
from tests.e2e.test_sol_qemu import SolClient
from tests.guest.vm import wait_until

pytest.importorskip("libvirt")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.qemu,
    pytest.mark.skipif(shutil.which("ipmitool") is None, reason="no ipmitool"),
]

BOOT_TIMEOUT = 60.0


@pytest.fixture
def short_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="pblc", dir="/tmp") as tmp:
        yield Path(tmp)


def pybmc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pybmc", *args], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)


def test_sol_console_and_in_band_through_libvirt(libvirtd, libvirt_domain,  # noqa: F811
                                                 bmc_factory, tmp_path: Path,
                                                 short_dir: Path) -> None:
    # a visible boot log: the first kernel line tells whether SOL saw the boot from its start
    dom = libvirt_domain("pybmc-sol1", cmdline="console=ttyS0,115200 panic=-1 loglevel=6")
    socket_path = str(short_dir / "inband.sock")

    # attach: the definition gets the device once; again is a no-op; --print changes nothing
    # (--seclabel: QEMU runs as this user, root here as in the daemon's qemu.conf anyway)
    attach = ["libvirt", "attach", dom.name, "--uri", dom.uri, "--socket", socket_path,
              "--seclabel"]
    first = pybmc(*attach)
    assert first.returncode == 0, first.stderr
    assert "attached" in first.stdout
    inactive = dom.xml(inactive=True)
    assert f"path={socket_path},reconnect=1" in inactive and "isa-ipmi-kcs" in inactive
    label = f"<label>+{os.getuid()}:+{os.getgid()}</label>"
    assert "<seclabel type='static' model='dac' relabel='no'>" in inactive and label in inactive
    again = pybmc(*attach)
    assert again.returncode == 0 and "already attached" in again.stdout
    assert dom.xml(inactive=True) == inactive
    printed = pybmc(*attach, "--print")
    assert printed.returncode == 0 and "ipmi-bmc-extern" in printed.stdout
    missing = pybmc("libvirt", "attach", "no-such-domain", "--uri", dom.uri)
    assert missing.returncode != 0 and "no domain" in missing.stderr

    name = "lvsol1"
    config = base_config(name, next_address(), tmp_path / name,
                         power={"backend": "libvirt"},
                         libvirt={"uri": dom.uri, "domain": dom.name},
                         in_band={"listen": f"unix:{socket_path}",
                                  "socket_group": "libvirt-qemu"})
    bmc: BmcProcess = bmc_factory(configs=[config])
    assert wait_until(lambda: os.path.exists(socket_path), 10, 0.05), bmc.log()[-2000:]
    made = os.stat(socket_path)  # shared with QEMU's group, no one else
    assert stat.S_IMODE(made.st_mode) == 0o660
    assert made.st_gid == grp.getgrnam("libvirt-qemu").gr_gid
    assert bmc.ipmitool("chassis", "power", "status").stdout.strip() == "Chassis Power is off"

    sol = SolClient(["ipmitool", "-I", "lanplus", "-C", "17", "-H", bmc.address,
                     "-U", ADMIN_USER, "-P", ADMIN_PASSWORD, "sol", "activate"])
    console: PtyProcess | None = None
    try:
        sol.expect(b"SOL Session operational")
        bmc.ipmitool("chassis", "power", "on")
        # created paused and resumed once the console was open, so the boot log is complete
        linux = sol.expect(b"Linux version", timeout=BOOT_TIMEOUT)
        reason = dom.virsh("domstate", "--reason", dom.name).stdout.strip()
        assert reason == "running (unpaused)", reason
        ready = sol.expect(b"TINYGUEST READY", linux, timeout=BOOT_TIMEOUT)
        line_end = sol.expect(b"\n", ready)
        assert b"ipmi0=yes" in sol.output[ready:line_end]  # the KCS device attach added
        sol.expect(b"login: ", ready, timeout=BOOT_TIMEOUT)
        sol.login()

        # in-band: the guest's ipmitool reaches this BMC through /dev/ipmi0
        device_id = sol.run("ipmitool mc info; echo mc-done-$((3*3))", b"mc-done-9")
        assert b"Device ID" in sol.output[:device_id] and b"IPMI Version" in sol.output

        # pybmc console shares the console: history, then both ways with SOL
        console = PtyProcess([sys.executable, "-m", "pybmc", "console", name,
                              "--config", str(tmp_path / f"{name}.toml")])
        console.read_until(b"mc-done-9")  # the history ring
        mark = sol.mark()
        console.write(b"echo from-console-$((2+5))\r")
        sol.expect(b"from-console-7", mark)
        console_mark = len(console.output)
        sol.run("echo from-sol-$((4+4))", b"from-sol-8")
        since(console, console_mark, b"from-sol-8")

        # the domain restarted behind pybmc's back: the console follows the new QEMU
        dom.virsh("destroy", dom.name)
        dom.wait_state("shut off", 10)
        mark = sol.mark()
        dom.virsh("start", dom.name)
        sol.expect(b"login: ", mark, timeout=BOOT_TIMEOUT)

        sol.login()

        # libvirtd restarted under pybmc (QEMU keeps running): the console is opened again by
        # itself, output printed after that arrives without anyone typing
        mark = sol.mark()
        sol.write(b"sleep 6; echo late-$((6+6))\r")
        sol.expect(b"sleep 6", mark)
        libvirtd.restart_libvirtd()
        sol.expect(b"late-12", mark, timeout=20)
        sol.run("echo after-restart-$((5+5))", b"after-restart-10")
        assert sol.alive()
    finally:
        sol.close()
        if console is not None:
            console.close()
