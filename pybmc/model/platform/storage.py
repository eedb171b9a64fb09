"""Platform files in the BMC's state_dir (sel.json, fru.json): atomic write, tolerant read."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

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
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps(data, indent=1, sort_keys=True).encode()
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
                handle.flush()
                if durable:
                    os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as err:
        log.error("cannot save %s: %s", path, err)
