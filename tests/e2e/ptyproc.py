"""Run an interactive client (ipmitool sol activate) on a pseudo-terminal, as a user would."""

from __future__ import annotations

import contextlib
import os
import pty
import select
import signal
import subprocess
import time


class PtyProcess:
    def __init__(self, args: list[str]) -> None:
        master, slave = pty.openpty()
        self.master = master
        self.proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave,
                                     start_new_session=True, close_fds=True)
        os.close(slave)
        self.output = bytearray()

    def read_until(self, needle: bytes, timeout: float = 20.0) -> bytes:
        deadline = time.monotonic() + timeout
        while needle not in self.output:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{needle!r} not seen in {timeout}s; got "
                                     f"{bytes(self.output[-400:])!r}")
            if not self._read(min(remaining, 0.5)) and self.proc.poll() is not None:
                self._read(0.1)
                if needle not in self.output:
                    raise AssertionError(f"client exited {self.proc.returncode} before "
                                         f"{needle!r}: {bytes(self.output[-400:])!r}")
        return bytes(self.output)

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return False
        try:
            data = os.read(self.master, 65536)
        except OSError:
            return False
        self.output += data
        return bool(data)

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def wait(self, timeout: float = 10.0) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._read(0.1)
        if self.proc.poll() is None:
            raise AssertionError(f"client did not exit: {bytes(self.output[-300:])!r}")
        return self.proc.returncode

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        with contextlib.suppress(OSError):
            os.close(self.master)
