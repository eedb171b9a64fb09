"""Short runtime paths: unix socket paths must stay under 108 bytes, state_dir may be long."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from pybmc.config.bmc import BmcConfig


def run_dir(config: BmcConfig) -> Path:
    """Per-BMC directory for sockets and pid files, stable for a given state_dir."""
    base = Path(os.environ.get("PYBMC_RUN_DIR") or f"/tmp/pybmc-{os.getuid()}")
    tag = hashlib.sha256(str(config.state_dir.resolve()).encode()).hexdigest()[:8]
    path = base / f"{config.name[:40]}-{tag}"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def console_socket(config: BmcConfig) -> Path:
    """Where `pybmc console NAME` reaches the running BMC's console bridge."""
    return run_dir(config) / "console.sock"
