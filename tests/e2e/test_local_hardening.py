"""Local interfaces and secrets, against real `pybmc serve` processes: the in-band listener
(loopback TCP only, a 0600 unix socket, a checked run directory, no silent link replacement),
SOL takeover by a lower privilege, secrets in a debug log, and secrets left on disk."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.procs import stop_process, wait_for_answers
from tests import tomlw
from tests.e2e.conftest import ADMIN_PASSWORD, ADMIN_USER, BmcProcess, base_config, next_address
from tests.e2e.fakeguest import FakeGuestSerial
from tests.e2e.ptyproc import PtyProcess
from tests.e2e.vmlink import LinkClosed, VmLink

pytestmark = pytest.mark.skipif(shutil.which("ipmitool") is None, reason="no ipmitool")

APP, TRANSPORT = 0x06, 0x0C


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A short directory under /tmp: unix socket paths must fit in 108 bytes."""
    with tempfile.TemporaryDirectory(prefix="pbl", dir="/tmp") as tmp:
        yield Path(tmp)


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    """The umask a started `pybmc serve` inherits (0: nothing is private by accident)."""
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def wait_for(predicate: Any, timeout: float = 10.0) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


def user_id(bmc: BmcProcess, name: str) -> int:
    for line in bmc.ipmitool("user", "list", "1").stdout.splitlines():
        fields = line.split()
        if len(fields) > 1 and fields[1] == name:
            return int(fields[0])
    raise AssertionError(f"no user {name}")


# ------------------------------------------------------------------------ item 7: in-band
def run_pybmc(*args: str, cwd: Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pybmc", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=timeout, stdin=subprocess.DEVNULL)


def test_a_non_loopback_in_band_tcp_address_is_refused_at_config_check(tmp_path: Path):
    config = base_config("wide", next_address(), tmp_path / "wide",
                         in_band={"listen": "tcp:0.0.0.0:9102"})
    path = tmp_path / "wide.toml"
    path.write_text(tomlw.dumps(config))
    for args in (("check-config", str(path)), ("serve", "--config", str(path))):
        result = run_pybmc(*args, cwd=tmp_path)
        output = result.stdout + result.stderr
        assert result.returncode != 0, output
        assert "[in_band] listen" in output and "loopback" in output, output
        assert "Traceback" not in output
    config["in_band"] = {"listen": "tcp:127.0.0.1:9102"}
    path.write_text(tomlw.dumps(config))
    assert run_pybmc("check-config", str(path), cwd=tmp_path).returncode == 0


def test_in_band_unix_socket_is_0600_and_a_second_connection_cannot_take_the_link(
        bmc_factory: Any, short_dir: Path):
    listen = f"unix:{short_dir / 'ipmi.sock'}"
    with umask(0):
        bmc = bmc_factory(in_band={"listen": listen})
    assert wait_for(lambda: (short_dir / "ipmi.sock").exists())
    mode = stat.S_IMODE(os.stat(short_dir / "ipmi.sock").st_mode)
    assert mode == 0o600, f"{mode:o}"

    vm = VmLink.connect(listen)
    try:
        assert vm.request(APP, 0x01)[0] == 0  # Get Device ID over the VM link
        intruder = VmLink.connect(listen)
        with pytest.raises(LinkClosed):
            intruder.request(APP, 0x01)
        intruder.close()
        assert vm.request(APP, 0x01)[0] == 0  # the VM keeps its link
        assert wait_for(lambda: re.search(r"WARNING.*in-band connection from pid \d+ uid \d+ "
                                          r"refused: a VM link is already connected",
                                          bmc.log()) is not None), bmc.log()
    finally:
        vm.close()
    # Once the VM hung up, a new connection (QEMU reconnecting) is served.
    again = VmLink.connect(listen)
    try:
        assert again.request(APP, 0x01)[0] == 0
    finally:
        again.close()


def sol_config(guest: FakeGuestSerial) -> dict[str, Any]:
    return {"serial": f"unix:{guest.path}"}


def refused_start(process: BmcProcess) -> str:
    """Start a serve that must stop: it may answer UDP before its console (run directory)
    starts, so wait for it to exit; its log."""
    with contextlib.suppress(RuntimeError):  # it exited before answering
        process.start(timeout=20)
    assert wait_for(lambda: process.proc is None or process.proc.poll() is not None, 30), \
        process.log()
    return process.log()


def test_the_run_directory_is_private_and_a_planted_one_is_refused(
        bmc_factory: Any, short_dir: Path, monkeypatch: pytest.MonkeyPatch):
    guest = FakeGuestSerial(str(short_dir / "serial"))
    try:
        monkeypatch.delenv("PYBMC_RUN_DIR", raising=False)
        runtime = short_dir / "xdg"
        runtime.mkdir(mode=0o700)
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
        with umask(0):
            bmc = bmc_factory(sol=sol_config(guest))
        base = runtime / "pybmc"
        # The console starts after the UDP socket answers (and after Redfish, when on).
        assert wait_for(lambda: bool(list(base.glob("*/console.sock"))), 30), bmc.log()
        assert stat.S_IMODE(os.lstat(base).st_mode) == 0o700
        sockets = list(base.glob("*/console.sock"))
        assert stat.S_IMODE(os.stat(sockets[0]).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(sockets[0].parent).st_mode) == 0o700
        bmc.stop()

        # Someone planted the directory: a symlink to a place they control.
        planted = short_dir / "theirs"
        planted.mkdir(mode=0o777)
        shutil.rmtree(base)
        base.symlink_to(planted)
        refused = bmc_factory(sol=sol_config(guest), start=False)
        assert "symbolic link" in refused_start(refused)
        assert list(planted.iterdir()) == []
        assert "Traceback" not in refused.log()

        # A real directory, but another user's.
        base.unlink()
        base.mkdir(mode=0o700)
        os.chown(base, 65534, 65534) if os.getuid() == 0 else base.chmod(0o777)
        log = refused_start(bmc_factory(sol=sol_config(guest), start=False))
        assert re.search(r"uid 65534|writable by others", log), log
    finally:
        guest.close()


# ------------------------------------------------------------------------ item 8: SOL
def sol_activate(bmc: BmcProcess, user: str = ADMIN_USER,
                 password: str = ADMIN_PASSWORD, *extra: str) -> PtyProcess:
    return PtyProcess(["ipmitool", "-I", "lanplus", "-H", bmc.address, "-U", user,
                       "-P", password, *extra, "sol", "activate"])


def test_a_user_session_cannot_take_over_an_administrators_sol(bmc_factory: Any,
                                                                short_dir: Path):
    guest = FakeGuestSerial(str(short_dir / "serial"))
    try:
        bmc = bmc_factory(sol=sol_config(guest))
        viewer = user_id(bmc, "viewer")
        bmc.ipmitool("sol", "payload", "enable", "1", str(viewer))  # SOL access for the USER
        admin = sol_activate(bmc)
        try:
            admin.read_until(b"SOL Session operational")
            as_user = {"user": "viewer", "password": "viewerpw", "privilege": "USER",
                       "check": False}
            taken = bmc.ipmitool("sol", "deactivate", **as_user)
            assert taken.returncode != 0, taken.stdout + taken.stderr
            again = bmc.ipmitool("sol", "activate", **as_user)
            assert again.returncode != 0
            assert "already active" in (again.stdout + again.stderr).lower()
            # The administrator's console still works.
            admin.write(b"still mine\r")
            admin.read_until(b"STILL MINE")
            assert "Deactivate Payload refused" in bmc.log()

            # Ironic's flow: a second ADMINISTRATOR session deactivates, then activates.
            bmc.ipmitool("sol", "deactivate")
            assert "SOL deactivated (Deactivate Payload from another session" in bmc.log()
        finally:
            admin.close()
        ironic = sol_activate(bmc)
        try:
            ironic.read_until(b"SOL Session operational")
            ironic.write(b"ironic\r")
            ironic.read_until(b"IRONIC")
            ironic.write(b"\r~.")
            ironic.wait()
        finally:
            ironic.close()
    finally:
        guest.close()


# ------------------------------------------------------------------------ item 9: logs
LAN_PASSWORD = "Lan-Pw-7c1e9"
INBAND_PASSWORD = "Inb-Pw-42f0d"
COMMUNITY = "Comm-9b3aa"
BMC_KEY = "Kg-key-0123456789abc"  # K_G: 20 bytes


def test_no_password_or_community_in_a_debug_log(bmc_factory: Any, short_dir: Path):
    listen = f"unix:{short_dir / 'ipmi.sock'}"
    bmc = bmc_factory(in_band={"listen": listen})
    # conftest's BmcProcess serves with --log-level debug
    oper, viewer = user_id(bmc, "oper"), user_id(bmc, "viewer")
    bmc.ipmitool("user", "set", "password", str(oper), LAN_PASSWORD)
    bmc.ipmitool("lan", "set", "1", "snmp", COMMUNITY)
    assert COMMUNITY in bmc.ipmitool("lan", "print", "1").stdout
    assert wait_for(lambda: (short_dir / "ipmi.sock").exists())
    vm = VmLink.connect(listen)
    try:
        # Set User Password from the guest: user id, operation 2 (set), 16-byte password.
        data = bytes([viewer, 0x02]) + INBAND_PASSWORD.encode().ljust(16, b"\0")
        assert vm.request(APP, 0x47, data) == b"\x00"
        # A Get LAN parameter 16 from the guest answers the community: not logged either.
        assert COMMUNITY.encode() in vm.request(TRANSPORT, 0x02, bytes([1, 16, 0, 0]))
    finally:
        vm.close()
    # Both passwords really changed (so the log had something to leak).
    bmc.ipmitool("chassis", "status", user="oper", password=LAN_PASSWORD,
                 privilege="OPERATOR")
    bmc.ipmitool("chassis", "status", user="viewer", password=INBAND_PASSWORD,
                 privilege="USER")
    # K_G from the guest, set and read back (last: LAN logins would need it from now on).
    vm = VmLink.connect(listen)
    try:
        assert vm.request(APP, 0x56, bytes([1, 0x01, 0x01]) + BMC_KEY.encode()) == b"\x00\x00"
        assert vm.request(APP, 0x56, bytes([1, 0x00, 0x01])).endswith(BMC_KEY.encode())
    finally:
        vm.close()
    log = bmc.log()
    for secret in (LAN_PASSWORD, INBAND_PASSWORD, COMMUNITY, ADMIN_PASSWORD, BMC_KEY):
        for shown in (secret, secret.encode().hex(), secret.encode().hex().upper()):
            assert shown not in log, f"{secret!r} appears in the log as {shown!r}"
    assert "in-band 06/47" in log and "bytes redacted" in log  # the lines are there, redacted


# ------------------------------------------------------------------------ item 11: disk
def test_orphaned_state_temp_files_are_removed_at_start(bmc_factory: Any, tmp_path: Path):
    state_dir = tmp_path / "bmc1"
    state_dir.mkdir()
    orphans = [state_dir / ".state.k9x1ab", state_dir / ".state.zz01q7"]
    for orphan in orphans:
        orphan.write_text('{"users": "a full copy, passwords included"}')
    kept_dir = state_dir / ".state.dir"
    kept_dir.mkdir()
    outside = tmp_path / "not-ours.txt"
    outside.write_text("someone else's")
    link = state_dir / ".state.link"
    link.symlink_to(outside)
    other = state_dir / "notes.state.txt"
    other.write_text("kept")
    bmc = bmc_factory(configs=[base_config("bmc1", next_address(), state_dir)])
    # Removed when the BMC begins (state_dir locked), which may follow the first answer.
    assert wait_for(lambda: not any(orphan.exists() for orphan in orphans), 30), bmc.log()
    assert kept_dir.is_dir() and link.is_symlink() and outside.exists() and other.exists()
    assert "removed 2 temporary state file(s)" in bmc.log()
    bmc.ipmitool("user", "set", "name", "5", "saved")  # saving still works
    assert (state_dir / "state.json").exists()
    assert not [p for p in state_dir.iterdir() if p.name.startswith(".state.")
                and p.is_file() and not p.is_symlink()]


def test_the_default_password_file_is_0600(tmp_path: Path):
    address = next_address()
    env_state = tmp_path / "state"
    log_path = tmp_path / "serve.log"
    env = {**os.environ, "XDG_STATE_HOME": str(env_state)}
    with umask(0):
        proc = subprocess.Popen(
            [sys.executable, "-m", "pybmc", "serve", "--address", address],
            stdin=subprocess.DEVNULL, stdout=log_path.open("wb"), stderr=subprocess.STDOUT,
            cwd=tmp_path, env=env)
    try:
        wait_for_answers(proc, [(address, 623)], 20, "pybmc serve", log_path)
        files = list(env_state.glob("pybmc/*/default-password"))
        assert len(files) == 1, log_path.read_text()
        assert stat.S_IMODE(os.stat(files[0]).st_mode) == 0o600
        password = files[0].read_text().strip()
        result = subprocess.run(["ipmitool", "-I", "lanplus", "-H", address, "-U", "admin",
                                 "-P", password, "chassis", "status"], capture_output=True,
                                text=True, timeout=30, stdin=subprocess.DEVNULL)
        assert result.returncode == 0, result.stderr
    finally:
        stop_process(proc, 10)
