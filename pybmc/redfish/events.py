"""EventService routes: the service, its subscriptions (EventDestinations), the SSE stream."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from pybmc.redfish import http
from pybmc.redfish.event_hub import REGISTRY, Subscription
from pybmc.redfish.http import RedfishError, Response
from pybmc.redfish.resource import V1, Call, R, Route, collection, ok

log = logging.getLogger("pybmc.redfish")

SERVICE = f"{V1}/EventService"
SUBSCRIPTIONS = f"{SERVICE}/Subscriptions"
SSE_URI = f"{SERVICE}/SSE"
SUBSCRIPTION_LIMIT = 16
WRITABLE = ("Destination", "Protocol", "Context", "EventFormatType", "SubscriptionType",
            "RegistryPrefixes", "ResourceTypes", "HttpHeaders", "DeliveryRetryPolicy")


# ----------------------------------------------------------------- routes
def get_event_service(call: Call) -> Response:
    return ok({
        "@odata.type": "#EventService.v1_10_0.EventService",
        "@odata.id": SERVICE,
        "Id": "EventService",
        "Name": "Event Service",
        "ServiceEnabled": True,
        "Status": {"State": "Enabled", "Health": "OK"},
        "DeliveryRetryAttempts": 1,
        "DeliveryRetryIntervalSeconds": 5,
        "EventFormatTypes": ["Event"],
        "RegistryPrefixes": ["ResourceEvent"],
        "ServerSentEventUri": SSE_URI,
        "Subscriptions": {"@odata.id": SUBSCRIPTIONS},
        "Actions": {"#EventService.SubmitTestEvent": {
            "target": f"{SERVICE}/Actions/EventService.SubmitTestEvent"}},
    })


def get_subscriptions(call: Call) -> Response:
    return collection(SUBSCRIPTIONS, "EventDestination", "Event Subscriptions",
                      sorted(call.events.subscriptions, key=int))


def _subscription(call: Call) -> Subscription:
    sub = call.events.subscriptions.get(call.params["subscription_id"])
    if sub is None:
        raise http.not_found(call.request.path)
    return sub


def get_subscription(call: Call) -> Response:
    sub = _subscription(call)
    body: dict[str, Any] = {
        "@odata.type": "#EventDestination.v1_13_0.EventDestination",
        "@odata.id": f"{SUBSCRIPTIONS}/{sub.sid}",
        "Id": sub.sid,
        "Name": "Event Subscription",
        "Context": sub.context,
        "Protocol": "Redfish",
        "EventFormatType": "Event",
        "SubscriptionType": "SSE" if sub.sse else "RedfishEvent",
        "Status": {"State": "Enabled" if sub.deliver else "Disabled", "Health": "OK"},
    }
    if not sub.sse:
        body["Destination"] = sub.destination
        body["HttpHeaders"] = []  # write-only: never read back
    return ok(body)


def _string(body: dict[str, Any], name: str, default: str | None = None) -> str:
    value = body.get(name, default)
    if value is None:
        raise http.property_missing(name)
    if not isinstance(value, str):
        raise http.property_value_format_error(value, name)
    return value


def post_subscription(call: Call) -> Response:
    body = call.body
    for name in body:
        if name not in WRITABLE:
            raise http.property_unknown(name)
    destination = _string(body, "Destination")
    if urlsplit(destination).scheme not in ("http", "https") \
            or not urlsplit(destination).hostname:
        raise http.property_value_format_error(destination, "Destination")
    protocol = _string(body, "Protocol", "Redfish")
    if protocol != "Redfish":
        raise http.property_value_not_in_list(protocol, "Protocol")
    for name, allowed in (("EventFormatType", "Event"), ("SubscriptionType", "RedfishEvent")):
        if name in body and body[name] != allowed:
            raise http.property_value_not_in_list(body[name], name)
    headers = body.get("HttpHeaders", [])
    if not isinstance(headers, list) or not all(
            isinstance(h, dict) and all(isinstance(v, str) for v in h.values())
            for h in headers):
        raise http.property_value_format_error("...", "HttpHeaders")  # may hold secrets
    if len(call.events.subscriptions) >= SUBSCRIPTION_LIMIT:
        raise http.create_limit_reached()
    sub = call.events.subscribe(destination, _string(body, "Context", ""), _who(call),
                                headers={k: v for h in headers for k, v in h.items()})
    if not sub.deliver:
        log.warning("%s: event subscription %s to %s accepted, but no events are sent "
                    "there: not in [redfish] event_networks", call.parts.name, sub.sid,
                    destination)
    else:
        log.info("%s: event subscription %s to %s", call.parts.name, sub.sid, destination)
    answer = get_subscription(_with_id(call, sub.sid))
    return Response(201, answer.body, {"Location": f"{SUBSCRIPTIONS}/{sub.sid}"})


def delete_subscription(call: Call) -> Response:
    sub = _subscription(call)
    call.events.unsubscribe(sub.sid)
    log.info("%s: event subscription %s removed", call.parts.name, sub.sid)
    return Response(204)


def open_sse(call: Call) -> Response:
    """GET ServerSentEventUri: a new SSE EventDestination, streamed by the edge until the
    client goes away or the destination is deleted."""
    accept = call.request.header("accept")
    if accept and not any(kind in accept for kind in ("text/event-stream", "*/*")):
        raise RedfishError(400, "HeaderInvalid", f"The header 'Accept: {accept}' is invalid: "
                           "the SSE stream is text/event-stream.", (f"Accept: {accept}",))
    if len(call.events.subscriptions) >= SUBSCRIPTION_LIMIT:
        raise http.create_limit_reached()
    sub = call.events.subscribe(SSE_URI, "", _who(call), sse=True)
    log.info("%s: SSE stream %s opened by %s", call.parts.name, sub.sid, _who(call))
    return Response(200, None, {"Cache-Control": "no-cache"}, stream=sub.sid)


def submit_test_event(call: Call) -> Response:
    message_id = call.body.get("MessageId", f"{REGISTRY}.ResourceChanged")
    if not isinstance(message_id, str):
        raise http.property_value_format_error(message_id, "MessageId")
    registry, _, name = message_id.rpartition(".")
    message = call.body.get("Message", "One or more resource properties have changed.")
    call.events.publish(name or "ResourceChanged", str(message), [],
                        registry=registry or REGISTRY)
    return Response(204)


def _with_id(call: Call, sid: str) -> Call:
    return Call(call.parts, call.system_id, call.sessions, call.request, call.identity,
                {"subscription_id": sid}, call.body, call.now, call.events, call.media,
                call.tasks)


def _who(call: Call) -> str:
    return call.identity.user_name if call.identity else "-"


ROUTES: tuple[Route, ...] = (
    Route("GET", SERVICE, R.USER, get_event_service),
    Route("POST", f"{SERVICE}/Actions/EventService.SubmitTestEvent", R.ADMINISTRATOR,
          submit_test_event),
    Route("GET", SUBSCRIPTIONS, R.USER, get_subscriptions),
    Route("POST", SUBSCRIPTIONS, R.OPERATOR, post_subscription),
    Route("GET", f"{SUBSCRIPTIONS}/{{subscription_id}}", R.USER, get_subscription),
    Route("DELETE", f"{SUBSCRIPTIONS}/{{subscription_id}}", R.OPERATOR, delete_subscription),
    Route("GET", SSE_URI, R.USER, open_sse),
)
