"""The client side of `pybmc console`: a terminal attached to a BMC's console socket."""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import sys
import termios
import tty
from pathlib import Path

ESCAPE = 0x1D  # Ctrl-], as virsh console


def attach(path: Path) -> int:
    """Copy bytes between this terminal and the console until Ctrl-] or the BMC goes away."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except OSError as err:
        print(f"pybmc: cannot reach the console at {path}: {err.strerror}", file=sys.stderr)
        sock.close()
        return 1
    stdin = sys.stdin.fileno()
    stdout = sys.stdout.fileno()
    saved = termios.tcgetattr(stdin) if os.isatty(stdin) else None
    if saved is not None:
        print("pybmc: connected; Ctrl-] detaches\r", file=sys.stderr)
        tty.setraw(stdin)
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ)
    selector.register(stdin, selectors.EVENT_READ)
    try:
        while True:
            for key, _ in selector.select():
                if key.fileobj is sock:
                    data = sock.recv(65536)
                    if not data:
                        return 0
                    os.write(stdout, data)
                else:
                    data = os.read(stdin, 4096)
                    if not data:
                        selector.unregister(stdin)
                        continue
                    if saved is not None and ESCAPE in data:
                        sock.sendall(data[: data.index(ESCAPE)])
                        return 0
                    sock.sendall(data)
    finally:
        if saved is not None:
            termios.tcsetattr(stdin, termios.TCSADRAIN, saved)
            print("\r\npybmc: detached", file=sys.stderr)
        with contextlib.suppress(OSError):
            sock.close()
