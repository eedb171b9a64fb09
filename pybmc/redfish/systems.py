"""ComputerSystem: power state and Reset over the power backend, Boot over the IPMI boot flags."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pybmc.model import boot
from pybmc.model.power import PowerAction, PowerError
from pybmc.redfish import http
from pybmc.redfish.chassis import (
    IDENTIFY_PROPERTIES,
    identify_properties,
    set_identify,
    wanted_identify,
)
from pybmc.redfish.http import RedfishError, Response
from pybmc.redfish.resource import (
    V1,
    Call,
    R,
    Route,
    check_system,
    ok,
    system_uuid,
)
from pybmc.redfish.system_inventory import system_inventory

if TYPE_CHECKING:
    from pybmc.redfish.parts import RedfishParts


def get_systems(call: Call) -> Response:
    return ok({
        "@odata.type": "#ComputerSystemCollection.ComputerSystemCollection",
        "@odata.id": f"{V1}/Systems",
        "Name": "Computer System Collection",
        "Members": [{"@odata.id": f"{V1}/Systems/{call.system_id}"}],
        "Members@odata.count": 1,
    })

RESET_ACTIONS = {
    "On": PowerAction.ON,
    "ForceOff": PowerAction.OFF,
    "GracefulShutdown": PowerAction.SOFT_OFF,
    "GracefulRestart": PowerAction.RESET,
    "ForceRestart": PowerAction.RESET,
    "PowerCycle": PowerAction.CYCLE,
    "Nmi": PowerAction.DIAG,
    "PushPowerButton": PowerAction.ON,  # off -> on; on -> soft off (see reset_system)
}

# Redfish BootSourceOverrideTarget <-> pybmc.model.boot device names.
# UefiHttp is PXE with the EFI bit on IPMI (pybmc.model.boot keeps the difference).
DEVICE_BY_TARGET = {"None": "default", "Pxe": "pxe", "Hdd": "disk", "Cd": "cdrom",
                    "BiosSetup": "bios", "Usb": "floppy", "UefiHttp": "http"}
MAX_URI_LENGTH = 1024
TARGET_BY_DEVICE = {device: target for target, device in DEVICE_BY_TARGET.items()}
ENABLED_VALUES = ("Disabled", "Once", "Continuous")
MODE_VALUES = ("Legacy", "UEFI")


def _boot_document(parts: RedfishParts) -> dict[str, Any]:
    override = boot.boot_override(parts.state)
    if not override.enabled:
        enabled = "Disabled"
    else:
        enabled = "Continuous" if override.persistent else "Once"
    return {
        "BootSourceOverrideTarget": TARGET_BY_DEVICE.get(override.device, "None"),
        "BootSourceOverrideTarget@Redfish.AllowableValues": list(DEVICE_BY_TARGET),
        "BootSourceOverrideEnabled": enabled,
        "BootSourceOverrideEnabled@Redfish.AllowableValues": list(ENABLED_VALUES),
        "BootSourceOverrideMode": "UEFI" if override.efi else "Legacy",
        "BootSourceOverrideMode@Redfish.AllowableValues": list(MODE_VALUES),
        "HttpBootUri": boot.http_boot_uri(parts.state),
    }


def get_system(call: Call) -> Response:
    check_system(call)
    parts = call.parts
    sid = call.system_id
    return ok({
        "@odata.type": "#ComputerSystem.v1_20_0.ComputerSystem",
        "@odata.id": f"{V1}/Systems/{sid}",
        "Id": sid,
        "Name": parts.name,
        "SystemType": "Virtual" if parts.config.power.backend == "qemu" else "Physical",
        "UUID": system_uuid(parts),
        "PowerState": "On" if parts.power.is_on() else "Off",
        **identify_properties(call),
        "Status": {"State": "Enabled", "Health": "OK"},
        "Boot": _boot_document(parts),
        **system_inventory(call),
        "VirtualMedia": {"@odata.id": f"{V1}/Systems/{sid}/VirtualMedia"},
        "LogServices": {"@odata.id": f"{V1}/Systems/{sid}/LogServices"},
        "Actions": {"#ComputerSystem.Reset": {
            "target": f"{V1}/Systems/{sid}/Actions/ComputerSystem.Reset",
            "ResetType@Redfish.AllowableValues": list(RESET_ACTIONS),
        }},
    })


def patch_system(call: Call) -> Response:
    check_system(call)
    lit: bool | None = None
    for name, value in call.body.items():
        if name == "Boot":
            continue
        if name in IDENTIFY_PROPERTIES:  # the system's identify light is the chassis'
            lit = wanted_identify(name, value)
            continue
        if name in ("Id", "Name", "UUID", "PowerState", "Status", "SystemType",
                    "LogServices"):
            raise http.property_not_writable(name)
        raise http.property_unknown(name)
    if "Boot" not in call.body:
        if lit is not None:
            set_identify(call, lit)
        return Response(204)
    wanted = call.body.get("Boot", {})
    if not isinstance(wanted, dict):
        raise http.property_value_not_in_list(wanted, "Boot")
    current = boot.boot_override(call.parts.state)
    device, enabled, persistent, efi = (current.device, current.enabled,
                                        current.persistent, current.efi)
    uri = boot.http_boot_uri(call.parts.state)
    for name, value in wanted.items():
        if name == "BootSourceOverrideTarget":
            if value not in DEVICE_BY_TARGET:
                raise http.property_value_not_in_list(value, name)
            device = DEVICE_BY_TARGET[value]
        elif name == "BootSourceOverrideEnabled":
            if value not in ENABLED_VALUES:
                raise http.property_value_not_in_list(value, name)
            enabled = value != "Disabled"
            persistent = value == "Continuous"
        elif name == "BootSourceOverrideMode":
            if value not in MODE_VALUES:
                raise http.property_value_not_in_list(value, name)
            efi = value == "UEFI"
        elif name == "HttpBootUri":
            uri = _http_boot_uri(value)
        else:
            raise http.property_unknown(f"Boot/{name}")
    if "BootSourceOverrideTarget" in wanted and "BootSourceOverrideEnabled" not in wanted \
            and not enabled and device != "default":
        enabled = True  # a target alone means "next boot", as sushy and bmcweb treat it
    if device == "http" and not efi:
        if wanted.get("BootSourceOverrideMode") == "Legacy":
            raise RedfishError(400, "PropertyValueConflict", "The property "
                               "BootSourceOverrideTarget could not be written because its "
                               "value would conflict with the value of the "
                               "BootSourceOverrideMode property.",
                               ("BootSourceOverrideTarget", "BootSourceOverrideMode"))
        efi = True  # HTTP boot is UEFI's; IPMI records it with the EFI bit
    boot.set_boot_override(call.parts.state,
                           boot.BootOverride(device, enabled, persistent, efi))
    boot.set_http_boot_uri(call.parts.state, uri)
    if lit is not None:
        set_identify(call, lit)
    return Response(204)


def _http_boot_uri(value: Any) -> str | None:
    """A PATCHed HttpBootUri: an http(s) URL, or null/"" to let the firmware ask DHCP."""
    if value is None or value == "":
        return None
    if (not isinstance(value, str) or len(value) > MAX_URI_LENGTH
            or not value.startswith(("http://", "https://")) or any(c.isspace() for c in value)):
        raise http.property_value_format_error(value, "Boot/HttpBootUri")
    return value


def reset_system(call: Call) -> Response:
    check_system(call)
    reset_type = call.body.get("ResetType")
    if reset_type is None:
        raise http.action_parameter_missing("ComputerSystem.Reset", "ResetType")
    if reset_type not in RESET_ACTIONS:
        raise http.property_value_not_in_list(reset_type, "ResetType")
    action = RESET_ACTIONS[reset_type]
    if reset_type == "PushPowerButton" and call.parts.power.is_on():
        action = PowerAction.SOFT_OFF
    try:
        call.parts.power.request(action, "redfish")
    except PowerError as err:
        raise RedfishError(409, "ActionNotSupported", f"The action ComputerSystem.Reset "
                           f"({reset_type}) cannot be carried out now: {err}.") from None
    return Response(204)




ROUTES: tuple[Route, ...] = (
    Route("GET", f"{V1}/Systems", R.USER, get_systems),
    Route("GET", f"{V1}/Systems/{{system_id}}", R.USER, get_system),
    Route("PATCH", f"{V1}/Systems/{{system_id}}", R.OPERATOR, patch_system),
    Route("POST", f"{V1}/Systems/{{system_id}}/Actions/ComputerSystem.Reset", R.OPERATOR,
          reset_system),
)
