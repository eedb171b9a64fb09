"""VirtualMedia under the Manager and the System (Ironic looks in both): InsertMedia, EjectMedia."""

from __future__ import annotations

from typing import Any

from pybmc.model.virtual_media import TRANSFER_METHODS, MediaError, MediaSlot
from pybmc.redfish import http
from pybmc.redfish.http import RedfishError, Response
from pybmc.redfish.resource import (
    MANAGER_ID,
    V1,
    Call,
    R,
    Route,
    check_id,
    check_system,
    collection,
    ok,
)
from pybmc.redfish.task_list import TASKS, task_document

INSERT = "VirtualMedia.InsertMedia"
EJECT = "VirtualMedia.EjectMedia"
INSERT_PARAMETERS = ("Image", "Inserted", "WriteProtected", "TransferMethod",
                     "TransferProtocolType", "UserName", "Password")


def _base(call: Call) -> str:
    """The VirtualMedia collection the request came through (Manager or System)."""
    if "manager_id" in call.params:
        check_id(call, "manager_id", MANAGER_ID)
        return f"{V1}/Managers/{MANAGER_ID}/VirtualMedia"
    check_system(call)
    return f"{V1}/Systems/{call.params['system_id']}/VirtualMedia"


def _slot(call: Call) -> tuple[str, MediaSlot]:
    base = _base(call)
    slot = call.media.slots.get(call.params["media_id"])
    if slot is None:
        raise http.not_found(call.request.path)
    return base, slot


def get_media_collection(call: Call) -> Response:
    return collection(_base(call), "VirtualMedia", "Virtual Media", list(call.media.slots))


def get_media(call: Call) -> Response:
    base, slot = _slot(call)
    path = f"{base}/{slot.slot_id}"
    body: dict[str, Any] = {
        "@odata.type": "#VirtualMedia.v1_6_0.VirtualMedia",
        "@odata.id": path,
        "Id": slot.slot_id,
        "Name": "Virtual CD" if slot.slot_id == "Cd" else "Virtual USB stick",
        "MediaTypes": list(slot.media_types),
        "Image": slot.image or None,
        "ImageName": slot.image_name or None,
        "Inserted": slot.inserted,
        "WriteProtected": slot.write_protected,
        "ConnectedVia": "URI" if slot.image else "NotConnected",
        "TransferMethod": slot.transfer_method,
        "TransferProtocolType": slot.transfer_protocol or None,
        "Status": {"State": "Enabled",
                   "Health": "Warning" if slot.state == "failed" else "OK"},
        "Actions": {
            f"#{INSERT}": {"target": f"{path}/Actions/{INSERT}",
                           "@Redfish.ActionInfo": f"{path}/InsertMediaActionInfo"},
            f"#{EJECT}": {"target": f"{path}/Actions/{EJECT}"},
        },
    }
    return ok(body)


def get_insert_action_info(call: Call) -> Response:
    base, slot = _slot(call)

    def parameter(name: str, kind: str, required: bool = False,
                  allowed: tuple[str, ...] = ()) -> dict[str, Any]:
        entry: dict[str, Any] = {"Name": name, "Required": required, "DataType": kind}
        if allowed:
            entry["AllowableValues"] = list(allowed)
        return entry

    return ok({
        "@odata.type": "#ActionInfo.v1_3_0.ActionInfo",
        "@odata.id": f"{base}/{slot.slot_id}/InsertMediaActionInfo",
        "Id": "InsertMediaActionInfo",
        "Name": "Insert Media Action Info",
        "Parameters": [
            parameter("Image", "String", required=True),
            parameter("Inserted", "Boolean"),
            parameter("WriteProtected", "Boolean"),
            parameter("TransferMethod", "String", allowed=TRANSFER_METHODS),
            parameter("TransferProtocolType", "String", allowed=("HTTP", "HTTPS")),
            parameter("UserName", "String"),
            parameter("Password", "String"),
        ],
    })


def _flag(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise http.property_value_format_error(value, name)
    return value


def insert_media(call: Call) -> Response:
    _, slot = _slot(call)
    body = call.body
    for name in body:
        if name not in INSERT_PARAMETERS:
            raise http.property_unknown(name)
    image = body.get("Image")
    if image is None:
        raise http.action_parameter_missing(INSERT, "Image")
    if not isinstance(image, str):
        raise http.property_value_format_error(image, "Image")
    method = body.get("TransferMethod", "Stream")
    protocol = body.get("TransferProtocolType")
    try:
        call.media.insert(slot.slot_id, image, _flag(body, "Inserted", True),
                          _flag(body, "WriteProtected", True), str(method),
                          None if protocol is None else str(protocol))
    except MediaError as err:
        raise RedfishError(400, "ActionParameterValueError", f"The value for the parameter "
                           f"{err.parameter} in the action {INSERT} is invalid: {err}.",
                           (err.parameter, INSERT)) from None
    if slot.state == "inserting":  # the backend fetches the image: a task reports it
        task = call.tasks.start(slot, call.events.wall_clock())
        return Response(202, task_document(task), {"Location": f"{TASKS}/{task.task_id}"})
    return Response(204)


def eject_media(call: Call) -> Response:
    _, slot = _slot(call)
    call.media.eject(slot.slot_id)
    return Response(204)


def _routes(base: str) -> tuple[Route, ...]:
    item = f"{base}/{{media_id}}"
    return (
        Route("GET", base, R.USER, get_media_collection),
        Route("GET", item, R.USER, get_media),
        Route("GET", f"{item}/InsertMediaActionInfo", R.USER, get_insert_action_info),
        Route("POST", f"{item}/Actions/{INSERT}", R.OPERATOR, insert_media),
        Route("POST", f"{item}/Actions/{EJECT}", R.OPERATOR, eject_media),
    )


ROUTES: tuple[Route, ...] = (
    *_routes(f"{V1}/Managers/{{manager_id}}/VirtualMedia"),
    *_routes(f"{V1}/Systems/{{system_id}}/VirtualMedia"),
)
