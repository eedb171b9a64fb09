"""A minimal RMCP+ login over UDP (Open Session, RAKP 1-4, cipher suite 3) that holds its session.

Tests use it to hold many sessions at once from distinct loopback source addresses (ipmitool,
pyghmi and FreeIPMI close theirs when they exit, and pyghmi shares one per process). It speaks
only the login, written from the specification with pybmc's crypto module; the logins the
tests are about are made by real clients.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from pybmc.protocol.rmcp import crypto
from pybmc.protocol.rmcp.packet import build_rmcpplus, parse_rmcp, parse_rmcpplus

OPEN_SESSION, RAKP1, RAKP3 = 0x10, 0x12, 0x14
SUITE = crypto.CIPHER_SUITES[3]


@dataclass
class LoginResult:
    status: int  # the first non-zero RMCP+ status met, or 0 when the session is active
    step: str  # "open", "rakp2", "rakp4" or "active"
    sock: socket.socket


def _exchange(sock: socket.socket, target: tuple[str, int], payload_type: int,
              payload: bytes, retries: int = 3) -> bytes:
    datagram = build_rmcpplus(payload_type, 0, 0, payload)
    for _ in range(retries):
        sock.sendto(datagram, target)
        try:
            reply, _ = sock.recvfrom(4096)
        except TimeoutError:
            continue
        return parse_rmcpplus(parse_rmcp(reply)[1]).payload
    raise TimeoutError(f"no answer to payload type {payload_type:#04x} from {target}")


def login(target: tuple[str, int], source: str, user: str, password: str,
          role: int = 0x00, timeout: float = 2.0) -> LoginResult:
    """Log in from `source` (a loopback address); the socket stays open, and so does the
    session, until the caller closes the socket and the BMC's session timeout passes."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((source, 0))
    sock.settimeout(timeout)
    console_sid = int.from_bytes(os.urandom(4), "little") | 1
    records = b"".join(bytes([kind, 0, 0, 8, number, 0, 0, 0])
                       for kind, number in enumerate(SUITE.algorithms))
    reply = _exchange(sock, target, OPEN_SESSION,
                      bytes([0, role, 0, 0]) + console_sid.to_bytes(4, "little") + records)
    if reply[1]:
        return LoginResult(reply[1], "open", sock)
    bmc_sid = int.from_bytes(reply[8:12], "little")
    console_random = os.urandom(16)
    name = user.encode()
    privilege = 0x10 | (role or 4)  # name-only lookup, the role asked for
    reply = _exchange(sock, target, RAKP1,
                      bytes(4) + bmc_sid.to_bytes(4, "little") + console_random
                      + bytes([privilege, 0, 0, len(name)]) + name)
    if reply[1]:
        return LoginResult(reply[1], "rakp2", sock)
    exchange = crypto.RakpExchange(
        auth=SUITE.auth, console_sid=console_sid, bmc_sid=bmc_sid,
        console_random=console_random, bmc_random=reply[8:24], guid=reply[24:40],
        role=privilege, user_name=name)
    kuid = crypto.user_key(password.encode())
    reply = _exchange(sock, target, RAKP3,
                      bytes(4) + bmc_sid.to_bytes(4, "little") + exchange.rakp3_authcode(kuid))
    if reply[1]:
        return LoginResult(reply[1], "rakp4", sock)
    return LoginResult(0, "active", sock)
