"""EventService end to end: a subscriber on 127.0.0.1 gets power events; SSE streams them."""

from __future__ import annotations

import asyncio
import json
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import urllib3
from aiohttp import web

from tests.e2e.conftest import ADMIN_PASSWORD, ADMIN_USER, IPMITOOL, BmcProcess
from tests.e2e.test_redfish import PORT, bmc, https  # noqa: F401  (bmc is the fixture)

pytestmark = pytest.mark.skipif(IPMITOOL is None, reason="ipmitool not installed")
urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

SUBSCRIPTIONS = "/redfish/v1/EventService/Subscriptions"


class Listener:
    """An aiohttp event listener on 127.0.0.1 in its own thread; POSTed bodies in `events`."""

    def __init__(self) -> None:
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def _receive(self, request: web.Request) -> web.Response:
        self.events.put(await request.json())
        return web.Response(status=204)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/events", self._receive)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = self._runner.addresses[0][1]
        self._started.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())

    def __enter__(self) -> Listener:
        self._thread.start()
        assert self._started.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def next_event(self, message_suffix: str, timeout: float = 15.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {message_suffix} event arrived"
            event = self.events.get(timeout=remaining)
            if any(e["MessageId"].endswith(message_suffix) for e in event["Events"]):
                return event


@pytest.fixture
def listener() -> Iterator[Listener]:
    with Listener() as running:
        yield running


def test_subscriber_receives_power_change_events(bmc: BmcProcess,  # noqa: F811
                                                 listener: Listener) -> None:
    status, created = https(bmc, "POST", SUBSCRIPTIONS, {
        "Destination": f"http://127.0.0.1:{listener.port}/events", "Protocol": "Redfish",
        "Context": "lab-42"})
    assert status == 201, created
    bmc.ipmitool("chassis", "power", "on")
    event = listener.next_event("ResourcePoweredOn")
    assert event["Context"] == "lab-42"
    record = next(e for e in event["Events"] if e["MessageId"].endswith("ResourcePoweredOn"))
    name = bmc.configs[0]["bmc"]["name"]
    assert record["OriginOfCondition"]["@odata.id"] == f"/redfish/v1/Systems/{name}"
    assert record["MessageId"] == "ResourceEvent.1.4.ResourcePoweredOn"
    listener.next_event("ResourceChanged")  # the SEL entry the power-on logged
    assert https(bmc, "DELETE", f"{SUBSCRIPTIONS}/{created['Id']}")[0] == 204
    bmc.ipmitool("chassis", "power", "off")
    time.sleep(0.5)  # a deleted subscription must stay silent: give a stray event time
    assert listener.events.empty()


def test_subscription_to_a_non_loopback_listener_is_kept_but_not_delivered(
        bmc: BmcProcess) -> None:  # noqa: F811
    status, created = https(bmc, "POST", SUBSCRIPTIONS, {
        "Destination": "https://192.0.2.7/events", "Protocol": "Redfish"})
    assert status == 201
    assert created["Status"]["State"] == "Disabled"
    assert "not in [redfish] event_networks" in bmc.log()
    status, body = https(bmc, "POST", SUBSCRIPTIONS, {"Destination": "https://127.0.0.1/x",
                                                     "Protocol": "FTP"})
    assert status == 400 and body["error"]["code"].endswith("PropertyValueNotInList")


def test_sse_stream_carries_power_events_and_ends_with_its_subscription(
        bmc: BmcProcess) -> None:  # noqa: F811
    url = f"https://{bmc.address}:{PORT}/redfish/v1/EventService/SSE"
    refused = requests.get(url, auth=(ADMIN_USER, ADMIN_PASSWORD), verify=False, timeout=5,
                           headers={"Accept": "application/json"})
    assert refused.status_code == 400 and refused.json()["error"]["code"].endswith(
        "HeaderInvalid")
    stream = requests.get(url, auth=(ADMIN_USER, ADMIN_PASSWORD), verify=False, stream=True,
                          timeout=(5, 20))
    try:
        assert stream.status_code == 200
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        members = https(bmc, "GET", SUBSCRIPTIONS)[1]["Members"]
        assert len(members) == 1
        bmc.ipmitool("chassis", "power", "on")
        lines = stream.iter_lines(decode_unicode=True)
        event_id = data = None
        for line in lines:
            if line.startswith("id: "):
                event_id = line[4:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
                if data["Events"][0]["MessageId"].endswith("ResourcePoweredOn"):
                    break
        assert data is not None and event_id == data["Id"]
        assert data["@odata.type"].endswith(".Event")
        # Deleting its EventDestination ends the stream from the service's side.
        assert https(bmc, "DELETE", members[0]["@odata.id"])[0] == 204
        rest = list(lines)  # returns only once the service closed the connection
        assert all(not line.startswith("data: ") or "ResourcePowered" not in line
                   for line in rest)
    finally:
        stream.close()
    assert https(bmc, "GET", SUBSCRIPTIONS)[1]["Members"] == []
