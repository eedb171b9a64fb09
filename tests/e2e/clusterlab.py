"""Helpers for the `pybmc cluster` end-to-end tests: the cluster file, the CLI, ipmitool inside
the lab's namespace, and what is left running (by pid)."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests import tomlw

try:
    import pyroute2
except ImportError:  # pragma: no cover
    pyroute2 = None

CLI_TIMEOUT = 120.0
CLUSTER_MARKS = [
    pytest.mark.e2e,
    pytest.mark.qemu,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, bridges, taps)"),
    pytest.mark.skipif(pyroute2 is None, reason="pyroute2 is not installed"),
    pytest.mark.skipif(shutil.which("dnsmasq") is None, reason="dnsmasq is not installed"),
    pytest.mark.skipif(shutil.which("ipmitool") is None, reason="ipmitool is not installed"),
    pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="no QEMU"),
]


@pytest.fixture
def lab(tmp_path: Path):
    """A fresh namespace name per test; whatever happens, `down` and then (by that name and by
    the recorded pids only) a last-resort cleanup."""
    netns = f"pybmct{secrets.token_hex(3)}"
    yield netns, tmp_path
    path = tmp_path / "lab.toml"
    if path.exists():
        run_cluster("down", path, check=False)
    for pid in recorded_pids(tmp_path / "state"):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)
    if namespace_exists(netns):
        pyroute2.netns.remove(netns)


def cluster_file(workdir: Path, netns: str, provision: dict[str, Any] | None = None) -> Path:
    data: dict[str, Any] = {
        "cluster": {"name": "lab", "netns": netns, "state_dir": "state"},
        "network": {"bridge": "br0", "address": "192.168.123.1/24"},
        "defaults": {"memory": 256, "disk": "64M",
                     "users": [{"name": "admin", "password": "secret"}]},
        "nodes": [{"name": "cn1", "ip": "192.168.123.3", "mac": "00:00:00:00:00:02",
                   "bmc": "192.168.123.4"},
                  {"name": "cn2", "ip": "192.168.123.5", "mac": "00:00:00:00:00:03",
                   "bmc": "192.168.123.6"}],
    }
    if provision:
        data["provision"] = {"enabled": True, **provision}
    path = workdir / "lab.toml"
    path.write_text(tomlw.dumps(data))
    return path


def run_cluster(command: str, path: Path, *args: str, check: bool = True,
                timeout: float = CLI_TIMEOUT) -> str:
    result = subprocess.run([sys.executable, "-m", "pybmc", "cluster", command, str(path), *args],
                            capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"pybmc cluster {command} failed ({result.returncode}):\n"
                             f"{result.stdout}\n{result.stderr}")
    return result.stdout


def ipmitool_in(netns: str, host: str, user: str, password: str, *args: str) -> str:
    """ipmitool run inside the lab's namespace (the only place its addresses exist)."""
    result = subprocess.run(["ip", "netns", "exec", netns, "ipmitool", "-I", "lanplus", "-H",
                             host, "-U", user, "-P", password, "-R", "2", "-N", "2", *args],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, f"ipmitool {' '.join(args)}: {result.stderr}"
    return result.stdout


def ipmitool_ok(netns: str, host: str, user: str, password: str) -> bool:
    try:
        ipmitool_in(netns, host, user, password, "chassis", "power", "status")
    except AssertionError:
        return False
    return True


def namespace_exists(name: str) -> bool:
    return Path("/var/run/netns", name).exists()


def pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def recorded_pids(state_dir: Path) -> list[int]:
    try:
        data = json.loads((state_dir / "run" / "cluster.json").read_text())
    except FileNotFoundError:
        return []
    return [p["pid"] for p in data.get("processes", [])]


def qemu_pids(path: Path) -> list[int]:
    from pybmc.cluster.spec import load_cluster
    from pybmc.cluster.status import qemu_process

    spec = load_cluster(path)
    return [proc.pid for node in spec.nodes if (proc := qemu_process(spec, node)) is not None]


def wait_until(predicate, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def discovery_boot_files(workdir: Path, bmc_ip: str, user: str,
                         password: str) -> tuple[Path, Path]:
    """The tiny guest's kernel and an initrd that runs bmcsetup by itself once it is up."""
    from tests.e2e.guestshell import initrd_with
    from tests.guest.vm import guest_files

    files = guest_files()
    assert files is not None
    script = Path(__file__).with_name("bmcsetup_guest.sh")
    conf = (f"BMCIP={bmc_ip}\nNETMASK=255.255.255.0\nGATEWAY=192.168.123.1\n"
            f"BMCUSER={user}\nBMCPASS={password}\n")
    inittab = ("::sysinit:/etc/rc\n"
               "::once:/bin/sh -c '/bin/bmcsetup > /dev/ttyS0 2>&1'\n"
               "ttyS0::respawn:/bin/getty -L 115200 ttyS0 vt100\n"
               "::shutdown:/bin/umount -a -r\n")
    initrd = initrd_with({"/bin/bmcsetup": (script.read_bytes(), 0o755),
                          "/etc/bmcsetup.conf": (conf.encode(), 0o644),
                          "/etc/inittab": (inittab.encode(), 0o644)},
                         workdir / "discovery.img")
    return files[0], initrd
