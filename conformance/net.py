"""Loopback addresses and the session-less probe both servers are started and checked with."""

from __future__ import annotations

import os
import random
import socket
import time
from collections.abc import Callable

# A session-less IPMI 1.5 Get Channel Authentication Capabilities request (channel E, admin,
# IPMI 2.0 data asked for). Both checksums are right: ipmi_sim drops a message whose header
# checksum is wrong.
AUTH_CAP_PING = bytes.fromhex("0600ff07" "00" "00000000" "00000000" "09" "2018c88100388e04b5")


def udp_roundtrip(address: str, port: int, payload: bytes, timeout: float = 0.5) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.connect((address, port))  # connected: ignores replies from any other address
        sock.send(payload)
        try:
            return sock.recv(4096)
        except (TimeoutError, ConnectionRefusedError):
            return None


def answers_auth_caps(address: str, port: int = 623, timeout: float = 0.2) -> bool:
    reply = udp_roundtrip(address, port, AUTH_CAP_PING, timeout)
    return reply is not None and reply[:4] == AUTH_CAP_PING[:4]


def port_is_free(address: str, port: int = 623) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((address, port))
        except OSError:
            return False
    return True


def free_subnet(count: int, port: int = 623, first_octet: int | None = None) -> list[str]:
    """`count` consecutive addresses 127.X.0.2... whose UDP `port` nobody uses yet.

    Several runs (pytest, a developer's conformance run, the benchmark) may share a machine, so
    the second octet is picked at random among 127.150-249 and checked by binding.
    """
    if not 1 <= count <= 250:
        raise ValueError("count must be 1..250")
    rng = random.Random(os.getpid() ^ time.monotonic_ns())
    candidates = [first_octet] if first_octet is not None else rng.sample(range(150, 250), 100)
    for octet in candidates:
        addresses = [f"127.{octet}.0.{n}" for n in range(2, 2 + count)]
        if all(port_is_free(a, port) for a in addresses):
            return addresses
    raise RuntimeError(f"no free 127.x.0.0/24 for {count} addresses on port {port}")


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05,
               alive: Callable[[], bool] = lambda: True) -> bool:
    """Poll `predicate` until it holds, `alive` turns false, or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if not alive():
            return False
        time.sleep(interval)
    return predicate()
