"""A stand-in for a guest's serial port: a unix socket server in a thread.

It greets with a login prompt, answers typed lines like a tiny shell ("seq N" prints 1..N,
anything else is echoed back upper-cased), and records everything it received.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading


class FakeGuestSerial:
    def __init__(self, path: str, greeting: bytes = b"\r\nfakeguest login: ") -> None:
        self.path = path
        self.greeting = greeting
        self.received = bytearray()
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        self._server.bind(path)
        self._server.listen(4)
        self._stop = threading.Event()
        self._conn: socket.socket | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self._server.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._conn = conn
            self._serve(conn)

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(0.2)
        with contextlib.suppress(OSError):
            conn.sendall(self.greeting)
        line = bytearray()
        while not self._stop.is_set():
            try:
                data = conn.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            self.received += data
            for byte in data:
                if byte in (0x0D, 0x0A):
                    self._answer(conn, bytes(line))
                    line.clear()
                else:
                    line.append(byte)

    def _answer(self, conn: socket.socket, line: bytes) -> None:
        if line.startswith(b"seq "):
            count = int(line[4:])
            text = b"".join(b"%d\r\n" % n for n in range(1, count + 1))
            conn.settimeout(None)
            conn.sendall(text + b"# ")
            conn.settimeout(0.2)
        elif line:
            conn.sendall(b"\r\n" + line.upper() + b"\r\n# ")

    def send(self, data: bytes) -> None:
        if self._conn is not None:
            self._conn.sendall(data)

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._server.close()
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.close()
        self._thread.join(timeout=2)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
