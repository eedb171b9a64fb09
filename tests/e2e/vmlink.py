"""The VM end of the in-band link without a VM: what QEMU's ipmi-bmc-extern sends, over a socket.

`VmLink.connect("unix:/path")` (or "tcp:127.0.0.1:port") says hello as QEMU 7.2+ does (version,
capabilities); `request(netfn, cmd, data)` returns the response's completion code + data.
"""

from __future__ import annotations

import socket
import time

from pybmc.protocol.inband import MSG_END, FrameDecoder, VmRequest, encode_request

QEMU_HELLO = bytes.fromhex("ff01a1" "083fa1")


class LinkClosed(EOFError):
    """The BMC closed (or refused) the link."""


class VmLink:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.decoder = FrameDecoder()
        self.frames: list[tuple[int, bytes]] = []
        self.seq = 0

    @classmethod
    def connect(cls, listen: str, hello: bool = True) -> VmLink:
        kind, _, where = listen.partition(":")
        if kind == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(where)
        else:
            host, _, port = where.rpartition(":")
            sock = socket.create_connection((host, int(port)), timeout=5)
        link = cls(sock)
        if hello:
            sock.sendall(QEMU_HELLO)
        return link

    def frame(self, timeout: float = 5.0) -> tuple[int, bytes]:
        deadline = time.monotonic() + timeout
        while not self.frames:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no frame from the BMC")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096)
            except ConnectionResetError as err:
                raise LinkClosed("the BMC reset the link") from err
            if not data:
                raise LinkClosed("the BMC closed the link")
            self.frames += [(end, frame) for end, frame, _ in self.decoder.feed(data)]
        return self.frames.pop(0)

    def request(self, netfn: int, cmd: int, data: bytes = b"") -> bytes:
        """Send one request; its response's completion code + data (controls are skipped)."""
        self.seq = (self.seq + 1) & 0x3F
        self.sock.sendall(encode_request(VmRequest(self.seq, netfn, 0, cmd, data)))
        while True:
            end, frame = self.frame()
            if end == MSG_END and frame and frame[0] == self.seq:
                return frame[3:-1]

    def close(self) -> None:
        self.sock.close()
