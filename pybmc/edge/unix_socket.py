"""Listening unix sockets that are private (mode 0600) from the moment they exist.

A chmod after bind leaves a window in which another local user can connect; the umask set
around bind() makes the kernel create the socket file 0600 in the first place. The umask is
process-wide, so it is restored immediately; pybmc binds from the event loop thread only.

A socket shared with one group (`group=GID`: mode 0660, that group; the in-band socket a QEMU
running as another user opens) is bound 0600 inside a fresh 0700 directory next to `path`,
given its group and mode there, where no one else can reach it, and only then hard-linked to
`path` (link() never replaces an existing file) and its private name removed. It is never
reachable with another mode or group, and never by anyone else at all.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
from pathlib import Path

PRIVATE_UMASK = 0o177  # rw------- for the socket file
GROUP_MODE = 0o660


def bind_private(path: Path, backlog: int = 8, group: int | None = None) -> socket.socket:
    """A listening AF_UNIX stream socket at `path` (which must not exist): mode 0600, or
    0660 owned by group `group` (a GID this process may chown to)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        if group is None:
            _bind_umasked(sock, path)
        else:
            _bind_for_group(sock, Path(path), group)
        sock.listen(backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def _bind_umasked(sock: socket.socket, path: Path) -> None:
    old = os.umask(PRIVATE_UMASK)
    try:
        sock.bind(str(path))
    finally:
        os.umask(old)


def _bind_for_group(sock: socket.socket, path: Path, group: int) -> None:
    import tempfile  # here: with shutil, ~0.7 MB that a fleet without socket groups saves

    private = Path(tempfile.mkdtemp(prefix=".pybmc-", dir=path.parent))  # 0700, ours
    staged = private / "s"
    try:
        _bind_umasked(sock, staged)
        try:
            os.chown(staged, -1, group)
        except PermissionError:
            raise PermissionError(f"cannot give {path} to group {group}: the user pybmc runs "
                                  "as must belong to it (or be root)") from None
        os.chmod(staged, GROUP_MODE)
        os.link(staged, path)  # FileExistsError if `path` appeared meanwhile
    finally:
        with contextlib.suppress(FileNotFoundError):
            staged.unlink()
        with contextlib.suppress(OSError):
            private.rmdir()


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
