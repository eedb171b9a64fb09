"""[[sensors]], [fru] and [sel]: defaults, custom values, and one-line errors naming the key."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from pybmc.config.bmc import ConfigError, parse_config
from pybmc.config.platform import (
    DEFAULT_SENSORS_TOML,
    PlatformConfig,
    check_platform_config,
    derived_serials,
    parse_platform_config,
)
from pybmc.wire.linear import Linear


def platform(**sections: Any) -> PlatformConfig:
    config = parse_config({"bmc": {"name": "cn1", "address": "127.0.0.2"}, **sections},
                          source="cn1.toml")
    return parse_platform_config(config)


def error(**sections: Any) -> str:
    config = parse_config({"bmc": {"name": "cn1", "address": "127.0.0.2"}, **sections},
                          source="cn1.toml")
    with pytest.raises(ConfigError) as err:
        check_platform_config(config)
    return str(err.value)


def test_default_sensors_and_system_sensors():
    sensors = platform().sensors
    names = [(spec.number, spec.name) for spec in sensors]
    assert names[:10] == [(1, "CPU Temp"), (2, "Inlet Temp"), (3, "FAN1"), (4, "FAN2"),
                          (5, "12V"), (6, "5VCC"), (7, "3.3VCC"), (8, "Pwr Consumption"),
                          (9, "PS1 Status"), (10, "Intrusion")]
    assert names[10:] == [(0xD0, "Watchdog"), (0xD1, "Power Unit"), (0xD2, "ACPI State"),
                          (0xD3, "System Boot"), (0xD4, "Event Log"), (0xD5, "BMC Health")]
    by_name = {spec.name: spec for spec in sensors}
    assert by_name["CPU Temp"].behaviour == "thermal" and by_name["CPU Temp"].unit == 1
    assert by_name["FAN1"].when_off == "unavailable" and by_name["FAN1"].unit == 18
    assert by_name["Pwr Consumption"].sensor_type == 0x0B and by_name["Pwr Consumption"].unit == 6
    assert by_name["PS1 Status"].states == (0,) and by_name["PS1 Status"].reading_type == 0x6F
    assert "[[sensors]]" in DEFAULT_SENSORS_TOML  # the documented defaults are the real ones


def test_custom_sensors_replace_the_defaults_but_not_the_system_ones():
    sensors = platform(sensors=[
        {"name": "GPU Temp", "type": "temperature", "nominal": 60, "max": 120,
         "thresholds": {"uc": 100}},
        {"name": "Front Fan", "type": "fan", "number": 40, "nominal": 8000, "max": 20000,
         "entity": "cooling-unit", "entity_instance": 3},
        {"name": "My Watchdog", "type": "watchdog", "number": 0},
    ]).sensors
    names = {spec.name: spec for spec in sensors}
    assert set(names) == {"GPU Temp", "Front Fan", "My Watchdog", "Power Unit", "ACPI State",
                          "System Boot", "Event Log", "BMC Health"}
    assert names["GPU Temp"].number == 1 and names["Front Fan"].number == 40
    assert names["My Watchdog"].number == 0 and names["My Watchdog"].behaviour == "watchdog"
    assert names["Front Fan"].entity == 0x1E and names["Front Fan"].entity_instance == 3
    assert names["Front Fan"].idle == pytest.approx(4800)
    assert names["GPU Temp"].threshold_values == {"uc": 100.0}


def test_a_sensor_on_a_system_sensors_number_pushes_it_aside():
    sensors = platform(sensors=[{"name": "Rail", "type": "voltage", "nominal": 1.0,
                                 "number": 0xD0}]).sensors
    watchdog = next(spec for spec in sensors if spec.behaviour == "watchdog")
    assert watchdog.number == 1
    assert len({spec.number for spec in sensors}) == len(sensors)


def test_no_sensors_at_all_still_leaves_a_repository():
    assert len(platform(sensors=[]).sensors) == 6


@pytest.mark.parametrize(("sensor", "message"), [
    ({"type": "fan", "nominal": 1}, "[sensors.0] name: is required"),
    ({"name": "5V", "type": "voltage", "nominal": 5}, "[sensors.0] name: must be 3 to 16"),
    ({"name": "A very long sensor name", "type": "fan", "nominal": 1}, "must be 3 to 16"),
    ({"name": "Temp", "type": "heat", "nominal": 1}, "[sensors.0] type: must be a number or"),
    ({"name": "Temp", "type": "temperature"}, "[sensors.0] nominal: is required"),
    ({"name": "Temp", "type": "temperature", "nominal": 40, "colour": "red"},
     "[sensors.0] colour: is not a known key"),
    ({"name": "Temp", "type": "temperature", "nominal": 40, "thresholds": {"uc": 60, "unc": 70}},
     "[sensors.0] thresholds.uc: 60.0 is below unc (70.0)"),
    ({"name": "Temp", "type": "temperature", "nominal": 40, "thresholds": {"hot": 60}},
     "[sensors.0] thresholds.hot: is not one of"),
    ({"name": "Temp", "type": "temperature", "nominal": 40, "thresholds": {"uc": 200}},
     "[sensors.0] thresholds.uc: 200.0 is outside min..max"),
    ({"name": "Temp", "type": "temperature", "nominal": 40, "max": 30},
     "[sensors.0] nominal: 40.0 is outside min..max"),
    ({"name": "Temp", "type": "temperature", "nominal": 40, "behaviour": "warm"},
     "[sensors.0] behaviour: must be one of"),
    ({"name": "Temp", "type": "temperature", "nominal": 40, "when_off": "hot"},
     "[sensors.0] when_off: must be rest or unavailable"),
    ({"name": "Temp", "type": "temperature", "nominal": 40, "number": 255},
     "[sensors.0] number: must be between 0 and 254"),
    ({"name": "Temp", "type": "temperature", "nominal": True}, "nominal: must be a number"),
    ({"name": "PSU", "type": "power-supply", "states": [20]}, "[sensors.0] states: must be"),
    ({"name": "PSU", "type": "power-supply", "nominal": 3}, "[sensors.0] nominal: is for"),
    ({"name": "Temp", "type": "temperature", "nominal": 4, "states": [0]},
     "[sensors.0] states: is for discrete sensors"),
    ({"name": "Dog", "type": "fan", "behaviour": "watchdog"}, "[sensors.0] type: behaviour"),
])
def test_sensor_errors_name_the_key(sensor: dict[str, Any], message: str):
    text = error(sensors=[sensor])
    assert text.startswith("cn1.toml: ")
    assert message in text


def test_duplicate_names_and_numbers():
    fan = {"type": "fan", "nominal": 5000}
    assert "[sensors.1] name: 'FAN1' is used twice" in error(
        sensors=[{"name": "FAN1", **fan}, {"name": "FAN1", **fan}])
    assert "[sensors.1] number: 3 is already used by 'FAN1'" in error(
        sensors=[{"name": "FAN1", "number": 3, **fan}, {"name": "FAN2", "number": 3, **fan}])
    assert error(sensors={"a": 1}) == "cn1.toml: [[sensors]]: must be an array of tables"


def test_fru_defaults_derive_serials_from_the_bmc_name():
    fru = platform().fru
    system, board = derived_serials("cn1")
    assert fru.product.serial_number == fru.chassis.serial_number == system
    assert fru.board.serial_number == board
    assert system != derived_serials("cn2")[0]
    assert system.startswith("PB") and len(system) == 10
    assert fru.product.manufacturer == "pybmc" and fru.size == 256


def test_fru_custom_values():
    fru = platform(fru={
        "size": 512,
        "chassis": {"type": "tower", "serial_number": "CH-1"},
        "board": {"manufacturer": "Acme", "manufacture_date": dt.date(2021, 5, 4)},
        "product": {"product_name": "Rack Server 9000", "asset_tag": "IT-0042"},
    }).fru
    assert fru.size == 512 and fru.chassis.chassis_type == 0x07
    assert fru.chassis.serial_number == "CH-1"
    assert fru.board.manufacture_date == dt.datetime(2021, 5, 4, tzinfo=dt.UTC)
    assert fru.product.product_name == "Rack Server 9000" and fru.product.asset_tag == "IT-0042"


@pytest.mark.parametrize(("fru", "message"), [
    ({"colour": 1}, "cn1.toml: [fru] colour: is not a known key"),
    ({"board": {"manufacture_date": "yesterday"}},
     "cn1.toml: [fru.board] manufacture_date: must be a date like"),
    ({"board": {"manufacture_date": "1990-01-01"}},
     "cn1.toml: [fru.board] manufacture_date: must be between 1996-01-01"),
    ({"product": {"serial_number": "X" * 64}},
     "cn1.toml: [fru.product] serial_number: must be at most 63 bytes"),
    ({"product": {"asset_tag": "\u20ac"}}, "[fru.product] asset_tag: must be Latin-1 text"),
    ({"chassis": {"type": "boat"}}, "[fru.chassis] type: must be a number or one of"),
    ({"size": 10}, "[fru] size: must be between 64 and 4096"),
    ({"product": "x"}, "[fru] product: must be a table"),
])
def test_fru_errors_name_the_key(fru: dict[str, Any], message: str):
    assert message in error(fru=fru)


def test_sel_capacity():
    assert platform().sel.capacity == 1024
    assert platform(sel={"capacity": 64}).sel.capacity == 64
    assert "cn1.toml: [sel] capacity: must be between 16 and 4095" in error(sel={"capacity": 9})
    assert "cn1.toml: [sel] size: is not a known key" in error(sel={"size": 9})


def test_every_default_sensor_range_linearises():
    for spec in platform().sensors:
        if spec.analog:
            linear = Linear.for_range(spec.minimum, spec.maximum)
            assert linear.to_value(255) >= spec.maximum
            assert 10 <= linear.m <= 100
