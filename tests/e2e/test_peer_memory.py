"""Per-peer memory is bounded: datagrams from many distinct (address, port) pairs leave no
trace in the server once answered (only live sessions are routed)."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.e2e.conftest import BmcProcess

PING = bytes.fromhex("0600ff06000011be80c40000")  # ASF presence ping
SOURCES = 50_000


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def ping_from(address: str, target: tuple[str, int], wait: bool) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((address, 0))  # a new source port each time
        sock.settimeout(2.0)
        for _ in range(5 if wait else 1):  # a slow server's full receive buffer drops some
            sock.sendto(PING, target)
            if not wait:
                return True
            try:
                return sock.recv(64)[:4] == PING[:4]
            except TimeoutError:
                continue
        return False


def pings(count: int, target: tuple[str, int], first: int = 0) -> int:
    """`count` pings, each from its own (127.77.a.b, port); every 100th waits for its pong,
    so the server keeps up (its socket buffer holds a few hundred) and has handled the ones
    before it. Returns the pongs waited for and seen."""
    answered = 0
    for n in range(first, first + count):
        address = f"127.77.{(n // 250) % 250}.{n % 250 + 1}"
        wait = n % 100 == 99
        answered += ping_from(address, target, wait) and wait
    return answered


def test_fifty_thousand_sources_grow_rss_by_less_than_two_mb(bmc: BmcProcess):
    assert bmc.proc is not None
    target = (bmc.address, bmc.port)
    assert pings(2_000, target) == 20  # warm up: caches, allocator arenas
    before = rss_kib(bmc.proc.pid)
    assert pings(SOURCES, target, first=2_000) == SOURCES // 100
    growth = rss_kib(bmc.proc.pid) - before
    assert growth < 2048, f"RSS grew by {growth} KiB after {SOURCES} distinct sources"
