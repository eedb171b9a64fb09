"""Files shipped with pybmc for the system around it: the systemd unit."""

from __future__ import annotations

import os
import shlex
import sys
from importlib.resources import files
from pathlib import Path

UNIT_NAME = "pybmc.service"


def this_pybmc() -> str:
    """The command that runs this pybmc: its console script (in a venv too), else `python -m`."""
    script = Path(sys.argv[0])
    if script.name == "pybmc" and os.access(script, os.X_OK):
        return str(script.resolve())
    beside = Path(sys.executable).parent / "pybmc"
    if os.access(beside, os.X_OK):
        return str(beside)
    return f"{shlex.quote(sys.executable)} -m pybmc"


def systemd_unit(program: str | None = None) -> str:
    """The shipped unit with ExecStart naming `program` (default: this pybmc)."""
    text = (files(__name__) / UNIT_NAME).read_text(encoding="utf-8")
    return text.replace("\nExecStart=pybmc ", f"\nExecStart={program or this_pybmc()} ", 1)
