"""VirtualMedia: the model's slots, and Redfish InsertMedia/EjectMedia under Manager and System."""

from __future__ import annotations

import pytest

from pybmc.model.virtual_media import MediaError, MediaSlot, VirtualMedia
from pybmc.redfish.service import RedfishService
from tests.unit.test_redfish_service import bmc, message_id, send, service  # noqa: F401

MANAGER_CD = "/redfish/v1/Managers/BMC/VirtualMedia/Cd"
SYSTEM_CD = "/redfish/v1/Systems/t/VirtualMedia/Cd"
ISO = "http://127.0.0.1:8080/images/boot%20disk.iso"


class Drive:
    def __init__(self) -> None:
        self.changes: list[tuple[str, str, bool]] = []

    def media_changed(self, slot: MediaSlot) -> None:
        self.changes.append((slot.slot_id, slot.image, slot.inserted))


def test_slots_keep_state_and_tell_the_drive():
    drive = Drive()
    media = VirtualMedia("t", drive)
    slot = media.insert("Cd", ISO)
    assert (slot.inserted, slot.transfer_protocol, slot.image_name) == (
        True, "HTTP", "boot disk.iso")
    media.eject("Cd")
    assert drive.changes == [("Cd", ISO, True), ("Cd", "", False)]
    assert media.slots["Cd"].image == ""


@pytest.mark.parametrize(("kwargs", "parameter"), [
    ({"image": "ftp://127.0.0.1/x.iso"}, "Image"),
    ({"image": "nothing"}, "Image"),
    ({"image": ISO, "transfer_protocol": "HTTPS"}, "TransferProtocolType"),
    ({"image": ISO, "transfer_method": "Carrier pigeon"}, "TransferMethod"),
    ({"image": ISO, "write_protected": False}, "WriteProtected"),
])
def test_bad_inserts_name_their_parameter(kwargs: dict, parameter: str):
    with pytest.raises(MediaError) as err:
        VirtualMedia("t").insert("Cd", **kwargs)
    assert err.value.parameter == parameter


def test_insert_over_redfish_reads_back_under_manager_and_system(
        service: RedfishService):  # noqa: F811
    before = send(service, "GET", MANAGER_CD).body
    assert before is not None and (before["Inserted"], before["Image"]) == (False, None)
    action = before["Actions"]["#VirtualMedia.InsertMedia"]
    info = send(service, "GET", action["@Redfish.ActionInfo"]).body
    assert info is not None and info["Parameters"][0] == {
        "Name": "Image", "Required": True, "DataType": "String"}
    assert send(service, "POST", action["target"], {"Image": ISO, "Inserted": True,
                                                    "WriteProtected": True}).status == 204
    seen = send(service, "GET", SYSTEM_CD).body
    assert seen is not None
    assert (seen["Image"], seen["ImageName"], seen["Inserted"], seen["ConnectedVia"],
            seen["TransferProtocolType"]) == (ISO, "boot disk.iso", True, "URI", "HTTP")
    eject = seen["Actions"]["#VirtualMedia.EjectMedia"]["target"]
    assert send(service, "POST", eject, {}).status == 204
    assert send(service, "GET", MANAGER_CD).body["Inserted"] is False  # type: ignore[index]


def test_insert_refusals_and_usb_stick(service: RedfishService):  # noqa: F811
    insert = f"{SYSTEM_CD}/Actions/VirtualMedia.InsertMedia"
    assert message_id(send(service, "POST", insert, {})).endswith("ActionParameterMissing")
    assert message_id(send(service, "POST", insert, {"Image": "ftp://h/x"})).endswith(
        "ActionParameterValueError")
    assert message_id(send(service, "POST", insert, {"Image": ISO, "Bogus": 1})).endswith(
        "PropertyUnknown")
    usb = "/redfish/v1/Managers/BMC/VirtualMedia/UsbStick"
    assert send(service, "POST", f"{usb}/Actions/VirtualMedia.InsertMedia",
                {"Image": "https://127.0.0.1/stick.img", "WriteProtected": False}).status == 204
    stick = send(service, "GET", usb).body
    assert stick is not None and (stick["WriteProtected"], stick["TransferProtocolType"]) == (
        False, "HTTPS")
    assert send(service, "GET", "/redfish/v1/Managers/BMC/VirtualMedia/Floppy").status == 404
    assert send(service, "POST", insert, {"Image": ISO}, user=("viewer", "look")).status == 403


class FetchingDrive:
    """A drive that fetches in the background, as QEMU's does: the slot says "inserting"."""

    def media_changed(self, slot: MediaSlot) -> None:
        if slot.inserted:
            slot.state, slot.percent = "inserting", 0


def test_a_background_fetch_answers_202_with_a_task_that_follows_the_slot(
        service: RedfishService):  # noqa: F811
    service.media.drive = FetchingDrive()
    answer = send(service, "POST", f"{SYSTEM_CD}/Actions/VirtualMedia.InsertMedia",
                  {"Image": ISO})
    assert answer.status == 202
    location = answer.headers["Location"]
    assert location == "/redfish/v1/TaskService/Tasks/1"
    task = send(service, "GET", location).body
    assert task is not None and (task["TaskState"], task["PercentComplete"]) == ("Running", 0)
    slot = service.media.slots["Cd"]
    slot.state, slot.percent = "inserted", 100
    task = send(service, "GET", location).body
    assert task is not None and (task["TaskState"], task["PercentComplete"]) == (
        "Completed", 100)
    slot.state, slot.detail = "failed", "HTTP 404"
    assert send(service, "GET", location).body["TaskState"] == "Exception"  # type: ignore[index]
    send(service, "POST", f"{SYSTEM_CD}/Actions/VirtualMedia.EjectMedia", {})
    assert send(service, "GET", location).body["TaskState"] == "Cancelled"  # type: ignore[index]
    listed = send(service, "GET", "/redfish/v1/TaskService/Tasks").body
    assert listed is not None and listed["Members@odata.count"] == 1
