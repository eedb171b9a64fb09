"""The EventService's subscriptions and the Redfish Events waiting for them (sans-IO).

The hub turns platform notices (power on/off, SEL records) into Redfish Event documents and
queues them per subscription; the edge POSTs the queued ones to their destinations and
writes SSE streams' ones to the open connection (`EventHub.wake` tells it).
"""

from __future__ import annotations

import datetime
import ipaddress
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pybmc.model.platform import PlatformNotice

REGISTRY = "ResourceEvent.1.4"
QUEUE_LIMIT = 256  # events kept for a slow reader before the oldest are dropped


@dataclass
class Subscription:
    """One EventDestination: an HTTP listener events are POSTed to, or an open SSE stream."""

    sid: str
    destination: str
    context: str
    sse: bool
    user_name: str
    deliver: bool = True  # False: the destination is outside [redfish] event_networks
    headers: dict[str, str] = field(default_factory=dict)
    queue: deque[tuple[int, dict[str, Any]]] = field(
        default_factory=lambda: deque(maxlen=QUEUE_LIMIT))


class EventHub:
    """One BMC's subscriptions and the events waiting for them."""

    def __init__(self, system_path: str, networks: tuple[str, ...],
                 wall_clock: Callable[[], float]) -> None:
        self.system_path = system_path
        self.networks = [ipaddress.ip_network(n) for n in networks]
        self.wall_clock = wall_clock
        self.subscriptions: dict[str, Subscription] = {}
        self.wake: Callable[[], None] = lambda: None  # the edge's: "events are queued"
        self._next_sid = 1
        self._next_event = 1

    # ----------------------------------------------------------- subscriptions
    def subscribe(self, destination: str, context: str, user_name: str, sse: bool = False,
                  headers: dict[str, str] | None = None) -> Subscription:
        sid = str(self._next_sid)
        self._next_sid += 1
        sub = Subscription(sid, destination, context, sse, user_name,
                           deliver=sse or self.allowed(destination), headers=headers or {})
        self.subscriptions[sid] = sub
        return sub

    def unsubscribe(self, sid: str) -> bool:
        gone = self.subscriptions.pop(sid, None) is not None
        if gone:
            self.wake()  # an SSE stream of this subscription closes
        return gone

    def allowed(self, destination: str) -> bool:
        host = urlsplit(destination).hostname or ""
        if host == "localhost":
            host = "127.0.0.1"
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False  # names are not resolved: only addresses can be checked
        return any(address in network for network in self.networks)

    # ----------------------------------------------------------- events
    def on_notice(self, notice: PlatformNotice) -> None:
        """A platform notice as an Event for every subscription (the Platform's listener)."""
        if notice.kind in ("on", "off"):
            what = "powered on" if notice.kind == "on" else "powered off"
            self.publish(f"ResourcePowered{notice.kind.capitalize()}",
                         f"The resource '{self.system_path}' has {what}.", [self.system_path])
        elif notice.kind == "sel":
            self.publish("ResourceChanged", "One or more resource properties have changed.",
                         [], oem={"SelRecordId": notice.record_id,
                                  "SelRecord": notice.record.hex()})

    def publish(self, message_id: str, message: str, args: list[str],
                oem: dict[str, Any] | None = None, registry: str = REGISTRY) -> int:
        event_id = self._next_event
        self._next_event += 1
        stamp = datetime.datetime.fromtimestamp(self.wall_clock(), datetime.UTC)
        record: dict[str, Any] = {
            "EventId": str(event_id),
            "EventTimestamp": stamp.isoformat(timespec="seconds"),
            "MessageId": f"{registry}.{message_id}",
            "Message": message,
            "MessageArgs": args,
            "MessageSeverity": "OK",
            "OriginOfCondition": {"@odata.id": self.system_path},
        }
        if oem:
            record["Oem"] = {"pybmc": oem}
        for sub in self.subscriptions.values():
            if sub.deliver:
                sub.queue.append((event_id, self.document(event_id, sub, record)))
        if any(sub.queue for sub in self.subscriptions.values()):
            self.wake()
        return event_id

    @staticmethod
    def document(event_id: int, sub: Subscription, record: dict[str, Any]) -> dict[str, Any]:
        return {
            "@odata.type": "#Event.v1_7_0.Event",
            "Id": str(event_id),
            "Name": "pybmc event",
            "Context": sub.context,
            "Events": [record],
        }
