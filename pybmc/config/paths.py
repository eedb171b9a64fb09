"""Short, private runtime paths: unix socket paths must stay under 108 bytes, state_dir may be long.

Sockets and pid files live in a run directory only we can enter: `$XDG_RUNTIME_DIR/pybmc` when
the session has one (systemd makes it per user, 0700, on tmpfs), else `/tmp/pybmc-<uid>`
(`$PYBMC_RUN_DIR` overrides both). `/tmp` is shared with every local user, so a directory found
there is used only if it is a real directory (not a symlink), ours, and writable by us alone:
someone who pre-created it could otherwise read or replace the sockets inside.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from pybmc.config.bmc import BmcConfig


class UnsafeRunDirectory(OSError):
    """A run directory that someone else could enter or change."""


def private_directory(path: Path) -> Path:
    """Create `path` (mode 0700) or accept it only if it is a directory of ours that no one
    else may write to; raises UnsafeRunDirectory otherwise. Parents are created as needed."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        return private_directory(path)
    info = os.lstat(path)  # lstat: a symlink planted in /tmp must not be followed
    if stat.S_ISLNK(info.st_mode):
        raise UnsafeRunDirectory(f"run directory {path} is a symbolic link; remove it")
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeRunDirectory(f"run directory {path} is not a directory; remove it")
    if info.st_uid != os.getuid():
        raise UnsafeRunDirectory(f"run directory {path} belongs to uid {info.st_uid}, not to "
                                 f"us (uid {os.getuid()}); remove it or set PYBMC_RUN_DIR")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafeRunDirectory(f"run directory {path} is writable by others (mode "
                                 f"{stat.S_IMODE(info.st_mode):04o}); chmod 700 it")
    return path


def run_base() -> Path:
    """The directory that holds every BMC's run directory (see the module docstring)."""
    override = os.environ.get("PYBMC_RUN_DIR")
    if override:
        return private_directory(Path(override))
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        return private_directory(Path(runtime) / "pybmc")
    return private_directory(Path(f"/tmp/pybmc-{os.getuid()}"))


def run_dir(config: BmcConfig) -> Path:
    """Per-BMC directory for sockets and pid files, stable for a given state_dir."""
    tag = hashlib.sha256(str(config.state_dir.resolve()).encode()).hexdigest()[:8]
    return private_directory(run_base() / f"{config.name[:40]}-{tag}")


def console_socket(config: BmcConfig) -> Path:
    """Where `pybmc console NAME` reaches the running BMC's console bridge."""
    return run_dir(config) / "console.sock"


def control_socket() -> Path:
    """Where `pybmc serve --config-dir` listens for pybmc add/list/... by default."""
    return run_base() / "control.sock"
