"""What every Redfish route handler shares: the routed Call, the Route record, and helpers."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pybmc.redfish import http
from pybmc.redfish.auth import Identity, SessionTable
from pybmc.redfish.http import Request, Response
from pybmc.wire.codes import Privilege

if TYPE_CHECKING:
    from pybmc.model.virtual_media import VirtualMedia
    from pybmc.redfish.event_hub import EventHub
    from pybmc.redfish.parts import RedfishParts
    from pybmc.redfish.task_list import TaskList

V1 = "/redfish/v1"
MANAGER_ID = "BMC"
R = Privilege  # USER = ReadOnly (Login), OPERATOR = ConfigureComponents, ADMINISTRATOR = all

@dataclass
class Call:
    """One routed request: the BMC parts, the caller, the path's parameters and JSON body."""

    parts: RedfishParts
    system_id: str
    sessions: SessionTable
    request: Request
    identity: Identity | None
    params: dict[str, str]
    body: dict[str, Any]
    now: float
    events: EventHub
    media: VirtualMedia
    tasks: TaskList


Handler = Callable[[Call], Response]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    privilege: Privilege  # USER = ReadOnly (Login), OPERATOR = ConfigureComponents, ...
    handler: Handler
    public: bool = False  # answered without credentials (service root documents)


def ok(body: dict[str, Any]) -> Response:
    return Response(200, body)


def system_uuid(parts: RedfishParts) -> str:
    # The IPMI System GUID goes on the wire with its bytes reversed.
    return str(uuid.UUID(bytes=bytes(parts.guid)[::-1]))


def check_system(call: Call) -> None:
    wanted = call.params["system_id"]
    if wanted not in (call.system_id, system_uuid(call.parts)):
        raise http.not_found(call.request.path)



def collection(path: str, kind: str, name: str, ids: list[str]) -> Response:
    return ok({
        "@odata.type": f"#{kind}Collection.{kind}Collection",
        "@odata.id": path,
        "Name": name,
        "Members": [{"@odata.id": f"{path}/{i}"} for i in ids],
        "Members@odata.count": len(ids),
    })


def check_id(call: Call, key: str, wanted: str) -> None:
    if call.params[key] != wanted:
        raise http.not_found(call.request.path)
