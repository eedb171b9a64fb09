"""Server processes for the conformance runs and the end-to-end tests: start one with its
output in a log file, wait until every BMC it serves answers, stop it by its PID."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from conformance.net import answers_auth_caps

Endpoint = tuple[str, int]


def spawn_logged(argv: Sequence[str], log_path: Path, cwd: Path,
                 new_session: bool = True) -> subprocess.Popen[bytes]:
    """Start `argv` with stdout and stderr in `log_path`. `new_session` gives it a process
    group of its own, so a stop by its PID cannot reach the caller's group."""
    with log_path.open("wb") as log:
        return subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, cwd=cwd,
                                start_new_session=new_session)


def read_log(log_path: Path | None) -> str:
    """The process's output so far; empty if there is none yet."""
    if log_path is None:
        return ""
    try:
        return log_path.read_text(errors="replace")
    except OSError:
        return ""


def stop_process(proc: subprocess.Popen[bytes], timeout: float) -> int | None:
    """SIGTERM to its PID, SIGKILL if it is still there after `timeout`; its exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def wait_for_answers(proc: subprocess.Popen[bytes], endpoints: Sequence[Endpoint],
                     timeout: float, what: str, log_path: Path | None,
                     answers: Callable[[str, int], bool] | None = None,
                     tail: int | None = None) -> None:
    """Wait until every endpoint answers the session-less probe (or `answers`). Raises
    RuntimeError with the last `tail` characters of the log (all of it when None) if the
    process exits first, or stops the process and raises if `timeout` passes."""
    probe = answers or (lambda address, port: answers_auth_caps(address, port, timeout=0.2))
    deadline = time.monotonic() + timeout
    pending = list(endpoints)
    while pending:
        if proc.poll() is not None:
            output = read_log(log_path)
            raise RuntimeError(f"{what} exited {proc.returncode}:\n{_tail(output, tail)}")
        if time.monotonic() > deadline:
            output = read_log(log_path)
            stop_process(proc, 10.0)
            address, port = pending[0]
            raise RuntimeError(f"{what}: {address}:{port} did not answer within {timeout}s:\n"
                               f"{_tail(output, tail)}")
        if probe(*pending[0]):
            pending.pop(0)
        else:
            time.sleep(0.02)  # a refused probe returns at once: do not spin


def _tail(text: str, size: int | None) -> str:
    return text if size is None else text[-size:]


class LoggedProcess:
    """What a server wrapper shares: `proc` (None when stopped) and its `log_path`; stop()
    waits `stop_timeout` seconds after SIGTERM before SIGKILL. Usable as a context manager."""

    proc: subprocess.Popen[bytes] | None
    log_path: Path | None
    stop_timeout = 10.0

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        return read_log(self.log_path)

    def stop(self, timeout: float | None = None) -> int | None:
        """Stop the process by its PID; its exit code (None if none was started)."""
        if self.proc is None:
            return None
        code = stop_process(self.proc, self.stop_timeout if timeout is None else timeout)
        self.proc = None
        return code

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()
