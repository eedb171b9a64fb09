"""Listening unix sockets that are private (mode 0600) from the moment they exist.

A chmod after bind leaves a window in which another local user can connect; the umask set
around bind() makes the kernel create the socket file 0600 in the first place. The umask is
process-wide, so it is restored immediately; pybmc binds from the event loop thread only.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
from pathlib import Path

PRIVATE_UMASK = 0o177  # rw------- for the socket file


def bind_private(path: Path, backlog: int = 8) -> socket.socket:
    """A listening AF_UNIX stream socket at `path` (which must not exist), mode 0600."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        old = os.umask(PRIVATE_UMASK)
        try:
            sock.bind(str(path))
        finally:
            os.umask(old)
        sock.listen(backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def remove_stale_socket(path: Path) -> None:
    """Remove a socket file left by a process that is gone; refuse anything else."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise FileExistsError(f"{path} exists and is not a socket")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        if probe.connect_ex(str(path)) == 0:
            raise OSError(f"{path} is in use by another listener")
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
