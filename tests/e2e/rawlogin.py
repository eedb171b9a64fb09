"""A small raw-UDP login client for the e2e tests: hand-built RMCP+ Open Session / RAKP 1 and
IPMI 1.5 Get Session Challenge datagrams, sent from a chosen loopback source address.

Real clients (ipmitool, FreeIPMI, pyghmi) cannot choose their source address; a flood from
127.0.0.2 while ipmitool logs in from 127.0.0.1 needs this one. Bytes are built from the
specification here, not with pybmc's own codec.
"""

from __future__ import annotations

import os
import socket
import time

RMCP = bytes.fromhex("0600ff07")
SUITE_3 = bytes.fromhex("0000000801000000" "0100000801000000" "0200000801000000")


def ipmi_request(netfn: int, cmd: int, data: bytes, seq: int = 1) -> bytes:
    head = bytes([0x20, netfn << 2])
    body = bytes([0x81, (seq & 0x3F) << 2, cmd]) + data
    return (head + bytes([-sum(head) & 0xFF]) + body + bytes([-sum(body) & 0xFF]))


def v15_sessionless(message: bytes) -> bytes:
    return RMCP + b"\x00" + bytes(8) + bytes([len(message)]) + message


def rmcpplus_setup(payload_type: int, payload: bytes) -> bytes:
    return RMCP + bytes([0x06, payload_type]) + bytes(8) + len(payload).to_bytes(2, "little") \
        + payload


def open_session_request(console_sid: int, tag: int = 0) -> bytes:
    return rmcpplus_setup(0x10, bytes([tag, 0, 0, 0]) + console_sid.to_bytes(4, "little")
                          + SUITE_3)


def rakp1_request(bmc_sid: int, user: bytes = b"admin", tag: int = 1) -> bytes:
    return rmcpplus_setup(0x12, bytes([tag, 0, 0, 0]) + bmc_sid.to_bytes(4, "little")
                          + os.urandom(16) + bytes([0x14, 0, 0, len(user)]) + user)


def get_session_challenge(user: bytes, auth_type: int = 2, seq: int = 1) -> bytes:
    return v15_sessionless(ipmi_request(0x06, 0x39, bytes([auth_type]) + user.ljust(16, b"\0"),
                                        seq))


class RawClient:
    """One UDP socket bound to `source`, talking to one BMC."""

    def __init__(self, source: str, bmc: tuple[str, int]) -> None:
        self.bmc = bmc
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.bind((source, 0))

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def send(self, datagram: bytes) -> None:
        self.sock.sendto(datagram, self.bmc)

    def replies(self, quiet: float = 1.0, deadline: float = 30.0) -> list[bytes]:
        """Every reply until none came for `quiet` seconds (at most `deadline` seconds)."""
        out: list[bytes] = []
        end = time.monotonic() + deadline
        self.sock.settimeout(quiet)
        while time.monotonic() < end:
            try:
                out.append(self.sock.recv(4096))
            except TimeoutError:
                break
        return out

    def exchange(self, datagrams: list[bytes], quiet: float = 1.0) -> list[bytes]:
        for datagram in datagrams:
            self.send(datagram)
        return self.replies(quiet)

    def open_sessions(self, count: int, first_sid: int = 1) -> list[int]:
        """Send `count` Open Session requests at once; the BMC session IDs of those answered
        with status 0."""
        replies = self.exchange([open_session_request(first_sid + n) for n in range(count)])
        payloads = [r[16:] for r in replies if r[5] == 0x11]
        return [int.from_bytes(p[8:12], "little") for p in payloads if p[1] == 0]

    def rakp1_burst(self, bmc_sids: list[int], user: bytes = b"admin") -> list[bytes]:
        """RAKP 1 for every session at once; the RAKP 2 payloads that came back."""
        replies = self.exchange([rakp1_request(sid, user) for sid in bmc_sids])
        return [r[16:] for r in replies if r[5] == 0x13]


def completion_code(v15_reply: bytes) -> int:
    """The completion code of a session-less IPMI 1.5 reply (no authcode)."""
    return v15_reply[14 + 6]
