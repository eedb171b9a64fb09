"""`pybmc serve` start-up: one owner per state_dir, nothing written before the socket is
bound, and failures that say which BMC, which address and what to do, in one line."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conformance.procs import stop_process, wait_for_answers
from tests import tomlw
from tests.e2e.conftest import IPMITOOL, BmcProcess, _answers, base_config, next_address

needs_ipmitool = pytest.mark.skipif(IPMITOOL is None, reason="ipmitool is not installed")
PR_CAPBSET_DROP = 24
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_NET_BIND_SERVICE = 1, 2, 10
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="runs a server as root without a capability")


def write_config(directory: Path, config: dict[str, Any]) -> Path:
    path = directory / f"{config['bmc']['name']}.toml"
    path.write_text(tomlw.dumps(config))
    return path


def serve_once(args: list[str], cwd: Path, timeout: float = 30.0,
               env: dict[str, str] | None = None,
               preexec_fn: Callable[[], None] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a `pybmc serve` expected to give up at start; a server that keeps running fails."""
    proc = subprocess.Popen([sys.executable, "-m", "pybmc", "serve", *args], cwd=cwd,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, preexec_fn=preexec_fn)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_process(proc, 5.0)  # type: ignore[arg-type]
        out, err = proc.communicate()
        pytest.fail(f"pybmc serve {' '.join(args)} kept running:\n{err}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The failed start's message: exactly one line, no traceback."""
    assert result.returncode != 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def without(*capabilities: int) -> Callable[[], None]:
    """A preexec_fn: the server (root) runs without these capabilities, as a user would."""
    def drop() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        for capability in capabilities:
            if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")
    return drop


# ------------------------------------------------------------------ item 12: state_dir lock
@needs_ipmitool
def test_a_second_process_on_the_same_state_dir_is_refused(bmc: BmcProcess, tmp_path: Path):
    bmc.ipmitool("user", "set", "name", "7", "carol")
    bmc.ipmitool("chassis", "power", "on")  # an SEL event: ACPI S0 working
    sel_before = bmc.ipmitool("sel", "list").stdout
    assert sel_before.count("\n") >= 2, sel_before  # the start event and ours
    state_dir = Path(bmc.configs[0]["bmc"]["state_dir"])
    other = base_config("intruder", next_address(), state_dir)
    result = serve_once(["-c", str(write_config(tmp_path, other))], tmp_path)
    line = one_line(result)
    assert line == (f"pybmc: intruder: state dir {state_dir} is in use by pybmc process "
                    f"{bmc.proc.pid} (lock file {state_dir / 'lock'}); give each BMC its own "
                    "state_dir")
    assert (state_dir / "lock").read_text().strip() == str(bmc.proc.pid)
    assert bmc.ipmitool("sel", "list").stdout == sel_before
    assert "carol" in bmc.ipmitool("user", "list", "1").stdout
    bmc.restart()  # what the first process saved is all there, the intruder's users are not
    assert "carol" in bmc.ipmitool("user", "list", "1").stdout
    after = bmc.ipmitool("sel", "list").stdout  # + the restart's own event
    assert after.startswith(sel_before) and after.count("\n") == sel_before.count("\n") + 1


@needs_ipmitool
def test_a_start_that_cannot_bind_writes_nothing(bmc: BmcProcess, tmp_path: Path):
    fresh = tmp_path / "fresh-state"
    twin = base_config("twin", bmc.address, fresh)  # the running BMC's address:port
    line = one_line(serve_once(["-c", str(write_config(tmp_path, twin))], tmp_path))
    assert line.startswith(f"pybmc: twin: cannot serve IPMI on {bmc.address}:623: "
                           "Address already in use (another process holds"), line
    assert "[bmc] port = 6230" in line
    assert sorted(p.name for p in fresh.iterdir()) == ["lock"]  # no state, no SEL
    bmc.ipmitool("mc", "info")


def test_the_default_bmc_has_a_state_dir_per_address(tmp_path: Path):
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "xdg")}
    procs = []
    try:
        endpoints = [(next_address(), 6231), (next_address(), 6231)]
        for address, port in endpoints:
            log = (tmp_path / f"{address}.log").open("wb")
            proc = subprocess.Popen([sys.executable, "-m", "pybmc", "serve", "--address",
                                     address, "--port", str(port)], env=env, cwd=tmp_path,
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=log)
            procs.append(proc)
            wait_for_answers(proc, [(address, port)], 20.0, "pybmc serve",
                             tmp_path / f"{address}.log", answers=_answers)
        for address, port in endpoints:
            state = tmp_path / "xdg" / "pybmc" / f"pybmc-{address}-{port}"
            assert (state / "lock").read_text().strip() in {str(p.pid) for p in procs}
            assert (state / "default-password").stat().st_mode & 0o777 == 0o600
    finally:
        for proc in procs:
            stop_process(proc, 10.0)  # type: ignore[arg-type]


# ------------------------------------------------------------------ item 13: start-up errors
def test_an_address_on_no_interface_is_named_with_a_hint(tmp_path: Path):
    config = base_config("faraway", "198.51.100.7", tmp_path / "state")  # TEST-NET-2
    line = one_line(serve_once(["-c", str(write_config(tmp_path, config))], tmp_path))
    assert line.startswith("pybmc: faraway: cannot serve IPMI on 198.51.100.7:623: "
                           "Cannot assign requested address (198.51.100.7 is on no local "
                           "interface"), line
    assert "127.x.y.z" in line


@as_root
def test_a_privileged_port_refused_says_what_capability(tmp_path: Path):
    config = base_config("lowport", next_address(), tmp_path / "state")
    line = one_line(serve_once(["-c", str(write_config(tmp_path, config))], tmp_path,
                               preexec_fn=without(CAP_NET_BIND_SERVICE)))
    assert line.startswith(f"pybmc: lowport: cannot serve IPMI on {config['bmc']['address']}"
                           ":623: Permission denied (port 623 is privileged"), line
    assert "CAP_NET_BIND_SERVICE" in line and "AmbientCapabilities" in line


@as_root
def test_an_unwritable_state_dir_fails_at_start(tmp_path: Path):
    locked = tmp_path / "read-only"
    locked.mkdir(mode=0o555)
    config = base_config("ro", next_address(), locked / "state", bmc={"port": 6232})
    line = one_line(serve_once(["-c", str(write_config(tmp_path, config))], tmp_path,
                               preexec_fn=without(CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH)))
    assert line == (f"pybmc: ro: state dir {locked / 'state'} is not writable: "
                    "Permission denied")


def test_a_state_dir_below_a_file_fails_at_start(tmp_path: Path):
    (tmp_path / "plain-file").write_text("")
    config = base_config("nodir", next_address(), tmp_path / "plain-file" / "state",
                         bmc={"port": 6233})
    line = one_line(serve_once(["-c", str(write_config(tmp_path, config))], tmp_path))
    assert line.startswith(f"pybmc: nodir: state dir {tmp_path}/plain-file/state is not "
                           "writable"), line


def test_an_unusable_default_state_location_is_one_line(tmp_path: Path):
    (tmp_path / "not-a-dir").write_text("")
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "not-a-dir")}
    line = one_line(serve_once(["--address", next_address(), "--port", "6234"], tmp_path,
                               env=env))
    assert line.startswith("pybmc: cannot keep the default BMC's password in "
                           f"{tmp_path}/not-a-dir/pybmc/"), line
    assert "XDG_STATE_HOME" in line


def test_check_config_reports_what_would_stop_a_bmc(tmp_path: Path):
    (tmp_path / "plain-file").write_text("")
    good = base_config("good", next_address(), tmp_path / "good-state")
    far = base_config("far", "198.51.100.8", tmp_path / "far-state")
    stuck = base_config("stuck", next_address(), tmp_path / "plain-file" / "state")
    files = [str(write_config(tmp_path, c)) for c in (good, far, stuck)]
    result = subprocess.run([sys.executable, "-m", "pybmc", "check-config", *files],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == [
        "good", "far", "stuck"]
    problems = result.stderr.splitlines()
    assert problems == [
        f"pybmc: {files[1]}: [bmc] address: 198.51.100.8 is on no local interface (add it "
        "to one, or use a 127.x.y.z address)",
        f"pybmc: {files[2]}: [bmc] state_dir: {tmp_path}/plain-file/state cannot be written "
        f"({tmp_path}/plain-file is not a directory)",
    ]
    ok = subprocess.run([sys.executable, "-m", "pybmc", "check-config", files[0]],
                        capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert ok.returncode == 0 and ok.stderr == "", ok.stderr
    assert not (tmp_path / "good-state").exists()  # checking creates nothing


def test_a_fleet_locks_fresh_state_dirs_after_it_answers_and_still_excludes(tmp_path: Path):
    """Two BMCs with new state dirs: both answer, then their dirs and locks appear (taken
    before the first write); a second serve sharing one of the dirs is refused in one line."""
    first = [base_config(f"f{n}", next_address(), tmp_path / f"s{n}", bmc={"port": 6233})
             for n in range(2)]
    args = [arg for c in first for arg in ("-c", str(write_config(tmp_path, c)))]
    log_path = tmp_path / "fleet.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "pybmc", "serve", *args], cwd=tmp_path,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        wait_for_answers(proc, [(c["bmc"]["address"], 6233) for c in first], 20.0,
                         "pybmc serve", log_path, answers=_answers)
        locks = [tmp_path / f"s{n}" / "lock" for n in range(2)]
        for _ in range(100):  # bounded: the locks are taken about a second after the start
            if all(lock.exists() and lock.read_text().strip() for lock in locks):
                break
            time.sleep(0.1)
        assert [lock.read_text().strip() for lock in locks] == [str(proc.pid)] * 2
        intruder = base_config("g1", next_address(), tmp_path / "s1", bmc={"port": 6233})
        other = base_config("g2", next_address(), tmp_path / "s9", bmc={"port": 6233})
        line = one_line(serve_once(["-c", str(write_config(tmp_path, intruder)),
                                    "-c", str(write_config(tmp_path, other))], tmp_path))
        assert line.startswith(f"pybmc: g1: state dir {tmp_path / 's1'} is in use by pybmc "
                               f"process {proc.pid}"), line
        assert not (tmp_path / "s9").exists()  # the refused serve made nothing
        assert proc.poll() is None
    finally:
        stop_process(proc, 10.0)  # type: ignore[arg-type]
    assert (tmp_path / "s1" / "state.json").exists()  # the first serve's, saved as it stopped
