"""Log output for `pybmc serve`: which BMC each line is about, text or JSON lines, a file.

The edge runs each BMC's start, sockets, timer and tasks inside `bmc_context(name)`; asyncio
copies the context into every callback and task made there, so a line logged anywhere below
(the state store, the QMP client) knows its BMC without being told. A line whose message
does not already start with "<bmc>: " gets that prefix in text output; JSON output carries
it as a field.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path

LEVELS = ("debug", "info", "warning", "error")
FORMATS = ("text", "json")

current_bmc: contextvars.ContextVar[str] = contextvars.ContextVar("pybmc_bmc", default="")
current_peer: contextvars.ContextVar[str] = contextvars.ContextVar("pybmc_peer", default="")


@contextlib.contextmanager
def bmc_context(name: str) -> Iterator[None]:
    """Everything logged (and every task and callback created) inside is about BMC `name`."""
    token = current_bmc.set(name)
    try:
        yield
    finally:
        current_bmc.reset(token)


class BmcFields(logging.Filter):
    """Fills in `record.bmc` and `record.peer` from `extra=` or the current context."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "bmc", ""):
            record.bmc = current_bmc.get()
        if not getattr(record, "peer", ""):
            record.peer = current_peer.get()
        return True


def _split(record: logging.LogRecord) -> tuple[str, str]:
    """(bmc, message without the "<bmc>: " prefix most pybmc lines start with)."""
    message = record.getMessage()
    bmc = str(getattr(record, "bmc", "") or "")
    if bmc and message.startswith(f"{bmc}: "):
        return bmc, message[len(bmc) + 2:]
    return bmc, message


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        bmc, message = _split(record)
        record.message = f"{bmc}: {message}" if bmc else message
        return super().formatMessage(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, bmc, message, peer, session."""

    def format(self, record: logging.LogRecord) -> str:
        bmc, message = _split(record)
        entry: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
                    + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        if bmc:
            entry["bmc"] = bmc
        entry["message"] = message
        for key in ("event", "peer", "session", "user"):
            value = getattr(record, key, None)
            if value not in (None, ""):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str = "info", fmt: str = "text", file: Path | None = None) -> None:
    """Send every log line once to stderr (or `file`), in `fmt`, from `level` up."""
    if level not in LEVELS:
        raise ValueError(f"unknown log level {level!r} (one of {', '.join(LEVELS)})")
    if fmt not in FORMATS:
        raise ValueError(f"unknown log format {fmt!r} (one of {', '.join(FORMATS)})")
    handler: logging.Handler = (logging.FileHandler(file, encoding="utf-8") if file is not None
                                else logging.StreamHandler(sys.stderr))
    handler.addFilter(BmcFields())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):  # one handler: a line is never written twice
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level.upper())
    # The QMP library reports every VM disconnect (an end of file) at INFO and a traceback at
    # DEBUG; pybmc logs what a disconnect means for the BMC itself.
    logging.getLogger("qemu.qmp").setLevel(logging.WARNING)
