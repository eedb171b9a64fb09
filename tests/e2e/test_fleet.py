"""Live fleet management against a real `pybmc serve --config-dir DIR --control SOCK`:
pybmc add/list/show/start/stop/delete change one BMC while the others keep their sessions
and SOL, what they change survives a restart of serve, and import-vbmc turns a VirtualBMC
config directory into BMCs that serve."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.procs import read_log, spawn_logged, stop_process, wait_for_answers
from tests import tomlw
from tests.e2e.conftest import ADMIN_PASSWORD, ADMIN_USER, IPMITOOL, _answers, next_address
from tests.e2e.fakeguest import FakeGuestSerial
from tests.e2e.ptyproc import PtyProcess
from tests.e2e.test_service import PORT, bmc_config, device_id, ipmitool, pyghmi_session
from tests.guest.vm import wait_until

# What `add` of a libvirt BMC whose domain does not exist answers (serve runs this python).
LIBVIRT_REFUSAL = ("has no domain 'vm1'" if importlib.util.find_spec("libvirt") is not None
                   else "needs libvirt-python")

needs_ipmitool = pytest.mark.skipif(IPMITOOL is None, reason="ipmitool is not installed")


class Fleet:
    """One `pybmc serve --config-dir DIR --control SOCK` and the pybmc CLI talking to it."""

    def __init__(self, workdir: Path, conf_dir: Path, control: Path) -> None:
        self.workdir = workdir
        self.conf_dir = conf_dir
        self.control = control
        self.env = {**os.environ, "XDG_STATE_HOME": str(workdir / "state")}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "serve.log"
        self.starts = 0

    def start(self, endpoints: list[tuple[str, int]] = ()) -> None:
        self.starts += 1
        self.log_path = self.workdir / f"serve-{self.starts}.log"
        argv = [sys.executable, "-m", "pybmc", "serve", "--log-level", "debug",
                "--config-dir", str(self.conf_dir), "--control", str(self.control)]
        with _env(self.env):
            self.proc = spawn_logged(argv, self.log_path, cwd=self.workdir, new_session=False)
        wait_for_answers(self.proc, list(endpoints), 30.0, "pybmc serve", self.log_path,
                         answers=_answers)
        assert wait_until(lambda: "control socket on" in self.log(), 30), self.log()

    def stop(self) -> None:
        if self.proc is not None:
            assert stop_process(self.proc, 15.0) == 0, self.log()
            self.proc = None

    def log(self) -> str:
        return read_log(self.log_path)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([sys.executable, "-m", "pybmc", *args, "--control",
                                 str(self.control)], capture_output=True, text=True,
                                timeout=120, env=self.env, stdin=subprocess.DEVNULL)
        if check and result.returncode != 0:
            raise AssertionError(f"pybmc {' '.join(args)} failed ({result.returncode}):\n"
                                 f"{result.stdout}{result.stderr}\n{self.log()}")
        return result

    def add(self, name: str, address: str) -> dict[str, Any]:
        out = self.cli("add", name, "--address", address, "--port", str(PORT), "--username",
                       ADMIN_USER, "--password", ADMIN_PASSWORD, "--simulated", "--json")
        return json.loads(out.stdout)

    def bmcs(self) -> dict[str, dict[str, Any]]:
        return {b["name"]: b for b in json.loads(self.cli("list", "--json").stdout)}


class _env:
    """Start a process with `env` without passing env= through spawn_logged."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.saved = dict(os.environ)

    def __enter__(self) -> None:
        os.environ.update(self.env)

    def __exit__(self, *exc: object) -> None:
        os.environ.clear()
        os.environ.update(self.saved)


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    conf_dir = tmp_path / "conf.d"
    conf_dir.mkdir()
    short = Path(tempfile.mkdtemp(prefix="pbfl", dir="/tmp"))  # socket paths < 108 bytes
    served = Fleet(tmp_path, conf_dir, short / "control.sock")
    yield served
    if served.proc is not None:
        stop_process(served.proc, 15.0)
    shutil.rmtree(short, ignore_errors=True)


@pytest.fixture
def guest() -> Iterator[FakeGuestSerial]:
    with tempfile.TemporaryDirectory(prefix="pbfl", dir="/tmp") as tmp:
        serial = FakeGuestSerial(str(Path(tmp) / "serial"))
        yield serial
        serial.close()


def answers(address: str) -> bool:
    return _answers(address, PORT)


def sol_echoes(sol: PtyProcess, word: bytes) -> None:
    sol.write(word.lower() + b"\r")
    sol.read_until(word.upper())


@needs_ipmitool
def test_add_list_stop_start_delete_keep_the_others_and_survive_a_restart(
        fleet: Fleet, tmp_path: Path, guest: FakeGuestSerial):
    # A BMC from a file with a SOL console in use, and two BMCs added live next to it.
    s = bmc_config("node-s", tmp_path / "state", sol={"serial": f"unix:{guest.path}"})
    (fleet.conf_dir / "node-s.toml").write_text(tomlw.dumps(s))
    fleet.start([(s["bmc"]["address"], PORT)])
    mode = os.lstat(fleet.control).st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600

    a_address, b_address = next_address(), next_address()
    added = fleet.add("node-a", a_address)
    assert (added["name"], added["state"], added["address"], added["port"]) == (
        "node-a", "running", a_address, PORT)
    fleet.add("node-b", b_address)
    for address in (a_address, b_address):
        assert "Chassis Power is off" in ipmitool(address, "power", "status").stdout
    b_file = fleet.conf_dir / "node-b.toml"
    assert stat.S_IMODE(b_file.stat().st_mode) == 0o600  # it holds a password
    assert ADMIN_PASSWORD not in fleet.cli("list", "--json").stdout + fleet.log()

    ipmi = pyghmi_session(a_address)
    session_id = ipmi.ipmi_session.sessionid
    device_id(ipmi)
    sol = PtyProcess([IPMITOOL or "ipmitool", "-I", "lanplus", "-H", s["bmc"]["address"],
                      "-p", str(PORT), "-U", ADMIN_USER, "-P", ADMIN_PASSWORD,
                      "sol", "activate"])
    try:
        sol.read_until(b"fakeguest login: ")
        sol_echoes(sol, b"before")
        bmcs = fleet.bmcs()
        assert set(bmcs) == {"node-s", "node-a", "node-b"}
        assert bmcs["node-a"]["sessions"] >= 1 and bmcs["node-a"]["backend"] == "simulated"
        assert bmcs["node-s"]["sol"] and bmcs["node-s"]["sol"].startswith("admin@127.0.0.1:")
        assert bmcs["node-b"]["power"] == "off" and bmcs["node-b"]["sol"] is None
        table = fleet.cli("list").stdout
        assert f"node-b  running  {b_address}:{PORT}  simulated  off" in table, table

        for verb, running in (("stop", False), ("start", True)):
            assert f"node-b: {'running' if running else 'stopped'}" in fleet.cli(
                verb, "node-b").stdout
            assert wait_until(lambda want=running: answers(b_address) == want, 10)
            assert ("enabled = false" in b_file.read_text()) != running
            # node-a's session and node-s's SOL went on through it.
            assert ipmi.ipmi_session.sessionid == session_id
            device_id(ipmi)
            sol_echoes(sol, b"after" + verb.encode())
        assert fleet.bmcs()["node-b"]["state"] == "running"
        fleet.cli("stop", "node-b")
    finally:
        sol.close()

    # Stopped stays stopped across a restart of serve; started stays started.
    fleet.stop()
    fleet.start([(s["bmc"]["address"], PORT), (a_address, PORT)])
    bmcs = fleet.bmcs()
    assert bmcs["node-b"]["state"] == "stopped" and bmcs["node-a"]["state"] == "running"
    assert not answers(b_address)
    shown = json.loads(fleet.cli("show", "node-b", "--json").stdout)
    assert shown["state"] == "stopped" and shown["file"] == str(b_file)
    fleet.cli("start", "node-b")
    fleet.stop()
    fleet.start([(s["bmc"]["address"], PORT), (a_address, PORT), (b_address, PORT)])
    assert fleet.bmcs()["node-b"]["state"] == "running"

    # Delete: the file goes, the BMC stops answering, node-a's new session lives on.
    ipmi = pyghmi_session(a_address)
    session_id = ipmi.ipmi_session.sessionid
    assert "node-b: deleted" in fleet.cli("delete", "node-b").stdout
    assert not b_file.exists()
    assert wait_until(lambda: not answers(b_address), 10)
    assert "node-b" not in fleet.bmcs()
    assert ipmi.ipmi_session.sessionid == session_id
    device_id(ipmi)
    fleet.stop()
    fleet.start([(a_address, PORT)])
    assert set(fleet.bmcs()) == {"node-s", "node-a"}


def test_add_refusals_name_the_problem(fleet: Fleet):
    fleet.start()
    address = next_address()
    fleet.add("node-a", address)
    # The file written is what runs: a reload finds nothing to restart.
    assert fleet.proc is not None
    fleet.proc.send_signal(signal.SIGHUP)
    assert wait_until(lambda: "reload: nothing changed (1 BMCs)" in fleet.log(), 30), fleet.log()
    base = ["add", "node-x", "--username", "u", "--password", "p", "--port", str(PORT)]
    cases = [
        (["--address", "::", "--simulated"], "IPv6 is not supported for serving"),
        (["--address", "0.0.0.0", "--simulated"], "not on every address"),
        (["--address", next_address(), "--libvirt-domain", "vm1", "--libvirt-uri",
          "test:///default"], LIBVIRT_REFUSAL),
        (["--address", address, "--simulated"], f"{address}:{PORT} is the address of node-a"),
    ]
    for extra, message in cases:
        result = fleet.cli(*base, *extra, check=False)
        assert result.returncode != 0 and message in result.stderr, (extra, result.stderr)
        assert "Traceback" not in result.stderr
    again = fleet.cli("add", "node-a", "--address", next_address(), "--username", "u",
                      "--password", "p", "--simulated", check=False)
    assert again.returncode == 1 and "a BMC named 'node-a' exists already" in again.stderr
    for verb in ("show", "stop", "start", "delete"):
        result = fleet.cli(verb, "nope", check=False)
        assert result.returncode == 1 and "no BMC named 'nope'" in result.stderr
    assert sorted(p.name for p in fleet.conf_dir.iterdir()) == ["node-a.toml"]
    # Raw requests that are not ones get one-line answers; the serve goes on.
    assert raw_request(fleet.control, b"garbage\n") == {"ok": False,
                                                         "error": "not a JSON object"}
    assert raw_request(fleet.control, b'{"op": "reboot"}\n')["error"].startswith(
        "unknown op 'reboot'")
    assert raw_request(fleet.control, b"x" * 300_000 + b"\n") == {"ok": False,
                                                                  "error": "request too long"}
    assert "Traceback" not in fleet.log()
    assert fleet.bmcs()["node-a"]["state"] == "running"
    fleet.stop()
    gone = fleet.cli("list", check=False)
    assert gone.returncode == 1 and "no pybmc serve listens on" in gone.stderr


def raw_request(path: Path, data: bytes) -> dict[str, Any]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)
        sock.connect(str(path))
        # Refused before all of an over-long line was read: the answer is still there.
        with contextlib.suppress(BrokenPipeError):
            sock.sendall(data)
        with sock.makefile("rb") as stream:
            return json.loads(stream.readline())


VBMC_CONFIG = """[VirtualBMC]
username = {user}
password = {password}
address = {address}
port = {port}
domain_name = {domain}
libvirt_uri = qemu:///system
libvirt_sasl_username = None
libvirt_sasl_password = None
active = {active}
"""


@needs_ipmitool
def test_import_vbmc_directory_serves_its_bmcs(fleet: Fleet, tmp_path: Path):
    vbmc = tmp_path / "vbmc"
    own_address, fallback = next_address(), next_address()
    for domain, address, active in (("node-0", "::", "True"), ("node-1", own_address, "False")):
        (vbmc / domain).mkdir(parents=True)
        (vbmc / domain / "config").write_text(VBMC_CONFIG.format(
            user="admin", password="password", address=address, port=PORT, domain=domain,
            active=active))
    run = [sys.executable, "-m", "pybmc", "import-vbmc", str(vbmc), "--config-dir",
           str(fleet.conf_dir)]
    for extra in ([], ["--simulated"]):  # libvirt BMCs or simulated ones: an address is needed
        no_address = subprocess.run([*run, *extra], capture_output=True, text=True, timeout=60)
        assert no_address.returncode == 2 and "give --address A" in no_address.stderr
    assert list(fleet.conf_dir.iterdir()) == []
    done = subprocess.run([*run, "--simulated", "--address", fallback], capture_output=True,
                          text=True, timeout=60, env=fleet.env)
    assert done.returncode == 0, done.stderr
    assert "node-1:" in done.stdout and "(stopped, as in VirtualBMC)" in done.stdout
    assert sorted(p.name for p in fleet.conf_dir.iterdir()) == ["node-0.toml", "node-1.toml"]

    checked = subprocess.run([sys.executable, "-m", "pybmc", "check-config", "--config-dir",
                              str(fleet.conf_dir)], capture_output=True, text=True, timeout=60,
                             env=fleet.env)
    assert checked.returncode == 0, checked.stderr
    assert f"node-1: {own_address}:{PORT}" in checked.stdout
    assert "(stopped: [bmc] enabled = false)" in checked.stdout.split("node-1:")[1]

    fleet.start([(fallback, PORT)])
    bmcs = fleet.bmcs()
    assert bmcs["node-0"]["state"] == "running" and bmcs["node-0"]["address"] == fallback
    assert bmcs["node-1"]["state"] == "stopped" and bmcs["node-1"]["address"] == own_address
    result = subprocess.run([IPMITOOL or "ipmitool", "-I", "lanplus", "-H", fallback, "-p",
                             str(PORT), "-U", "admin", "-P", "password", "power", "status"],
                            capture_output=True, text=True, timeout=30)
    assert "Chassis Power is" in result.stdout, result.stderr
    fleet.cli("start", "node-1")
    assert wait_until(lambda: answers(own_address), 10)
