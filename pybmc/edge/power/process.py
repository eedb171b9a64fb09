"""Processes a power backend owns: a short run directory, pid files that survive a pybmc
restart, and exit watching that works for our own children and for processes adopted from an
earlier pybmc run alike.

The run directory itself comes from pybmc.config.paths.run_dir (short, so socket paths fit in the
108 bytes of sun_path, and the same on every start of the same config).

A machine's process is started in its own session, so it outlives pybmc (a BMC restart never
power-cycles its host) and a Ctrl-C on pybmc's terminal never reaches it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from pybmc.config.paths import private_directory

log = logging.getLogger("pybmc.power")

EXIT_POLL_INTERVAL = 0.2  # only where pidfd_open is unavailable


# ------------------------------------------------------------------------ run directory
def prepare_run_dir(path: Path) -> None:
    """Create the run directory, private to us; refuse one that someone else owns or may
    write to (pybmc.config.paths.private_directory)."""
    private_directory(path)


def remove_stale(*paths: Path) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


# ------------------------------------------------------------------------ pid files
def process_start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat), or
    None when it does not exist. Stored with the pid so a reused pid is not mistaken for ours."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = stat[stat.rfind(")") + 2:].split()
    if len(fields) < 20 or fields[0] == "Z":
        return None  # a zombie has exited already
    return int(fields[19])


def write_pid_file(path: Path, pid: int) -> None:
    record = {"pid": pid, "start_time": process_start_time(pid)}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record) + "\n")
    os.replace(tmp, path)


def live_pid_from_file(path: Path) -> int | None:
    """The pid recorded in the file if that very process still runs, else None."""
    try:
        record = json.loads(path.read_text())
        pid = int(record["pid"])
        start_time = record.get("start_time")
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as err:
        log.warning("ignoring unreadable pid file %s: %s", path, err)
        return None
    now = process_start_time(pid)
    if now is None or (start_time is not None and now != start_time):
        return None
    return pid


# ------------------------------------------------------------------------ exit descriptions
def describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "exited"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}"
    return f"exited with status {returncode}"


def log_tail(path: Path, lines: int = 6, max_bytes: int = 4096) -> str:
    """The last lines of a log file, joined with ' | ' for a one-line log message."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - max_bytes))
            text = handle.read().decode(errors="replace")
    except OSError:
        return ""
    kept = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(kept[-lines:])


# ------------------------------------------------------------------------ watched processes
class WatchedProcess:
    """A process whose exit we learn about at once: our own child (reaped here) or one we
    adopted from a pid file. `exited` resolves with the exit status (None when unknown)."""

    def __init__(self, pid: int, popen: subprocess.Popen[bytes] | None = None) -> None:
        self.pid = pid
        self.popen = popen
        self.exited: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._pidfd: int | None = None
        self._poller: asyncio.Task[None] | None = None
        self._watch()

    @property
    def adopted(self) -> bool:
        return self.popen is None

    @property
    def returncode(self) -> int | None:
        return self.exited.result() if self.exited.done() else None

    def alive(self) -> bool:
        return not self.exited.done()

    def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            self._pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            self._pidfd = None
        if self._pidfd is not None:
            loop.add_reader(self._pidfd, self._check)
        else:
            self._poller = loop.create_task(self._poll())
        self._check()

    async def _poll(self) -> None:
        while not self.exited.done():
            await asyncio.sleep(EXIT_POLL_INTERVAL)
            self._check()

    def _check(self) -> None:
        if self.exited.done():
            return
        if self.popen is not None:
            code = self.popen.poll()
            if code is None:
                return
            self._finish(code)
        elif process_start_time(self.pid) is None:
            self._finish(None)

    def _finish(self, code: int | None) -> None:
        self.close()
        if not self.exited.done():
            self.exited.set_result(code)

    def close(self) -> None:
        """Stop watching (the process itself is left alone)."""
        if self._pidfd is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None
        if self._poller is not None and self._poller is not asyncio.current_task():
            self._poller.cancel()
        self._poller = None

    def send_signal(self, sig: int, group: bool = False) -> bool:
        """Signal the process (or its whole process group); False if it is already gone."""
        if self.exited.done():
            return False
        try:
            if group:
                os.killpg(self.pid, sig)
            else:
                os.kill(self.pid, sig)
        except ProcessLookupError:
            return False
        except PermissionError as err:
            log.error("cannot signal process %d: %s", self.pid, err)
            return False
        return True

    async def wait(self, timeout: float) -> bool:
        """True once the process has exited, False if it still runs after `timeout` seconds."""
        if self.exited.done():
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.exited), timeout)
        # A process that exited while the pidfd reader was not yet scheduled.
        self._check()
        return self.exited.done()

    async def terminate(self, steps: Sequence[tuple[int, float]], group: bool = False,
                        what: str = "process") -> bool:
        """Send each signal in turn, waiting its timeout, until the process is gone."""
        for sig, timeout in steps:
            if not self.alive():
                return True
            log.info("sending %s to %s %d", signal.Signals(sig).name, what, self.pid)
            self.send_signal(sig, group)
            if await self.wait(timeout):
                return True
        return not self.alive()


def spawn(argv: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None,
          cwd: Path | None = None) -> WatchedProcess:
    """Start a process in its own session with stdout/stderr appended to log_path.

    Raises OSError when it cannot be executed at all (missing binary, no permission).
    """
    with log_path.open("ab") as log_file:
        popen = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=log_file,
                                 stderr=subprocess.STDOUT, start_new_session=True,
                                 env=dict(env) if env is not None else None, cwd=cwd)
    return WatchedProcess(popen.pid, popen)


def adopt(pid: int) -> WatchedProcess:
    """Watch a process that an earlier pybmc started (it is not our child)."""
    return WatchedProcess(pid)
