"""The EventService hub: platform notices become Events queued for allowed subscribers only."""

from __future__ import annotations

from pathlib import Path

import pytest

from pybmc.config.bmc import parse_config
from pybmc.core.bmc import Bmc
from pybmc.model.power import PowerAction
from pybmc.redfish.event_hub import EventHub
from pybmc.redfish.service import RedfishService
from tests.unit.clock import FakeClock, run_timers
from tests.unit.test_redfish_service import message_id, send

SUBSCRIPTIONS = "/redfish/v1/EventService/Subscriptions"
CLOCK = FakeClock()


@pytest.fixture
def bmc(tmp_path: Path) -> Bmc:
    config = parse_config({
        "bmc": {"name": "t", "address": "127.0.0.2", "state_dir": str(tmp_path)},
        "users": [{"name": "admin", "password": "secret"}],
        "redfish": {"event_networks": ["127.0.0.0/8", "10.9.0.0/16"]},
    })
    return Bmc(config, clock=CLOCK)


@pytest.fixture
def service(bmc: Bmc) -> RedfishService:
    return RedfishService(bmc.parts, "t", wall_clock=lambda: 1_700_000_000.0)


def test_destinations_are_checked_against_event_networks():
    hub = EventHub("/redfish/v1/Systems/t", ("127.0.0.0/8",), lambda: 0.0)
    assert hub.allowed("http://127.0.0.1:8080/e")
    assert hub.allowed("https://localhost/e")
    assert not hub.allowed("https://192.168.1.50/Destination1")
    assert not hub.allowed("https://listener.example/e")  # names are never resolved


def test_power_on_queues_an_event_for_each_delivering_subscriber(service: RedfishService,
                                                                 bmc: Bmc):
    woken = []
    service.events.wake = lambda: woken.append(1)
    kept = send(service, "POST", SUBSCRIPTIONS, {"Destination": "http://127.0.0.1:9/e",
                                                 "Context": "c1"})
    remote = send(service, "POST", SUBSCRIPTIONS, {"Destination": "http://10.1.0.1/e"})
    assert (kept.status, remote.status) == (201, 201)
    bmc.power.request(PowerAction.ON)
    run_timers(bmc, CLOCK, 1.0)
    local = service.events.subscriptions["1"]
    documents = [document for _, document in local.queue]
    messages = [d["Events"][0]["MessageId"] for d in documents]
    assert "ResourceEvent.1.4.ResourcePoweredOn" in messages
    assert all(d["Context"] == "c1" for d in documents)
    assert documents[0]["Events"][0]["EventTimestamp"] == "2023-11-14T22:13:20+00:00"
    assert not service.events.subscriptions["2"].queue  # outside event_networks
    assert woken


def test_sse_open_answers_a_stream_and_lists_its_destination(service: RedfishService):
    opened = send(service, "GET", "/redfish/v1/EventService/SSE",
                  headers={"accept": "text/event-stream"})
    assert opened.status == 200 and opened.stream == "1"
    assert opened.content_type == "text/event-stream"
    listed = send(service, "GET", f"{SUBSCRIPTIONS}/1").body
    assert listed is not None and listed["SubscriptionType"] == "SSE"
    refused = send(service, "GET", "/redfish/v1/EventService/SSE",
                   headers={"accept": "application/json"})
    assert refused.status == 400 and message_id(refused).endswith("HeaderInvalid")


def test_submit_test_event_and_bad_subscriptions(service: RedfishService):
    send(service, "POST", SUBSCRIPTIONS, {"Destination": "http://127.0.0.1:9/e"})
    assert send(service, "POST", "/redfish/v1/EventService/Actions/"
                "EventService.SubmitTestEvent", {}).status == 204
    assert len(service.events.subscriptions["1"].queue) == 1
    for body, message in (({"Destination": "ftp://127.0.0.1/"}, "PropertyValueFormatError"),
                          ({}, "PropertyMissing"),
                          ({"Destination": "http://127.0.0.1/", "Bogus": 1}, "PropertyUnknown")):
        assert message_id(send(service, "POST", SUBSCRIPTIONS, body)).endswith(message)
    assert send(service, "DELETE", f"{SUBSCRIPTIONS}/1").status == 204
    assert send(service, "DELETE", f"{SUBSCRIPTIONS}/1").status == 404
