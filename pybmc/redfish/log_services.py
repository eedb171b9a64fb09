"""LogServices backed by the SEL, under the System and the Manager: entries and ClearLog.

Both LogServices show the one System Event Log IPMI reads (`ipmitool sel list`): an entry
logged over IPMI is an entry here at once, and ClearLog is the erase `ipmitool sel clear`
does, itself logged as one ("log area reset/cleared"). Entry Ids are the SEL record IDs.
"""

from __future__ import annotations

import datetime as dt
import struct
from typing import Any

from pybmc.model.platform.event_text import SENSOR_SPECIFIC, THRESHOLD, event_words
from pybmc.model.platform.sel import SYSTEM_EVENT_RECORD, UTC_OFFSET_UNSPECIFIED
from pybmc.redfish import http
from pybmc.redfish.http import Response
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

LOG_ID = "SEL"
CLEAR = "LogService.ClearLog"

# IPMI sensor type (table 42-3) -> LogEntry SensorType (the schema's names for them).
SENSOR_TYPES = (
    "Temperature", "Voltage", "Current", "Fan", "Physical Chassis Security",
    "Platform Security Violation Attempt", "Processor", "Power Supply / Converter",
    "PowerUnit", "CoolingDevice", "Other Units-based Sensor", "Memory", "Drive Slot/Bay",
    "POST Memory Resize", "System Firmware Progress", "Event Logging Disabled", "Watchdog",
    "System Event", "Critical Interrupt", "Button/Switch", "Module/Board",
    "Microcontroller/Coprocessor", "Add-in Card", "Chassis", "ChipSet", "Other FRU",
    "Cable/Interconnect", "Terminator", "SystemBoot/Restart", "Boot Error",
    "BaseOSBoot/InstallationStatus", "OS Stop/Shutdown", "Slot/Connector",
    "System ACPI PowerState", "Watchdog", "Platform Alert", "Entity Presence",
    "Monitor ASIC/IC", "LAN", "Management Subsystem Health", "Battery", "Session Audit",
    "Version Change", "FRUState",
)  # index = sensor type - 1
OEM_SENSOR_TYPES = 0xC0

# Threshold event offsets 0..11 (table 42-2) as LogEntry EntryCode names them.
THRESHOLD_CODES = tuple(
    f"{side} {level} - going {way}"
    for side in ("Lower", "Upper")
    for level in ("Non-critical", "Critical", "Non-recoverable")
    for way in ("low", "high"))
THRESHOLD_SEVERITY = ("Warning", "Warning", "Critical", "Critical", "Critical", "Critical") * 2
# Sensor-specific events that are not routine: (sensor type, offset) -> severity.
SPECIFIC_SEVERITY = {
    (0x09, 4): "Critical", (0x09, 5): "Critical", (0x09, 6): "Critical",  # AC lost, failures
    (0x10, 4): "Warning", (0x10, 5): "Warning",  # SEL full / almost full
    (0x23, 0): "Warning", (0x23, 1): "Warning", (0x23, 2): "Warning", (0x23, 3): "Warning",
}


def iso_time(timestamp: float, utc_offset_minutes: int = 0) -> str:
    zone = dt.timezone(dt.timedelta(minutes=utc_offset_minutes))
    return dt.datetime.fromtimestamp(timestamp, zone).isoformat(timespec="seconds")


def local_offset(minutes: int) -> tuple[int, str]:
    """The SEL's UTC offset in minutes (0 when unspecified) and as "+HH:MM"."""
    if minutes == UTC_OFFSET_UNSPECIFIED:
        minutes = 0
    sign = "-" if minutes < 0 else "+"
    return minutes, f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _base(call: Call) -> str:
    """The LogServices collection the request came through (System or Manager)."""
    if "manager_id" in call.params:
        check_id(call, "manager_id", MANAGER_ID)
        return f"{V1}/Managers/{MANAGER_ID}/LogServices"
    check_system(call)
    return f"{V1}/Systems/{call.params['system_id']}/LogServices"


def _service_path(call: Call) -> str:
    base = _base(call)
    check_id(call, "log_id", LOG_ID)
    return f"{base}/{LOG_ID}"


def entry_document(call: Call, path: str, entry: bytes) -> dict[str, Any]:
    """One SEL record as a LogEntry, decoded as pybmc's own SEL log lines are."""
    record_id, record_type, stamp = struct.unpack_from("<HBI", entry)
    minutes, _ = local_offset(call.parts.platform.sel.utc_offset)
    document: dict[str, Any] = {
        "@odata.type": "#LogEntry.v1_15_0.LogEntry",
        "@odata.id": f"{path}/{record_id}",
        "Id": str(record_id),
        "Name": f"SEL entry {record_id}",
        "EntryType": "SEL",
        "Created": iso_time(stamp, minutes),
        "Oem": {"pybmc": {"SelRecord": entry.hex()}},
    }
    if record_type != SYSTEM_EVENT_RECORD:
        document.update(Severity="OK",
                        Message=f"OEM record type {record_type:#04x}: {entry[3:].hex()}")
        return document
    sensor_type, number, dir_type = entry[10], entry[11], entry[12]
    data = entry[13:16]
    reading_type, assertion = dir_type & 0x7F, not dir_type & 0x80
    offset = data[0] & 0x0F
    sensor = call.parts.platform.by_number.get(number)
    name = sensor.name if sensor is not None else f"sensor {number}"
    words = event_words(sensor_type, reading_type, data)
    if reading_type == THRESHOLD and offset < len(THRESHOLD_CODES):
        code = THRESHOLD_CODES[offset]
        severity = THRESHOLD_SEVERITY[offset] if assertion else "OK"
    else:
        code = "Assert" if assertion else "Deassert"
        specific = SPECIFIC_SEVERITY.get((sensor_type, offset), "OK")
        severity = specific if reading_type == SENSOR_SPECIFIC and assertion else "OK"
    if 1 <= sensor_type <= len(SENSOR_TYPES):
        document["SensorType"] = SENSOR_TYPES[sensor_type - 1]
    elif sensor_type >= OEM_SENSOR_TYPES:
        document["SensorType"] = "OEM"
    document.update(
        Message=f"{name}: {words} ({'asserted' if assertion else 'deasserted'})",
        MessageId="0x" + bytes([dir_type, *data]).hex().upper(),
        EntryCode=code,
        SensorNumber=number,
        Severity=severity,
    )
    return document


def get_log_services(call: Call) -> Response:
    base = _base(call)
    return collection(base, "LogService", "Log Service Collection", [LOG_ID])


def get_log_service(call: Call) -> Response:
    path = _service_path(call)
    sel = call.parts.platform.sel
    minutes, offset = local_offset(sel.utc_offset)
    return ok({
        "@odata.type": "#LogService.v1_5_0.LogService",
        "@odata.id": path,
        "Id": LOG_ID,
        "Name": "System Event Log",
        "Description": "The IPMI System Event Log",
        "LogEntryType": "SEL",
        "MaxNumberOfRecords": sel.capacity,
        "OverWritePolicy": "NeverOverWrites",  # a full SEL drops new events, as IPMI says
        "DateTime": iso_time(sel.now(), minutes),
        "DateTimeLocalOffset": offset,
        "ServiceEnabled": call.parts.platform.logging_enabled(),
        "Status": {"State": "Enabled", "Health": "Warning" if sel.full else "OK"},
        "Entries": {"@odata.id": f"{path}/Entries"},
        "Actions": {f"#{CLEAR}": {"target": f"{path}/Actions/{CLEAR}"}},
    })


def get_log_entries(call: Call) -> Response:
    path = f"{_service_path(call)}/Entries"
    members = [entry_document(call, path, entry) for entry in call.parts.platform.sel.entries]
    return ok({
        "@odata.type": "#LogEntryCollection.LogEntryCollection",
        "@odata.id": path,
        "Name": "System Event Log Entries",
        "Members": members,
        "Members@odata.count": len(members),
    })


def get_log_entry(call: Call) -> Response:
    path = f"{_service_path(call)}/Entries"
    wanted = call.params["entry_id"]
    for entry in call.parts.platform.sel.entries:
        if wanted == str(struct.unpack_from("<H", entry)[0]):
            return ok(entry_document(call, path, entry))
    raise http.not_found(call.request.path)


def clear_log(call: Call) -> Response:
    """The Clear SEL erase (IPMI's `sel clear`), logged as "log area reset/cleared"."""
    _service_path(call)
    call.parts.platform.erase_sel()
    return Response(204)


def _routes(base: str) -> tuple[Route, ...]:
    service = f"{base}/{{log_id}}"
    return (
        Route("GET", base, R.USER, get_log_services),
        Route("GET", service, R.USER, get_log_service),
        Route("GET", f"{service}/Entries", R.USER, get_log_entries),
        Route("GET", f"{service}/Entries/{{entry_id}}", R.USER, get_log_entry),
        Route("POST", f"{service}/Actions/{CLEAR}", R.OPERATOR, clear_log),
    )


ROUTES: tuple[Route, ...] = (
    *_routes(f"{V1}/Systems/{{system_id}}/LogServices"),
    *_routes(f"{V1}/Managers/{{manager_id}}/LogServices"),
)
