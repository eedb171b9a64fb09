"""Chassis: power state, and the identify LED = IPMI Chassis Identify."""

from __future__ import annotations

from pybmc.redfish import http
from pybmc.redfish.chassis_sensors import sensor_links
from pybmc.redfish.http import Response
from pybmc.redfish.resource import (
    MANAGER_ID,
    V1,
    Call,
    R,
    Route,
    check_id,
    collection,
    ok,
)


def _identify_lit(call: Call) -> bool:
    chassis = call.parts.chassis
    return chassis.identify_forever or call.now < chassis.identify_until


IDENTIFY_PROPERTIES = ("IndicatorLED", "LocationIndicatorActive")


def identify_properties(call: Call) -> dict[str, object]:
    """IndicatorLED / LocationIndicatorActive as the Chassis and the System show them."""
    lit = _identify_lit(call)
    return {"IndicatorLED": "Lit" if lit else "Off", "LocationIndicatorActive": lit}


def wanted_identify(name: str, value: object) -> bool:
    """Whether a PATCHed identify property turns the identify light on (400 if invalid)."""
    if name == "IndicatorLED":
        if value not in ("Lit", "Blinking", "Off"):
            raise http.property_value_not_in_list(value, name)
        return value != "Off"
    if not isinstance(value, bool):
        raise http.property_value_not_in_list(value, name)
    return value


def set_identify(call: Call, lit: bool) -> None:
    """IPMI Chassis Identify: forever on, or off."""
    call.parts.chassis.identify_forever = lit
    call.parts.chassis.identify_until = 0.0


def get_chassis_collection(call: Call) -> Response:
    return collection(f"{V1}/Chassis", "Chassis", "Chassis Collection", [call.system_id])


def get_chassis(call: Call) -> Response:
    check_id(call, "chassis_id", call.system_id)
    return ok({
        "@odata.type": "#Chassis.v1_23_0.Chassis",
        "@odata.id": f"{V1}/Chassis/{call.system_id}",
        "Id": call.system_id,
        "Name": f"{call.parts.name} chassis",
        "ChassisType": "RackMount",
        "PowerState": "On" if call.parts.power.is_on() else "Off",
        **identify_properties(call),
        "Status": {"State": "Enabled", "Health": "OK"},
        **sensor_links(f"{V1}/Chassis/{call.system_id}"),
        "Links": {"ComputerSystems": [{"@odata.id": f"{V1}/Systems/{call.system_id}"}],
                  "ManagedBy": [{"@odata.id": f"{V1}/Managers/{MANAGER_ID}"}]},
    })


def patch_chassis(call: Call) -> Response:
    """IndicatorLED / LocationIndicatorActive = IPMI Chassis Identify (forever or off)."""
    check_id(call, "chassis_id", call.system_id)
    lit: bool | None = None
    for name, value in call.body.items():
        if name in IDENTIFY_PROPERTIES:
            lit = wanted_identify(name, value)
        elif name in ("Id", "Name", "PowerState", "ChassisType", "Status", "Sensors",
                      "Thermal", "Power", "ThermalSubsystem", "PowerSubsystem"):
            raise http.property_not_writable(name)
        else:
            raise http.property_unknown(name)
    if lit is not None:
        set_identify(call, lit)
    return Response(204)




ROUTES: tuple[Route, ...] = (
    Route("GET", f"{V1}/Chassis", R.USER, get_chassis_collection),
    Route("GET", f"{V1}/Chassis/{{chassis_id}}", R.USER, get_chassis),
    Route("PATCH", f"{V1}/Chassis/{{chassis_id}}", R.OPERATOR, patch_chassis),
)
