"""One description of the BMC under test, rendered both as ipmi_sim files and as a pybmc config.

The conformance suite and the benchmark compare two servers; they are only comparable when both
were told the same things: the same users and passwords, the same GUID, identity, LAN settings and
platform data. Everything either side is configured with comes from a `Profile`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ADMIN = ("admin", "secret")
OPERATOR = ("oper", "operpw")
VIEWER = ("viewer", "viewerpw")


@dataclass(frozen=True)
class User:
    user_id: int
    name: str
    password: str
    privilege: str  # callback | user | operator | administrator

    @property
    def lanconf_privilege(self) -> str:
        return "admin" if self.privilege == "administrator" else self.privilege


@dataclass(frozen=True)
class Sensor:
    """A threshold sensor both servers describe the same way."""

    number: int
    name: str
    sensor_type: int  # 0x01 temperature
    reading: int  # raw reading byte
    upper_critical: int


@dataclass(frozen=True)
class Profile:
    name: str
    guid: uuid.UUID
    users: tuple[User, ...] = (
        User(2, ADMIN[0], ADMIN[1], "administrator"),
        User(3, OPERATOR[0], OPERATOR[1], "operator"),
        User(4, VIEWER[0], VIEWER[1], "user"),
    )
    # IPMI 1.5 auth types both servers enable (ipmi_sim's `allowed_auths_*` lines), and the
    # RMCP+ suites pybmc offers (ipmi_sim's are fixed). The scenarios run suites 1, 2 and
    # IPMI 1.5 straight password against both, so the profile names them: pybmc serves
    # them only when its config does (its defaults are suites 3, 17 and MD5).
    auth_types: tuple[str, ...] = ("md2", "md5", "password")
    cipher_suites: tuple[int, ...] = (1, 2, 3, 17)
    device_id: int = 0x20
    device_revision: int = 1
    firmware: tuple[int, int] = (1, 0)
    manufacturer_id: int = 0xBEEF
    product_id: int = 0x0001
    # Get Device ID's additional device support byte as pybmc sends it: sensor, SDR repository,
    # SEL, FRU, IPMB event receiver and generator, chassis. ipmi_sim takes it from `mc_add`.
    device_support: int = 0xBF
    mac: str = "52:54:00:ab:cd:01"
    netmask: str = "255.255.255.0"
    gateway: str = "0.0.0.0"
    gateway_mac: str = "00:00:00:00:00:00"
    sensors: tuple[Sensor, ...] = (Sensor(1, "Temp", 0x01, 0x28, 0x5A),)
    sel_size: int = 1000
    fru_chassis: dict[str, str] = field(default_factory=lambda: {
        "part_number": "CHS-1", "serial": "CH0001"})
    chassis_type: int = 23  # SMBIOS "rack mount chassis"
    fru_board: dict[str, str] = field(default_factory=lambda: {
        "manufacturer": "pybmc", "product": "Virtual board", "serial": "SN0001",
        "part_number": "PN0001"})
    board_date: str = "2024-01-01 00:00"  # UTC
    fru_product: dict[str, str] = field(default_factory=lambda: {
        "manufacturer": "pybmc", "product": "Virtual server", "part_number": "VS-1",
        "version": "1.0", "serial": "VS0001", "asset_tag": "ASSET1"})

    @classmethod
    def default(cls, name: str = "conf") -> Profile:
        return cls(name=name, guid=uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.conformance.pybmc"))

    def user(self, name: str) -> User:
        return next(u for u in self.users if u.name == name)

    # ------------------------------------------------------------------ pybmc
    def pybmc_config(self, address: str, state_dir: Path, port: int = 623,
                     extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """The pybmc TOML data (as a dict) equivalent to the ipmi_sim files."""
        config: dict[str, Any] = {
            "bmc": {"name": self.name, "address": address, "port": port,
                    "state_dir": str(state_dir), "guid": str(self.guid)},
            "users": [{"name": u.name, "password": u.password, "privilege": u.privilege,
                       "id": u.user_id} for u in self.users],
            "identity": {"device_id": self.device_id,
                         "device_revision": self.device_revision,
                         "firmware_version": f"{self.firmware[0]}.{self.firmware[1]:02d}",
                         "manufacturer_id": self.manufacturer_id,
                         "product_id": self.product_id},
            "lan": {"mac": self.mac, "netmask": self.netmask, "gateway": self.gateway,
                    "gateway_mac": self.gateway_mac},
            "power": {"backend": "simulated", "soft_off_delay": 0.5, "cycle_interval": 0.3},
            # ipmi_sim has no login throttle, and the suite runs many clients at once from
            # one address: keep pybmc's out of the comparison.
            "security": {"auth_types": list(self.auth_types),
                         "cipher_suites": list(self.cipher_suites), "login_rate": 0},
            "sensors": [self._pybmc_sensor(s) for s in self.sensors],
            "fru": {"size": 256,
                    "chassis": {"type": self.chassis_type, **_fru_keys(self.fru_chassis)},
                    "board": {**_fru_keys(self.fru_board), "manufacture_date": self.board_date},
                    "product": _fru_keys(self.fru_product)},
            "sel": {"capacity": self.sel_size},
        }
        for key, value in (extra or {}).items():
            if isinstance(value, dict) and isinstance(config.get(key), dict):
                config[key] = {**config[key], **value}
            else:
                config[key] = value
        return config

    @staticmethod
    def _pybmc_sensor(sensor: Sensor) -> dict[str, Any]:
        """The [[sensors]] entry reading like ipmi_sim's fixed value (raw = degrees, M=1 B=0)."""
        return {"name": sensor.name, "type": "temperature", "number": sensor.number,
                "behaviour": "constant", "entity": "system-board", "unit": "celsius",
                "nominal": float(sensor.reading), "min": 0.0, "max": 255.0, "noise": 0.0,
                "thresholds": {"unc": float(sensor.upper_critical - 5),
                               "uc": float(sensor.upper_critical)}}


def _fru_keys(fields: dict[str, str]) -> dict[str, str]:
    """Profile FRU field names -> pybmc's [fru.board]/[fru.product] keys."""
    names = {"product": "product_name", "serial": "serial_number"}
    return {names.get(key, key): value for key, value in fields.items()}
