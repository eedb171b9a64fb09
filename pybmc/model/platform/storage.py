"""Platform files in the BMC's state_dir (sel.json, fru.json): atomic write, tolerant read."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from pybmc.model.state import atomic_write

log = logging.getLogger("pybmc.platform")


def load_json(path: Path) -> dict[str, Any] | None:
    """The file's object; None if missing. An unreadable file is set aside, never fatal."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as err:
        log.error("cannot read %s: %s; starting empty", path, err)
        return None
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return data
    except ValueError as err:
        aside = path.with_name(f"{path.name}.bad-{int(time.time())}")
        log.error("%s is unreadable (%s); kept as %s, starting empty", path, err, aside.name)
        with contextlib.suppress(OSError):
            os.replace(path, aside)
        return None


def save_json(path: Path, data: dict[str, Any], durable: bool = True) -> None:
    """Write-and-rename, so a crash leaves the old file or the new one, never half of one.
    `durable=False` skips the fsync: for content made again the same way at the next start
    (a process's first writes of many BMCs, where fsyncs would be most of the start time)."""
    try:
        payload = json.dumps(data, indent=1, sort_keys=True).encode()
        atomic_write(path, payload, f".{path.name}.", durable)
    except OSError as err:
        log.error("cannot save %s: %s", path, err)
