"""The Chassis' ThermalSubsystem (Fans, ThermalMetrics) and PowerSubsystem (PowerSupplies).

The newer form of Thermal and Power, over the same SDR sensors and readings (see
pybmc.redfish.chassis_sensors): a fan is its RPM sensor, a power supply its power-supply
sensor's presence and failure states, ThermalMetrics the temperature sensors' readings.
"""

from __future__ import annotations

from typing import Any

from pybmc.model.platform.sensors import Sensor
from pybmc.redfish import http
from pybmc.redfish.chassis_sensors import (
    PRESENCE,
    PSU_FAILURE,
    Sample,
    analog_sensors,
    chassis_path,
    sensor_id,
)
from pybmc.redfish.http import Response
from pybmc.redfish.resource import V1, Call, R, Route, collection, ok
from pybmc.wire.platform_codes import SensorType, Unit


def _fans(call: Call) -> list[Sensor]:
    return [s for s in analog_sensors(call) if s.spec.unit == Unit.RPM]


def _supplies(call: Call) -> list[Sensor]:
    return [s for s in call.parts.platform.sensors
            if s.linear is None and s.spec.sensor_type == SensorType.POWER_SUPPLY]


def _collection(path: str, kind: str, name: str, sensors: list[Sensor]) -> Response:
    return collection(path, kind, name, [sensor_id(s) for s in sensors])


def _find(call: Call, sensors: list[Sensor], key: str) -> Sensor:
    wanted = call.params[key]
    sensor = next((s for s in sensors if sensor_id(s) == wanted), None)
    if sensor is None:
        raise http.not_found(call.request.path)
    return sensor


def get_thermal_subsystem(call: Call) -> Response:
    path = f"{chassis_path(call)}/ThermalSubsystem"
    return ok({
        "@odata.type": "#ThermalSubsystem.v1_3_0.ThermalSubsystem",
        "@odata.id": path,
        "Id": "ThermalSubsystem",
        "Name": "Thermal Subsystem",
        "Fans": {"@odata.id": f"{path}/Fans"},
        "ThermalMetrics": {"@odata.id": f"{path}/ThermalMetrics"},
        "Status": {"State": "Enabled", "Health": "OK"},
    })


def get_fans(call: Call) -> Response:
    path = f"{chassis_path(call)}/ThermalSubsystem/Fans"
    return _collection(path, "Fan", "Fans", _fans(call))


def get_fan(call: Call) -> Response:
    path = f"{chassis_path(call)}/ThermalSubsystem/Fans"
    sensor = _find(call, _fans(call), "fan_id")
    sample = Sample(call, sensor)
    speed: dict[str, Any] = {"Reading": None, "SpeedRPM": None}
    if sample.value is not None:
        speed = {"Reading": round(100 * sample.value / sensor.spec.maximum, 1),
                 "SpeedRPM": sample.value}
    return ok({
        "@odata.type": "#Fan.v1_5_0.Fan",
        "@odata.id": f"{path}/{sensor_id(sensor)}",
        "Id": sensor_id(sensor),
        "Name": sensor.name,
        "Status": sample.status(),
        "SpeedPercent": speed,
    })


def get_thermal_metrics(call: Call) -> Response:
    chassis = chassis_path(call)
    readings = []
    for sensor in analog_sensors(call):
        if sensor.spec.unit == Unit.CELSIUS:
            readings.append({"DataSourceUri": f"{chassis}/Sensors/{sensor_id(sensor)}",
                             "Reading": Sample(call, sensor).value})
    return ok({
        "@odata.type": "#ThermalMetrics.v1_0_0.ThermalMetrics",
        "@odata.id": f"{chassis}/ThermalSubsystem/ThermalMetrics",
        "Id": "ThermalMetrics",
        "Name": "Thermal Metrics",
        "TemperatureReadingsCelsius": readings,
    })


def get_power_subsystem(call: Call) -> Response:
    path = f"{chassis_path(call)}/PowerSubsystem"
    return ok({
        "@odata.type": "#PowerSubsystem.v1_1_0.PowerSubsystem",
        "@odata.id": path,
        "Id": "PowerSubsystem",
        "Name": "Power Subsystem",
        "PowerSupplies": {"@odata.id": f"{path}/PowerSupplies"},
        "Status": {"State": "Enabled", "Health": "OK"},
    })


def get_power_supplies(call: Call) -> Response:
    path = f"{chassis_path(call)}/PowerSubsystem/PowerSupplies"
    return _collection(path, "PowerSupply", "Power Supplies", _supplies(call))


def get_power_supply(call: Call) -> Response:
    path = f"{chassis_path(call)}/PowerSubsystem/PowerSupplies"
    sensor = _find(call, _supplies(call), "supply_id")
    states = call.parts.platform.read(sensor, call.now).states
    present = bool(states & (1 << PRESENCE))
    return ok({
        "@odata.type": "#PowerSupply.v1_5_0.PowerSupply",
        "@odata.id": f"{path}/{sensor_id(sensor)}",
        "Id": sensor_id(sensor),
        "Name": sensor.name,
        "Status": {"State": "Enabled" if present else "Absent",
                   "Health": "Critical" if states & (1 << PSU_FAILURE) else "OK"},
    })


THERMAL = f"{V1}/Chassis/{{chassis_id}}/ThermalSubsystem"
POWER = f"{V1}/Chassis/{{chassis_id}}/PowerSubsystem"
ROUTES: tuple[Route, ...] = (
    Route("GET", THERMAL, R.USER, get_thermal_subsystem),
    Route("GET", f"{THERMAL}/Fans", R.USER, get_fans),
    Route("GET", f"{THERMAL}/Fans/{{fan_id}}", R.USER, get_fan),
    Route("GET", f"{THERMAL}/ThermalMetrics", R.USER, get_thermal_metrics),
    Route("GET", POWER, R.USER, get_power_subsystem),
    Route("GET", f"{POWER}/PowerSupplies", R.USER, get_power_supplies),
    Route("GET", f"{POWER}/PowerSupplies/{{supply_id}}", R.USER, get_power_supply),
)
