"""`pybmc serve` as a service: SIGHUP reloads the config directory (added BMCs start, removed
ones stop, changed ones restart, the others keep their sessions), SIGTERM stops cleanly
(sessions closed, state saved, VMs left running, exit 0), and the systemd unit it ships."""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.procs import read_log, spawn_logged, stop_process, wait_for_answers
from pybmc.config.bmc import parse_config
from pybmc.config.paths import run_dir
from tests import tomlw
from tests.e2e.conftest import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    IPMITOOL,
    _answers,
    base_config,
    next_address,
)
from tests.e2e.fakeguest import FakeGuestSerial
from tests.e2e.ptyproc import PtyProcess
from tests.guest.vm import kill_from_run_dir, pid_from_run_dir, wait_until

needs_ipmitool = pytest.mark.skipif(IPMITOOL is None, reason="ipmitool is not installed")
PORT = 6230  # one port for every BMC: each has its own loopback address


def ipmitool(address: str, *args: str, password: str = ADMIN_PASSWORD,
             check: bool = True) -> subprocess.CompletedProcess[str]:
    cmd = [IPMITOOL or "ipmitool", "-I", "lanplus", "-H", address, "-p", str(PORT),
           "-U", ADMIN_USER, "-P", password, "-R", "2", "-N", "2", *args]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=30,
                            stdin=subprocess.DEVNULL)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} on {address} failed ({result.returncode}):\n"
                             f"{result.stdout}{result.stderr}")
    return result


def bmc_config(name: str, state: Path, vm: bool = False, **sections: Any) -> dict[str, Any]:
    """A simulated BMC, or (vm=True) one whose machine is a long `sleep` started at once by
    the command backend: a stand-in VM whose survival is easy to check by its pid."""
    config = base_config(name, next_address(), state / name, **sections)
    config["bmc"]["port"] = PORT
    if vm:
        config["power"] = {"backend": "command", "command_on": "exec sleep 600",
                           "restore_policy": "always-on"}
    return config


def write(directory: Path, config: dict[str, Any]) -> Path:
    path = directory / f"{config['bmc']['name']}.toml"
    path.write_text(tomlw.dumps(config))
    return path


def endpoint(config: dict[str, Any]) -> tuple[str, int]:
    return config["bmc"]["address"], PORT


def vm_pid(config: dict[str, Any]) -> int | None:
    return pid_from_run_dir(run_dir(parse_config(config)), "command.pid")


def alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class Served:
    """One `pybmc serve --config-dir DIR` process."""

    def __init__(self, workdir: Path, conf_dir: Path) -> None:
        self.workdir = workdir
        self.conf_dir = conf_dir
        self.log_path = workdir / "serve.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.machines: list[Path] = []  # run dirs of stand-in VMs to kill after the test

    def start(self, endpoints: list[tuple[str, int]]) -> None:
        argv = [sys.executable, "-m", "pybmc", "serve", "--log-level", "debug",
                "--config-dir", str(self.conf_dir)]
        self.proc = spawn_logged(argv, self.log_path, cwd=self.workdir, new_session=False)
        wait_for_answers(self.proc, endpoints, 30.0, "pybmc serve", self.log_path,
                         answers=_answers)

    def log(self) -> str:
        return read_log(self.log_path)

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None and self.proc.poll() is None, self.log()
        self.proc.send_signal(sig)  # by its PID

    def wait_log(self, pattern: str, count: int = 1, timeout: float = 30.0) -> None:
        regex = re.compile(pattern)
        if not wait_until(lambda: len(regex.findall(self.log())) >= count, timeout):
            raise AssertionError(f"no {pattern!r} (x{count}) in the log:\n{self.log()}")

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, 15.0)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    conf_dir = tmp_path / "conf.d"
    conf_dir.mkdir()
    server = Served(tmp_path, conf_dir)
    yield server
    server.stop()
    for directory in server.machines:  # the stand-in VMs outlive pybmc by design
        kill_from_run_dir(directory)


@pytest.fixture
def guest() -> Iterator[FakeGuestSerial]:
    with tempfile.TemporaryDirectory(prefix="pbsvc", dir="/tmp") as tmp:
        serial = FakeGuestSerial(str(Path(tmp) / "serial"))
        yield serial
        serial.close()


def pyghmi_session(address: str) -> Any:
    from pyghmi.ipmi import command

    return command.Command(bmc=address, userid=ADMIN_USER, password=ADMIN_PASSWORD,
                           port=PORT, keepalive=False)


def device_id(ipmi: Any) -> dict[str, Any]:
    response = ipmi.raw_command(netfn=6, command=1)
    assert "error" not in response, response
    return response


@needs_ipmitool
def test_sighup_adds_restarts_and_removes_bmcs_and_keeps_other_sessions(
        served: Served, tmp_path: Path, guest: FakeGuestSerial):
    state = tmp_path / "state"
    a = bmc_config("node-a", state, sol={"serial": f"unix:{guest.path}"})
    b = bmc_config("node-b", state, vm=True)
    d = bmc_config("node-d", state, vm=True)
    served.machines += [run_dir(parse_config(b)), run_dir(parse_config(d))]
    for config in (a, b, d):
        write(served.conf_dir, config)
    served.start([endpoint(a), endpoint(b), endpoint(d)])
    assert wait_until(lambda: alive(vm_pid(b)) and alive(vm_pid(d)), 30), served.log()

    # A session on A that stays open across the reload, and A's SOL console in use.
    ipmi = pyghmi_session(a["bmc"]["address"])
    session_id = ipmi.ipmi_session.sessionid
    device_id(ipmi)
    sol = PtyProcess([IPMITOOL or "ipmitool", "-I", "lanplus", "-H", a["bmc"]["address"],
                      "-p", str(PORT), "-U", ADMIN_USER, "-P", ADMIN_PASSWORD,
                      "sol", "activate"])
    try:
        sol.read_until(b"fakeguest login: ")
        sol.write(b"before\r")
        sol.read_until(b"BEFORE")
        reload_and_check(served, tmp_path, a, b, d, ipmi, session_id, sol)
    finally:
        sol.close()


def reload_and_check(served: Served, tmp_path: Path, a: dict[str, Any], b: dict[str, Any],
                     d: dict[str, Any], ipmi: Any, session_id: int, sol: PtyProcess) -> None:
    state = tmp_path / "state"
    b_vm, d_vm = vm_pid(b), vm_pid(d)

    # Add C, change B (a new admin password and product ID), remove D.
    c = bmc_config("node-c", state)
    write(served.conf_dir, c)
    b["users"][0]["password"] = "changed-pw"
    b["identity"] = {"product_id": 0x4242}
    write(served.conf_dir, b)
    (served.conf_dir / "node-d.toml").unlink()
    served.signal(signal.SIGHUP)
    served.wait_log(r"reload: added node-c; removed node-d; restarted node-b; 1 unchanged")

    # C answers; B has its new settings and still the same VM; D is gone, its VM not.
    assert "Device ID" in ipmitool(c["bmc"]["address"], "mc", "info").stdout
    info = ipmitool(b["bmc"]["address"], "mc", "info", password="changed-pw").stdout
    assert re.search(r"Product ID\s*:\s*16962 \(0x4242\)", info), info
    assert ipmitool(b["bmc"]["address"], "mc", "info", check=False).returncode != 0
    assert "is on" in ipmitool(b["bmc"]["address"], "chassis", "power", "status",
                               password="changed-pw").stdout
    assert vm_pid(b) == b_vm and alive(b_vm)
    assert alive(d_vm)
    assert not _answers(*endpoint(d))

    # A's sessions went on untouched: same session ID, the next request succeeds, SOL still
    # carries keystrokes both ways, and the BMC logged one login each and no close.
    assert ipmi.ipmi_session.sessionid == session_id
    assert device_id(ipmi)["data"]
    sol.write(b"after\r")
    sol.read_until(b"AFTER")
    log = served.log()
    assert len(re.findall(r"node-a: session 0x[0-9a-f]+ opened", log)) == 2, log
    assert not re.search(r"node-a: session 0x[0-9a-f]+ closed", log), log
    assert not re.search(r"node-a: (stopped|started)", log.split("reloading")[1]), log

    # A config that does not parse changes nothing (one ERROR line), even with a good
    # change beside it: all or nothing.
    (served.conf_dir / "broken.toml").write_text("[bmc\nname = 'x'\n")
    c["identity"] = {"product_id": 0x0777}
    write(served.conf_dir, c)
    served.signal(signal.SIGHUP)
    served.wait_log(r"reload refused")
    errors = [line for line in served.log().splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "broken.toml" in errors[0], errors
    info = ipmitool(c["bmc"]["address"], "mc", "info").stdout
    assert "(0x0777)" not in info
    assert device_id(ipmi)["data"] and ipmi.ipmi_session.sessionid == session_id

    # SIGTERM: exit 0, A's session closed, state saved, the VM left running.
    (served.conf_dir / "broken.toml").unlink()
    ipmitool(a["bmc"]["address"], "user", "set", "name", "7", "kept")
    assert served.proc is not None
    served.signal(signal.SIGTERM)
    assert served.proc.wait(30) == 0, served.log()
    log = served.log()
    assert re.search(r"node-a: session 0x[0-9a-f]+ closed \(the BMC is stopping\)", log), log
    assert "stopped 3 BMCs: sessions closed, state saved, VMs left running" in log
    assert "Traceback" not in log
    assert alive(b_vm)
    saved = json.loads((state / "node-a" / "state.json").read_text())
    assert bytes.fromhex(saved["users"]["7"]["name"]) == b"kept"


@needs_ipmitool
def test_sigterm_and_sigint_exit_0_leaving_the_vm_running(served: Served, tmp_path: Path):
    vm = bmc_config("node-vm", tmp_path / "state", vm=True)
    served.machines.append(run_dir(parse_config(vm)))
    write(served.conf_dir, vm)
    for sig in (signal.SIGTERM, signal.SIGINT):
        served.start([endpoint(vm)])
        assert wait_until(lambda: alive(vm_pid(vm)), 30), served.log()
        pid = vm_pid(vm)
        assert "is on" in ipmitool(vm["bmc"]["address"], "chassis", "power", "status").stdout
        served.signal(sig)
        assert served.proc is not None and served.proc.wait(30) == 0, served.log()
        assert "VMs left running" in served.log()
        assert alive(pid), f"{sig.name} took the VM down"
        # The next start finds the same VM again.
        served.start([endpoint(vm)])
        assert vm_pid(vm) == pid
        assert "is on" in ipmitool(vm["bmc"]["address"], "chassis", "power", "status").stdout
        served.stop()


def test_sighup_without_config_files_is_logged_not_fatal(tmp_path: Path):
    address = next_address()
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "xdg")}
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "pybmc", "serve", "--address", address,
                                 "--port", str(PORT)], stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, cwd=tmp_path, env=env)
    try:
        wait_for_answers(proc, [(address, PORT)], 30.0, "pybmc serve", log_path,
                         answers=_answers)
        proc.send_signal(signal.SIGHUP)
        assert wait_until(lambda: "nothing to reload" in read_log(log_path), 30)
        assert proc.poll() is None and _answers(address, PORT)
    finally:
        assert stop_process(proc, 15.0) == 0, read_log(log_path)


# ------------------------------------------------------------------ the systemd unit
UNIT = Path(__file__).resolve().parents[2] / "pybmc" / "data" / "pybmc.service"


def test_unit_file_keeps_vms_and_can_bind_port_623():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string(UNIT.read_text())
    service = unit["Service"]
    assert service["KillMode"] == "process"  # QEMU children stay when pybmc stops
    assert "CAP_NET_BIND_SERVICE" in service["AmbientCapabilities"]
    assert "CAP_NET_BIND_SERVICE" in service["CapabilityBoundingSet"]
    assert service["StateDirectory"] == "pybmc"
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert "--config-dir" in service["ExecStart"]
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_systemd_unit_command_prints_a_unit_systemd_accepts(tmp_path: Path):
    out = subprocess.run([sys.executable, "-m", "pybmc", "systemd-unit"], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    assert "KillMode=process" in out
    exec_start = next(line for line in out.splitlines() if line.startswith("ExecStart="))
    program = exec_start.removeprefix("ExecStart=").split()[0]
    assert os.path.isabs(program) and os.access(program, os.X_OK), exec_start
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (the keys are checked above)")
    path = tmp_path / "pybmc.service"
    path.write_text(out)
    result = subprocess.run([analyze, "verify", str(path)], capture_output=True, text=True,
                            timeout=60)
    problems = [line for line in (result.stdout + result.stderr).splitlines()
                if "pybmc.service" in line]
    assert not problems, result.stdout + result.stderr
