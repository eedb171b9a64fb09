"""The Chassis' sensors: Sensor resources, and the Thermal and Power resources sushy reads.

Every value comes from the SDR sensors IPMI serves, read through `Platform.read` as Get
Sensor Reading reads them (the same raw value, converted with the same SDR factors), so
readings follow the machine's power as `ipmitool sensor` shows, and crossings read here are
logged in the SEL as when IPMI reads them.
"""

from __future__ import annotations

import re
from typing import Any

from pybmc.config.platform import THRESHOLD_KEYS
from pybmc.model.platform.sensors import Sensor
from pybmc.redfish import http
from pybmc.redfish.http import Response
from pybmc.redfish.resource import V1, Call, R, Route, check_id, ok
from pybmc.wire.platform_codes import Entity, SensorType, Unit

# IPMI unit -> (Sensor ReadingType, ReadingUnits as UCUM), for the analog sensors.
READING_KINDS: dict[int, tuple[str, str]] = {
    Unit.CELSIUS: ("Temperature", "Cel"),
    Unit.VOLTS: ("Voltage", "V"),
    Unit.AMPS: ("Current", "A"),
    Unit.WATTS: ("Power", "W"),
    Unit.RPM: ("Rotational", "RPM"),
    Unit.HERTZ: ("Frequency", "Hz"),
}
# IPMI entity ID -> Redfish PhysicalContext.
CONTEXTS = {Entity.PROCESSOR: "CPU", Entity.SYSTEM_BOARD: "SystemBoard",
            Entity.BASEBOARD: "SystemBoard", Entity.POWER_SUPPLY: "PowerSupply",
            Entity.POWER_UNIT: "PowerSupply", Entity.FAN: "Fan", Entity.COOLING_UNIT: "Fan",
            Entity.AIR_INLET: "Intake", Entity.MEMORY_MODULE: "Memory",
            Entity.MEMORY_DEVICE: "Memory", Entity.DISK: "StorageDevice",
            Entity.SYSTEM_CHASSIS: "Chassis", Entity.BATTERY: "Battery"}
# Sensor threshold names (lnc lc lnr unc uc unr) -> Redfish Thresholds members.
THRESHOLD_NAMES = {"lnc": "LowerCaution", "lc": "LowerCritical", "lnr": "LowerFatal",
                   "unc": "UpperCaution", "uc": "UpperCritical", "unr": "UpperFatal"}
# The older Thermal/Power members' threshold property names.
OLD_THRESHOLD_NAMES = {"lnc": "LowerThresholdNonCritical", "lc": "LowerThresholdCritical",
                       "lnr": "LowerThresholdFatal", "unc": "UpperThresholdNonCritical",
                       "uc": "UpperThresholdCritical", "unr": "UpperThresholdFatal"}
PRESENCE = 0x00  # power supply sensor-specific offset 0: presence detected
PSU_FAILURE = 0x01


def sensor_id(sensor: Sensor) -> str:
    """A path-safe Id from the SDR name: "CPU Temp" -> "CPU_Temp", "3.3VCC" -> "3_3VCC"."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", sensor.name)


def sensor_links(path: str) -> dict[str, dict[str, str]]:
    """The Chassis' links to its sensor resources (this module's and chassis_subsystems')."""
    names = ("Sensors", "Thermal", "Power", "ThermalSubsystem", "PowerSubsystem")
    return {name: {"@odata.id": f"{path}/{name}"} for name in names}


def analog_sensors(call: Call) -> list[Sensor]:
    return [s for s in call.parts.platform.sensors if s.linear is not None]


def chassis_path(call: Call) -> str:
    check_id(call, "chassis_id", call.system_id)
    return f"{V1}/Chassis/{call.system_id}"


class Sample:
    """One sensor's reading now, in its unit, with its thresholds and health."""

    def __init__(self, call: Call, sensor: Sensor) -> None:
        assert sensor.linear is not None
        linear = sensor.linear
        reading = call.parts.platform.read(sensor, call.now)
        self.sensor = sensor
        self.available = reading.available
        self.value: float | None = round(linear.to_value(reading.raw), 3) \
            if reading.available else None
        self.thresholds = {key: round(linear.to_value(sensor.thresholds[key]), 3)
                           for key in THRESHOLD_KEYS if key in sensor.thresholds}
        beyond = {key for index, key in enumerate(THRESHOLD_KEYS)
                  if reading.available and reading.states & (1 << index)}
        if beyond & {"lc", "lnr", "uc", "unr"}:
            self.health = "Critical"
        elif beyond:
            self.health = "Warning"
        else:
            self.health = "OK"

    def status(self) -> dict[str, str]:
        if not self.available:
            return {"State": "UnavailableOffline"}  # e.g. a fan while the machine is off
        return {"State": "Enabled", "Health": self.health}


def sensor_document(call: Call, sample: Sample) -> dict[str, Any]:
    sensor = sample.sensor
    spec = sensor.spec
    reading_type, units = READING_KINDS.get(spec.unit, ("Percent", "%"))
    path = f"{chassis_path(call)}/Sensors/{sensor_id(sensor)}"
    document: dict[str, Any] = {
        "@odata.type": "#Sensor.v1_7_0.Sensor",
        "@odata.id": path,
        "Id": sensor_id(sensor),
        "Name": sensor.name,
        "ReadingType": reading_type,
        "ReadingUnits": units,
        "Reading": sample.value,
        "ReadingRangeMin": spec.minimum,
        "ReadingRangeMax": spec.maximum,
        "Status": sample.status(),
        "Thresholds": {THRESHOLD_NAMES[key]: {"Reading": value}
                       for key, value in sample.thresholds.items()},
        "Oem": {"pybmc": {"SensorNumber": sensor.number}},
    }
    context = CONTEXTS.get(spec.entity)
    if context is not None:
        document["PhysicalContext"] = context
    return document


def get_sensors(call: Call) -> Response:
    path = f"{chassis_path(call)}/Sensors"
    ids = [sensor_id(s) for s in analog_sensors(call)]
    return ok({
        "@odata.type": "#SensorCollection.SensorCollection",
        "@odata.id": path,
        "Name": "Sensors",
        "Members": [{"@odata.id": f"{path}/{i}"} for i in ids],
        "Members@odata.count": len(ids),
    })


def get_sensor(call: Call) -> Response:
    chassis_path(call)
    wanted = call.params["sensor_id"]
    sensor = next((s for s in analog_sensors(call) if sensor_id(s) == wanted), None)
    if sensor is None:
        raise http.not_found(call.request.path)
    return ok(sensor_document(call, Sample(call, sensor)))


def _member(call: Call, path: str, array: str, index: int,
            sample: Sample) -> dict[str, Any]:
    """A member of the older Thermal/Power arrays (Temperatures, Fans, Voltages)."""
    sensor = sample.sensor
    member: dict[str, Any] = {
        "@odata.id": f"{path}#/{array}/{index}",
        "MemberId": str(index),
        "Name": sensor.name,
        "SensorNumber": sensor.number,
        "Status": sample.status(),
        "MinReadingRange": sensor.spec.minimum,
        "MaxReadingRange": sensor.spec.maximum,
        "RelatedItem": [{"@odata.id": chassis_path(call)}],
    }
    for key, value in sample.thresholds.items():
        member[OLD_THRESHOLD_NAMES[key]] = value
    context = CONTEXTS.get(sensor.spec.entity)
    if context is not None:
        member["PhysicalContext"] = context
    return member


def get_thermal(call: Call) -> Response:
    path = f"{chassis_path(call)}/Thermal"
    temperatures: list[dict[str, Any]] = []
    fans: list[dict[str, Any]] = []
    for sensor in analog_sensors(call):
        sample = Sample(call, sensor)
        if sensor.spec.unit == Unit.CELSIUS:
            member = _member(call, path, "Temperatures", len(temperatures), sample)
            member["ReadingCelsius"] = sample.value
            member.pop("MinReadingRange")
            member.pop("MaxReadingRange")
            member["MinReadingRangeTemp"] = sensor.spec.minimum
            member["MaxReadingRangeTemp"] = sensor.spec.maximum
            temperatures.append(member)
        elif sensor.spec.unit == Unit.RPM:
            member = _member(call, path, "Fans", len(fans), sample)
            # Fan readings, ranges and thresholds are integers in the Thermal schema.
            for key in ("MinReadingRange", "MaxReadingRange",
                        *(OLD_THRESHOLD_NAMES[k] for k in sample.thresholds)):
                member[key] = round(member[key])
            member["Reading"] = None if sample.value is None else round(sample.value)
            member["ReadingUnits"] = "RPM"
            fans.append(member)
    return ok({
        "@odata.type": "#Thermal.v1_7_0.Thermal",
        "@odata.id": path,
        "Id": "Thermal",
        "Name": "Thermal",
        "Status": {"State": "Enabled", "Health": "OK"},
        "Temperatures": temperatures,
        "Temperatures@odata.count": len(temperatures),
        "Fans": fans,
        "Fans@odata.count": len(fans),
    })


def _power_supplies(call: Call, path: str) -> list[dict[str, Any]]:
    supplies = []
    for sensor in call.parts.platform.sensors:
        if sensor.linear is not None or sensor.spec.sensor_type != SensorType.POWER_SUPPLY:
            continue
        states = call.parts.platform.read(sensor, call.now).states
        present = bool(states & (1 << PRESENCE))
        supplies.append({
            "@odata.id": f"{path}#/PowerSupplies/{len(supplies)}",
            "MemberId": str(len(supplies)),
            "Name": sensor.name,
            "Status": {"State": "Enabled" if present else "Absent",
                       "Health": "Critical" if states & (1 << PSU_FAILURE) else "OK"},
        })
    return supplies


def get_power(call: Call) -> Response:
    path = f"{chassis_path(call)}/Power"
    voltages: list[dict[str, Any]] = []
    consumed: float | None = None
    for sensor in analog_sensors(call):
        sample = Sample(call, sensor)
        if sensor.spec.unit == Unit.VOLTS:
            member = _member(call, path, "Voltages", len(voltages), sample)
            member["ReadingVolts"] = sample.value
            voltages.append(member)
        elif sensor.spec.unit == Unit.WATTS and consumed is None:
            consumed = sample.value
    control = [{"@odata.id": f"{path}#/PowerControl/0", "MemberId": "0",
                "Name": "System Power Control", "PowerConsumedWatts": consumed,
                "Status": {"State": "Enabled", "Health": "OK"}}]
    supplies = _power_supplies(call, path)
    return ok({
        "@odata.type": "#Power.v1_7_0.Power",
        "@odata.id": path,
        "Id": "Power",
        "Name": "Power",
        "PowerControl": control,
        "PowerControl@odata.count": len(control),
        "Voltages": voltages,
        "Voltages@odata.count": len(voltages),
        "PowerSupplies": supplies,
        "PowerSupplies@odata.count": len(supplies),
    })


CHASSIS = f"{V1}/Chassis/{{chassis_id}}"
ROUTES: tuple[Route, ...] = (
    Route("GET", f"{CHASSIS}/Sensors", R.USER, get_sensors),
    Route("GET", f"{CHASSIS}/Sensors/{{sensor_id}}", R.USER, get_sensor),
    Route("GET", f"{CHASSIS}/Thermal", R.USER, get_thermal),
    Route("GET", f"{CHASSIS}/Power", R.USER, get_power),
)
