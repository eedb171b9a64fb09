"""SOL clients shared by the SOL end-to-end tests."""

from __future__ import annotations

import threading
import time
from typing import Any

from tests.e2e.conftest import ADMIN_PASSWORD, ADMIN_USER


def _wait(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def pyghmi_round_trip(address: str, ready: bytes, command: str | bytes, expected: bytes,
                      timeout: float = 20.0) -> bytes:
    """Open a pyghmi Console, wait for `ready`, type `command`, wait for `expected` after it;
    returns everything received."""
    from pyghmi.ipmi import console

    received = bytearray()
    errors: list[object] = []

    def handler(data: object) -> None:
        if isinstance(data, bytes):
            received.extend(data)
        elif isinstance(data, str):
            received.extend(data.encode())
        else:
            errors.append(data)

    sol = console.Console(bmc=address, userid=ADMIN_USER, password=ADMIN_PASSWORD,
                          iohandler=handler, force=True)
    stop = threading.Event()

    def pump() -> None:
        while not stop.is_set():
            console.Console.wait_for_rsp(timeout=0.2)

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    try:
        # The history comes first; the command's own output only after it is typed.
        assert _wait(lambda: ready in received, timeout), (bytes(received[-300:]), errors)
        mark = len(received)
        sol.send_data(command)
        assert _wait(lambda: received.find(expected, mark) >= 0, timeout), \
            (bytes(received[-300:]), errors)
        return bytes(received)
    finally:
        sol.close()
        stop.set()
        thread.join(timeout=5)
