"""Local console clients (`pybmc console NAME`): raw bytes over a unix socket, sharing the
guest's console with SOL, as `virsh console` does for libvirt."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from pybmc.edge.console import ConsoleBridge
from pybmc.edge.unix_socket import bind_private, remove_stale_socket

log = logging.getLogger("pybmc.console")

CLIENT_BACKLOG_LIMIT = 1 << 20


class LocalConsoleServer:
    def __init__(self, bridge: ConsoleBridge, path: Path) -> None:
        self.bridge = bridge
        self.path = path
        self._server: asyncio.AbstractServer | None = None
        self._clients: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        remove_stale_socket(self.path)
        self._server = await asyncio.start_unix_server(self._serve, sock=bind_private(self.path))

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._clients):
            task.cancel()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._clients.add(task)
        transport = writer.transport

        def is_full() -> bool:
            return transport.get_write_buffer_size() > CLIENT_BACKLOG_LIMIT

        def send(data: bytes) -> None:
            if not transport.is_closing():
                writer.write(data)

        log.info("%s: local console attached", self.bridge.name)
        writer.write(self.bridge.history())
        self.bridge.add_listener(send, is_full)
        try:
            while data := await reader.read(4096):
                self.bridge.write(data)
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self.bridge.remove_listener(send, is_full)
            writer.close()
            self._clients.discard(task)
            log.info("%s: local console detached", self.bridge.name)
