"""Systems/{id} SimpleStorage and Storage, and the Drives they hold: the host's disks (the
VM's, from its QEMU args; CD-ROMs are VirtualMedia), one controller holding them all. The
Drives live under the Chassis, where the schema now puts them."""

from __future__ import annotations

from typing import Any

from pybmc.model.inventory import Disk, inventory
from pybmc.redfish import http
from pybmc.redfish.http import Response
from pybmc.redfish.resource import V1, Call, R, Route, check_id, check_system, collection, ok

CONTROLLER_ID = "1"
PROTOCOLS = {"virtio": "PCIe", "nvme": "NVMe", "ide": "SATA", "sata": "SATA", "scsi": "SAS",
             "usb": "USB"}  # Redfish Protocol by QEMU bus


def _check_controller(call: Call) -> None:
    check_system(call)
    if call.params["storage_id"] != CONTROLLER_ID:
        raise http.not_found(call.request.path)


def _status(disk: Disk) -> dict[str, str]:
    if disk.path and disk.size_bytes is None:  # the image is missing or unreadable
        return {"State": "Enabled", "Health": "Warning"}
    return {"State": "Enabled", "Health": "OK"}


def get_simple_storage_collection(call: Call) -> Response:
    check_system(call)
    return collection(f"{V1}/Systems/{call.system_id}/SimpleStorage", "SimpleStorage",
                      "Simple Storage Collection", [CONTROLLER_ID])


def get_simple_storage(call: Call) -> Response:
    _check_controller(call)
    devices = []
    for disk in inventory(call.parts.config).disks:
        device: dict[str, Any] = {"Name": disk.disk_id, "Status": _status(disk)}
        if disk.size_bytes is not None:
            device["CapacityBytes"] = disk.size_bytes
        if disk.interface:
            device["Model"] = f"QEMU {disk.interface} disk"
        devices.append(device)
    return ok({
        "@odata.type": "#SimpleStorage.v1_3_0.SimpleStorage",
        "@odata.id": f"{V1}/Systems/{call.system_id}/SimpleStorage/{CONTROLLER_ID}",
        "Id": CONTROLLER_ID,
        "Name": "Disk controller",
        "Devices": devices,
        "Status": {"State": "Enabled", "Health": "OK"},
    })


def get_storage_collection(call: Call) -> Response:
    check_system(call)
    return collection(f"{V1}/Systems/{call.system_id}/Storage", "Storage",
                      "Storage Collection", [CONTROLLER_ID])


def get_storage(call: Call) -> Response:
    _check_controller(call)
    base = f"{V1}/Systems/{call.system_id}/Storage/{CONTROLLER_ID}"
    drives = [{"@odata.id": f"{V1}/Chassis/{call.system_id}/Drives/{d.disk_id}"}
              for d in inventory(call.parts.config).disks]
    return ok({
        "@odata.type": "#Storage.v1_15_0.Storage",
        "@odata.id": base,
        "Id": CONTROLLER_ID,
        "Name": "Disk controller",
        "Drives": drives,
        "Drives@odata.count": len(drives),
        "Status": {"State": "Enabled", "Health": "OK"},
    })


def get_drives(call: Call) -> Response:
    check_id(call, "chassis_id", call.system_id)
    return collection(f"{V1}/Chassis/{call.system_id}/Drives", "Drive", "Drive Collection",
                      [d.disk_id for d in inventory(call.parts.config).disks])


def get_drive(call: Call) -> Response:
    check_id(call, "chassis_id", call.system_id)
    wanted = call.params["drive_id"]
    disk = next((d for d in inventory(call.parts.config).disks if d.disk_id == wanted), None)
    if disk is None:
        raise http.not_found(call.request.path)
    body: dict[str, Any] = {
        "@odata.type": "#Drive.v1_17_0.Drive",
        "@odata.id": f"{V1}/Chassis/{call.system_id}/Drives/{disk.disk_id}",
        "Id": disk.disk_id,
        "Name": f"Disk {disk.disk_id}",
        "MediaType": "HDD",
        "Status": _status(disk),
        "Links": {"Storage": {"@odata.id": f"{V1}/Systems/{call.system_id}/Storage/"
                                           f"{CONTROLLER_ID}"}},
    }
    if disk.size_bytes is not None:
        body["CapacityBytes"] = disk.size_bytes
    if disk.interface in PROTOCOLS:
        body["Protocol"] = PROTOCOLS[disk.interface]
    return ok(body)


_SYSTEM = f"{V1}/Systems/{{system_id}}"
ROUTES: tuple[Route, ...] = (
    Route("GET", f"{_SYSTEM}/SimpleStorage", R.USER, get_simple_storage_collection),
    Route("GET", f"{_SYSTEM}/SimpleStorage/{{storage_id}}", R.USER, get_simple_storage),
    Route("GET", f"{_SYSTEM}/Storage", R.USER, get_storage_collection),
    Route("GET", f"{_SYSTEM}/Storage/{{storage_id}}", R.USER, get_storage),
    Route("GET", f"{V1}/Chassis/{{chassis_id}}/Drives", R.USER, get_drives),
    Route("GET", f"{V1}/Chassis/{{chassis_id}}/Drives/{{drive_id}}", R.USER, get_drive),
)
