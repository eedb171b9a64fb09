"""Process helpers behind the qemu and command backends: pid files, exit watching, signals."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pybmc.edge.power.process import (
    adopt,
    describe_exit,
    live_pid_from_file,
    log_tail,
    prepare_run_dir,
    process_start_time,
    spawn,
    write_pid_file,
)

IGNORE_TERM = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
               "print('ready', flush=True); time.sleep(60)")


def test_describe_exit() -> None:
    assert describe_exit(0) == "exited with status 0"
    assert describe_exit(1) == "exited with status 1"
    assert describe_exit(-9) == "killed by SIGKILL"
    assert describe_exit(None) == "exited"


def test_log_tail_joins_the_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("one\n\ntwo\nthree\nfour\n")
    assert log_tail(log, lines=2) == "three | four"
    assert log_tail(tmp_path / "missing.log") == ""


def test_run_dir_is_private(tmp_path: Path) -> None:
    run = tmp_path / "run"
    prepare_run_dir(run)
    assert run.stat().st_mode & 0o777 == 0o700
    prepare_run_dir(run)  # idempotent


def test_pid_file_names_a_live_process(tmp_path: Path) -> None:
    proc = subprocess.Popen(["sleep", "30"])
    try:
        pid_file = tmp_path / "x.pid"
        write_pid_file(pid_file, proc.pid)
        assert json.loads(pid_file.read_text())["start_time"] == process_start_time(proc.pid)
        assert live_pid_from_file(pid_file) == proc.pid
    finally:
        proc.kill()
        proc.wait()
    assert live_pid_from_file(pid_file) is None


def test_pid_file_with_a_reused_pid_is_ignored(tmp_path: Path) -> None:
    pid_file = tmp_path / "x.pid"
    # Our own pid, but "started" at another time: a recycled pid, not the machine.
    pid_file.write_text(json.dumps({"pid": os.getpid(),
                                    "start_time": process_start_time(os.getpid()) + 1}))
    assert live_pid_from_file(pid_file) is None


@pytest.mark.parametrize("content", ["", "garbage", "{}", '{"pid": "x"}'])
def test_unreadable_pid_file_is_ignored(tmp_path: Path, content: str) -> None:
    pid_file = tmp_path / "x.pid"
    pid_file.write_text(content)
    assert live_pid_from_file(pid_file) is None
    assert live_pid_from_file(tmp_path / "missing.pid") is None


async def test_child_exit_is_seen_at_once(tmp_path: Path) -> None:
    proc = spawn([sys.executable, "-c", "import time; time.sleep(0.2); raise SystemExit(3)"],
                 tmp_path / "log")
    started = time.monotonic()
    assert await asyncio.wait_for(proc.exited, 5) == 3
    assert time.monotonic() - started < 2
    assert not proc.alive() and proc.returncode == 3


async def test_child_runs_in_its_own_session(tmp_path: Path) -> None:
    proc = spawn(["sleep", "30"], tmp_path / "log")
    try:
        assert os.getsid(proc.pid) == proc.pid  # a Ctrl-C on pybmc's terminal misses it
    finally:
        proc.send_signal(signal.SIGKILL)
        await proc.wait(5)


async def test_output_goes_to_the_log(tmp_path: Path) -> None:
    proc = spawn(["sh", "-c", "echo hello; echo oops >&2; exit 1"], tmp_path / "log")
    assert await asyncio.wait_for(proc.exited, 5) == 1
    assert log_tail(tmp_path / "log") == "hello | oops"


def test_spawn_of_a_missing_binary_raises(tmp_path: Path) -> None:
    async def go() -> None:
        spawn(["/nonexistent/binary"], tmp_path / "log")

    with pytest.raises(OSError):
        asyncio.run(go())


async def test_adopted_process_exit_is_seen(tmp_path: Path) -> None:
    """A process an earlier pybmc started is not our child: no waitpid, still noticed."""
    popen = subprocess.Popen(["sleep", "30"])
    try:
        proc = adopt(popen.pid)
        assert proc.adopted and proc.alive()
        assert not await proc.wait(0.2)
        popen.kill()
        popen.wait()  # reap it, as init would
        assert await proc.wait(2)
        assert proc.returncode is None  # unknown for a process that is not ours
    finally:
        if popen.poll() is None:
            popen.kill()
            popen.wait()


async def test_terminate_escalates_to_sigkill(tmp_path: Path) -> None:
    proc = spawn([sys.executable, "-c", IGNORE_TERM], tmp_path / "log")
    deadline = time.monotonic() + 10
    while "ready" not in log_tail(tmp_path / "log") and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    started = time.monotonic()
    assert await proc.terminate([(signal.SIGTERM, 0.3), (signal.SIGKILL, 5)])
    assert 0.3 <= time.monotonic() - started < 3
    assert proc.returncode == -signal.SIGKILL


async def test_terminate_group_reaches_grandchildren(tmp_path: Path) -> None:
    proc = spawn(["sh", "-c", "sleep 30 & echo $! ; wait"], tmp_path / "log")
    deadline = time.monotonic() + 5
    while not log_tail(tmp_path / "log") and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    grandchild = int(log_tail(tmp_path / "log"))
    assert await proc.terminate([(signal.SIGTERM, 2)], group=True)
    deadline = time.monotonic() + 5
    while process_start_time(grandchild) is not None and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert process_start_time(grandchild) is None
