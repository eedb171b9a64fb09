"""Start-up guards: one owner per state_dir (a lock held for the process's life) and bind
errors that say which BMC, which address and what to do.

A BMC's state is touched (loaded for writing, saved, logged to) only by the process that holds
its state_dir's lock, and only after its socket is bound: a second `pybmc serve` pointed at
the same state_dir, or one that cannot bind, leaves the running BMC's users and SEL alone.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path

from pybmc.config.bmc import BmcConfig

LOCK_FILE = "lock"


class StartError(Exception):
    """A BMC cannot start; the message is one line for the operator."""


class StateDirBusy(OSError):
    """A BMC whose lock was left for its first write (a fleet's start) cannot take it: what
    would have been written is not (the save logs this message), and the serve stops."""


class StateDirLock:
    """An exclusive flock on `<state_dir>/lock`, holding the owner's PID, released at close
    (or when the process dies: the kernel drops flocks with the last descriptor)."""

    __slots__ = ("_fd", "name", "state_dir")

    def __init__(self, name: str, state_dir: Path, fd: int) -> None:
        self.name = name
        self.state_dir = state_dir
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, name: str, state_dir: Path) -> StateDirLock:
        path = Path(state_dir) / LOCK_FILE
        try:
            if not os.path.isdir(state_dir):  # (a failing mkdir costs more than a stat)
                Path(state_dir).mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as err:
            raise StartError(f"{name}: state dir {state_dir} is not writable: "
                             f"{err.strerror or err}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            holder = _read_pid(fd)
            os.close(fd)
            if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                who = f"process {holder}" if holder else "another process"
                raise StartError(f"{name}: state dir {state_dir} is in use by pybmc {who} "
                                 f"(lock file {path}); give each BMC its own state_dir"
                                 ) from None
            raise StartError(f"{name}: cannot lock state dir {state_dir}: {err}") from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError as err:
            os.close(fd)
            raise StartError(f"{name}: state dir {state_dir} is not writable: "
                             f"{err.strerror or err}") from None
        return cls(name, state_dir if isinstance(state_dir, Path) else Path(state_dir), fd)

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode(errors="replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def lock_state_dir(config: BmcConfig) -> StateDirLock:
    """Take `config.state_dir` for this process, or StartError naming who holds it."""
    return StateDirLock.acquire(config.name, config.state_dir)


def bind_error(name: str, what: str, address: str, port: int, err: OSError,
               embedded: bool = False) -> StartError:
    """The one line a failed bind becomes: the BMC, the endpoint, and what would fix it.
    `embedded`: the default BMC of `pybmc serve` without files, whose port is --port."""
    where = f"{name}: cannot serve {what} on {address}:{port}: {err.strerror or err}"
    if err.errno == errno.EADDRINUSE:
        other = "--port 6230" if embedded else "[bmc] port = 6230 in its config"
        hint = f"another process holds {address}:{port}; stop it, or use another port: {other}"
    elif err.errno == errno.EACCES and port < 1024:
        hint = (f"port {port} is privileged: run as root or give the CAP_NET_BIND_SERVICE "
                "capability (setcap cap_net_bind_service=+ep on the python binary, or "
                "AmbientCapabilities=CAP_NET_BIND_SERVICE in a systemd unit)")
    elif err.errno == errno.EADDRNOTAVAIL:
        hint = (f"{address} is on no local interface: add it to one (ip addr add "
                f"{address}/32 dev lo) or use a 127.x.y.z address")
    else:
        return StartError(where)
    return StartError(f"{where} ({hint})")


def address_is_local(address: str) -> bool:
    """Whether a UDP socket can bind to `address` here (any 127/8 address can)."""
    import socket

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind((address, 0))
    except OSError as err:
        return err.errno != errno.EADDRNOTAVAIL
    return True


def state_dir_problem(state_dir: Path) -> str | None:
    """Why `state_dir` could not be created or written, or None; creates nothing."""
    path = Path(state_dir).absolute()
    existing = path
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a directory"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is not writable"
    return None
