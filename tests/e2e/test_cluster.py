"""`pybmc cluster` end to end, as root, inside a network namespace the cluster file names:
bridge and BMC addresses, IPMI power of a node, PXE through dnsmasq/iPXE into the tiny guest,
in-band bmcsetup moving the BMC, status, exports, and a `down` that leaves nothing behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.e2e import clusterlab
from tests.e2e.clusterlab import (
    cluster_file,
    ipmitool_in,
    ipmitool_ok,
    namespace_exists,
    pid_alive,
    qemu_pids,
    recorded_pids,
    run_cluster,
    wait_until,
)

try:
    import pyroute2
except ImportError:  # pragma: no cover
    pyroute2 = None

pytestmark = clusterlab.CLUSTER_MARKS


lab = clusterlab.lab  # the fixture


def bridge_addresses(netns: str, bridge: str = "br0") -> set[str]:
    with pyroute2.NetNS(netns) as ns:
        index = ns.link_lookup(ifname=bridge)[0]
        return {a.get("address") for a in ns.get_addr(index=index, family=2)}


def test_up_power_status_export_down_and_again(lab):
    netns, workdir = lab
    path = cluster_file(workdir, netns)
    for _ in range(2):  # up/down run again cleanly
        started = time.monotonic()
        run_cluster("up", path, timeout=90)
        assert time.monotonic() - started < 60
        assert namespace_exists(netns)
        assert {"192.168.123.1", "192.168.123.4", "192.168.123.6"} <= bridge_addresses(netns)
        login = ("admin", "secret")
        out = ipmitool_in(netns, "192.168.123.6", *login, "chassis", "power", "on")
        assert "Up/On" in out
        assert wait_until(lambda: "cn2   on" in run_cluster("status", path), 20)
        status = json.loads(run_cluster("status", path, "--json"))
        assert [(n["name"], n["power"]) for n in status["nodes"]] == [("cn1", "off"),
                                                                      ("cn2", "on")]
        assert status["serve_running"] is True
        assert status["nodes"][1]["uptime"] is not None
        vms = qemu_pids(path)
        assert len(vms) == 1 and pid_alive(vms[0])
        assert "Down/Off" in ipmitool_in(netns, "192.168.123.6", *login, "chassis", "power", "off")
        assert wait_until(lambda: "cn2   off" in run_cluster("status", path), 20)
        # Exports load: ironic JSON, xCAT stanzas with the BMC addresses.
        ironic = json.loads(run_cluster("export", path, "--format", "ironic"))
        assert [n["driver_info"]["ipmi_address"] for n in ironic["nodes"]] == [
            "192.168.123.4", "192.168.123.6"]
        xcat = run_cluster("export", path, "--format", "xcat")
        assert "cn2:\n" in xcat and "    bmc=192.168.123.6\n" in xcat
        # The Redfish flavour names a System each BMC really serves.
        redfish = json.loads(run_cluster("export", path, "--format", "ironic-redfish"))
        info = redfish["nodes"][1]["driver_info"]
        fetched = subprocess.run(
            ["ip", "netns", "exec", netns, "curl", "-sk", "--max-time", "20", "-u",
             f"{info['redfish_username']}:{info['redfish_password']}",
             info["redfish_address"] + info["redfish_system_id"]],
            capture_output=True, text=True, timeout=30)
        assert json.loads(fetched.stdout)["Id"] == "cn2", fetched.stdout + fetched.stderr
        pids = recorded_pids(workdir / "state")
        assert pids and all(pid_alive(pid) for pid in pids)

        run_cluster("down", path)
        assert not namespace_exists(netns)
        assert not any(pid_alive(pid) for pid in pids)
        assert recorded_pids(workdir / "state") == []
        assert "down" in run_cluster("down", path)  # idempotent


def test_up_and_down_after_the_serve_process_was_killed(lab):
    """A crash (the serve killed with SIGKILL, a node's QEMU left running): `up` again
    brings the BMCs back, and `down` still removes everything, the orphaned QEMU included."""
    netns, workdir = lab
    path = cluster_file(workdir, netns)
    run_cluster("up", path, timeout=90)
    login = ("admin", "secret")
    assert "Up/On" in ipmitool_in(netns, "192.168.123.6", *login, "chassis", "power", "on")
    assert wait_until(lambda: len(qemu_pids(path)) == 1, 20)
    vm = qemu_pids(path)[0]
    data = json.loads((workdir / "state" / "run" / "cluster.json").read_text())
    [serve] = [p["pid"] for p in data["processes"] if p["what"] == "serve"]
    os.kill(serve, signal.SIGKILL)
    assert wait_until(lambda: not pid_alive(serve), 10)
    assert json.loads(run_cluster("status", path, "--json"))["serve_running"] is False

    run_cluster("up", path, timeout=90)  # after the crash: the BMCs come back
    assert wait_until(lambda: ipmitool_ok(netns, "192.168.123.4", *login), 30)
    assert wait_until(lambda: "cn2   on" in run_cluster("status", path), 20)
    pids = recorded_pids(workdir / "state")
    run_cluster("down", path)
    assert not namespace_exists(netns)
    assert not any(pid_alive(pid) for pid in [*pids, vm])
    assert recorded_pids(workdir / "state") == []


def test_pxe_boot_runs_bmcsetup_and_the_bmc_moves(lab):
    from tests.e2e.clusterlab import discovery_boot_files
    from tests.guest.vm import require_guest

    require_guest()
    netns, workdir = lab
    new_ip, new_user, new_password = "192.168.123.44", "xcatbmc", "Discovered-Pw-20b"
    kernel, initrd = discovery_boot_files(workdir, new_ip, new_user, new_password)
    path = cluster_file(workdir, netns, provision={
        "range": "192.168.123.100,192.168.123.199", "kernel": str(kernel),
        "initrd": str(initrd), "cmdline": "console=ttyS0,115200 panic=-1 quiet"})
    run_cluster("up", path, timeout=90)
    login = ("admin", "secret")
    ipmitool_in(netns, "192.168.123.4", *login, "chassis", "bootdev", "pxe")
    assert "Up/On" in ipmitool_in(netns, "192.168.123.4", *login, "chassis", "power", "on")
    # iPXE (QEMU's NIC ROM) -> dnsmasq DHCP -> per-node script over TFTP -> guest -> bmcsetup.
    moved = wait_until(lambda: "192.168.123.44 (was 192.168.123.4)"
                       in run_cluster("status", path), 240, interval=2.0)
    log = (workdir / "state" / "run" / "dnsmasq.log")
    assert moved, (log.read_text() if log.exists() else "no dnsmasq log")[-3000:]
    assert "00-00-00-00-00-02.ipxe" in log.read_text()  # it really came through our TFTP
    # bmcsetup moves the address first, then makes the new administrator.
    assert wait_until(lambda: ipmitool_ok(netns, new_ip, new_user, new_password), 120, 1.0)
    out = ipmitool_in(netns, new_ip, new_user, new_password, "chassis", "power", "status")
    assert "Chassis Power is on" in out
    assert new_ip in bridge_addresses(netns)
    assert wait_until(lambda: "192.168.123.4" not in bridge_addresses(netns), 15)
    xcat = run_cluster("export", path, "--format", "xcat")
    assert f"    bmc={new_ip}\n" in xcat
    pids = recorded_pids(workdir / "state") + qemu_pids(path)
    assert len(pids) == 3  # dnsmasq, pybmc serve, cn1's QEMU
    run_cluster("down", path)
    assert not namespace_exists(netns) and not any(pid_alive(pid) for pid in pids)


def test_status_shows_sol_in_use_from_the_serve_without_ipmitool(lab, tmp_path):
    from tests.e2e.ptyproc import PtyProcess

    netns, workdir = lab
    path = cluster_file(workdir, netns)
    run_cluster("up", path, timeout=90)
    # status runs where no ipmitool can be found: SOL comes from serve's control socket.
    bare = tmp_path / "bin"
    bare.mkdir()
    env = {**os.environ, "PATH": str(bare)}

    def status(*args: str) -> str:
        result = subprocess.run([sys.executable, "-m", "pybmc", "cluster", "status", str(path),
                                 *args], capture_output=True, text=True, timeout=30, env=env)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def sol() -> dict[str, tuple[str, str | None]]:
        return {n["name"]: (n["sol"], n["sol_user"])
                for n in json.loads(status("--json"))["nodes"]}
    assert sol() == {"cn1": ("inactive", None), "cn2": ("inactive", None)}
    client = PtyProcess(["ip", "netns", "exec", netns, "ipmitool", "-I", "lanplus", "-H",
                         "192.168.123.4", "-U", "admin", "-P", "secret", "sol", "activate"])
    try:
        client.read_until(b"SOL Session operational", 30)
        states = sol()
        assert states["cn2"] == ("inactive", None)
        assert states["cn1"][0] == "active"
        assert states["cn1"][1].startswith("admin@192.168.123.")  # by whom, from where
        table = status()
        assert [line.split()[5] for line in table.splitlines()[1:3]] == [states["cn1"][1], "-"]
        client.write(b"\r~.")
        assert client.wait(15) == 0
        assert wait_until(lambda: sol()["cn1"] == ("inactive", None), 20)
    finally:
        client.close()
    run_cluster("down", path)
    assert "?" in status()  # no serve: SOL unknown, not an error


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_up_foreground_stays_and_takes_the_cluster_down_when_stopped(lab, stop):
    netns, workdir = lab
    path = cluster_file(workdir, netns)
    proc = subprocess.Popen([sys.executable, "-m", "pybmc", "cluster", "up", str(path),
                             "--foreground"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        assert wait_until(lambda: recorded_pids(workdir / "state") and ipmitool_ok(
            netns, "192.168.123.6", "admin", "secret"), 60)
        pids = recorded_pids(workdir / "state")
        time.sleep(1.0)  # it must still be there, attached, a while after up returned
        assert proc.poll() is None and all(pid_alive(pid) for pid in pids)
        proc.send_signal(stop)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, out
        assert "down" in out
        assert not namespace_exists(netns) and not any(pid_alive(pid) for pid in pids)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_pxe_kernel_and_initrd_over_http_from_pybmc(lab):
    from tests.e2e.ptyproc import PtyProcess
    from tests.guest.vm import guest_files, require_guest

    require_guest()
    netns, workdir = lab
    kernel, initrd = guest_files()
    path = cluster_file(workdir, netns, provision={
        "range": "192.168.123.100,192.168.123.199", "kernel": str(kernel),
        "initrd": str(initrd), "cmdline": "console=ttyS0,115200 panic=-1", "http": True,
        "http_port": 8080})
    run_cluster("up", path, timeout=90)
    script = (workdir / "state" / "tftp" / "00-00-00-00-00-02.ipxe").read_text()
    assert f"kernel http://192.168.123.1:8080/{kernel.name} " in script
    ipmitool_in(netns, "192.168.123.4", "admin", "secret", "chassis", "bootdev", "pxe")
    console = PtyProcess([sys.executable, "-m", "pybmc", "cluster", "console", str(path), "cn1"])
    http_log = workdir / "state" / "run" / "http.log"
    try:
        assert "Up/On" in ipmitool_in(netns, "192.168.123.4", "admin", "secret", "chassis",
                                      "power", "on")
        fetched = [f'"GET /{kernel.name} HTTP/1.1" 200', f'"GET /{initrd.name} HTTP/1.1" 200']
        assert wait_until(lambda: http_log.exists() and all(
            f in http_log.read_text() for f in fetched), 180, interval=1.0), \
            http_log.read_text()[-2000:] if http_log.exists() else "no http.log"
        assert f'192.168.123.3 "GET /{kernel.name}' in http_log.read_text()  # cn1 asked
        console.read_until(b"Linux version", 120)  # the kernel it fetched runs
        console.write(b"\x1d")
        assert console.wait(10) == 0
    finally:
        console.close()
    pids = recorded_pids(workdir / "state")
    assert len(pids) == 3  # dnsmasq, http, serve
    out = run_cluster("down", path)
    assert "removed http (pid" in out
    assert not namespace_exists(netns) and not any(pid_alive(pid) for pid in pids)
