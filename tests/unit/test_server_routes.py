"""Reply routing in the UDP edge: bounded by live sessions, replies leave by the socket used."""

from __future__ import annotations

from pathlib import Path

import pytest

from pybmc.config.bmc import parse_config
from pybmc.edge.assembly import BmcRuntime
from pybmc.edge.server import BmcService

PING = bytes.fromhex("0600ff06000011be80000000")


class FakeEndpoint:
    def __init__(self, address: str) -> None:
        self.address = address
        self.sent: list[tuple[bytes, tuple[str, int]]] = []

    def send(self, payload: bytes, dest: tuple[str, int]) -> None:
        self.sent.append((payload, dest))

    def close(self) -> None:
        return None


@pytest.fixture
def service(tmp_path: Path) -> BmcService:
    runtime = BmcRuntime(parse_config({
        "bmc": {"name": "t", "address": "127.0.0.2", "state_dir": str(tmp_path / "state")},
        "users": [{"name": "admin", "password": "secret"}],
    }))
    service = BmcService(runtime)
    service.endpoints = {"127.0.0.2": FakeEndpoint("127.0.0.2")}  # type: ignore[dict-item]
    service.primary = "127.0.0.2"
    return service


async def test_pings_from_many_sources_leave_no_routes(service: BmcService):
    endpoint = service.endpoints["127.0.0.2"]
    for port in range(1000, 3000):
        service.receive(endpoint, PING, ("127.0.0.9", port))
    assert len(endpoint.sent) == 2000  # every ping answered ...
    assert service._routes == {}  # ... and nothing remembered about who asked
    service.timer.cancel()


async def test_while_moving_replies_use_the_socket_they_came_in_on(service: BmcService):
    old = service.endpoints["127.0.0.2"]
    new = FakeEndpoint("127.0.0.3")
    service.endpoints["127.0.0.3"] = new  # type: ignore[assignment]
    service.primary = "127.0.0.3"
    for port in range(1000, 1500):
        service.receive(old, PING, ("127.0.0.9", port))
    assert len(old.sent) == 500 and new.sent == []
    assert service._routes == {}  # no session, no route: still bounded while moving
    service.timer.cancel()
