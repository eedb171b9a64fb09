"""What a client changes on the Manager: its LAN settings, its clock, and Manager.Reset.

An EthernetInterface PATCH sets LAN parameters 3, 4, 6, 12 and 20 through the LAN model,
as Set LAN Configuration Parameters does (`ipmitool lan set`), so the edge moves the BMC to
its new address in the same way. DateTime is the SEL clock (Set SEL Time), the local offset
Set SEL Time UTC Offset. Manager.Reset is IPMI's Cold Reset (ForceRestart) or Warm Reset
(GracefulRestart): the BMC's own reset, never the host's power. NetworkProtocol's
IPMI.ProtocolEnabled is the LAN channel's access mode (Set Channel Access, both copies).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from typing import Any

from pybmc.model import controller_reset
from pybmc.model.lan_params import LAN_PARAMETERS, ParameterError
from pybmc.redfish import http
from pybmc.redfish.http import Response
from pybmc.redfish.resource import MANAGER_ID, V1, Call, R, Route, check_id

NIC_ID = "eth0"
RESET = "Manager.Reset"
RESET_TYPES = ("GracefulRestart", "ForceRestart")
IP_SOURCE_STATIC = 1
IP_SOURCE_DHCP = 2
VLAN_ENABLE = 0x80  # LAN parameter 20 byte 2 bit 7
NIC_READ_ONLY = ("Id", "Name", "MACAddress", "PermanentMACAddress", "IPv4Addresses",
                 "InterfaceEnabled", "Status", "Links")
MANAGER_READ_ONLY = ("Id", "Name", "ManagerType", "UUID", "ServiceEntryPointUUID", "Status",
                     "EthernetInterfaces", "NetworkProtocol", "VirtualMedia", "LogServices",
                     "Links", "Actions")
PROTOCOL_READ_ONLY = ("Id", "Name", "HTTPS", "SSH", "Status")
OFFSET_PATTERN = re.compile(r"^([+-])(\d{2}):(\d{2})$")
MAX_OFFSET_MINUTES = 1440  # Set SEL Time UTC Offset's range


def _ipv4(value: object, name: str) -> bytes:
    if isinstance(value, str):
        try:
            return ipaddress.IPv4Address(value).packed
        except ValueError:
            pass
    raise http.property_value_format_error(value, name)


def _netmask(value: object, name: str) -> bytes:
    packed = _ipv4(value, name)
    try:
        ipaddress.IPv4Network(f"0.0.0.0/{value}")
    except ValueError:
        raise http.property_value_format_error(value, name) from None
    return packed


def _static_address(value: object) -> dict[int, bytes]:
    """IPv4StaticAddresses (one entry: the LAN channel has one address) -> parameters."""
    name = "IPv4StaticAddresses"
    if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], dict):
        raise http.property_value_format_error(value, name)
    wanted: dict[int, bytes] = {}
    for key, item in value[0].items():
        if key == "Address":
            wanted[3] = _ipv4(item, f"{name}/0/Address")
        elif key == "SubnetMask":
            wanted[6] = _netmask(item, f"{name}/0/SubnetMask")
        elif key == "Gateway":
            wanted[12] = _ipv4(item, f"{name}/0/Gateway")
        else:
            raise http.property_unknown(f"{name}/0/{key}")
    return wanted


def _dhcp(value: object) -> bool:
    if not isinstance(value, dict):
        raise http.property_value_format_error(value, "DHCPv4")
    for key, item in value.items():
        if key != "DHCPEnabled":
            raise http.property_unknown(f"DHCPv4/{key}")
        if not isinstance(item, bool):
            raise http.property_value_format_error(item, "DHCPv4/DHCPEnabled")
    return bool(value.get("DHCPEnabled", False))


def _vlan(call: Call, value: object) -> bytes:
    """VLAN {VLANEnable, VLANId} -> LAN parameter 20 (ID bits 0..11, enable bit 15)."""
    if not isinstance(value, dict):
        raise http.property_value_format_error(value, "VLAN")
    current = int.from_bytes(LAN_PARAMETERS.get(call.parts.lan, 20), "little")
    enabled, vlan_id = bool(current & 0x8000), current & 0x0FFF
    for key, item in value.items():
        if key == "VLANEnable" and isinstance(item, bool):
            enabled = item
        elif key == "VLANId" and isinstance(item, int) and not isinstance(item, bool) \
                and 0 <= item <= 4094:
            vlan_id = item
        elif key in ("VLANEnable", "VLANId"):
            raise http.property_value_format_error(item, f"VLAN/{key}")
        else:
            raise http.property_unknown(f"VLAN/{key}")
    if enabled and not vlan_id:
        raise http.property_value_format_error(value, "VLAN/VLANId")
    return bytes([vlan_id & 0xFF, (VLAN_ENABLE if enabled else 0) | vlan_id >> 8])


def patch_manager_nic(call: Call) -> Response:
    """Checks every value first, then sets the parameters as one change: the edge moves the
    BMC once, to the final address, as after `ipmitool lan set`."""
    check_id(call, "manager_id", MANAGER_ID)
    check_id(call, "nic_id", NIC_ID)
    wanted: dict[int, bytes] = {}
    dhcp: bool | None = None
    for name, value in call.body.items():
        if name == "IPv4StaticAddresses":
            wanted.update(_static_address(value))
        elif name == "DHCPv4":
            dhcp = _dhcp(value)
        elif name == "VLAN":
            wanted[20] = _vlan(call, value)
        elif name in NIC_READ_ONLY:
            raise http.property_not_writable(name)
        else:
            raise http.property_unknown(name)
    if dhcp is not None or "IPv4StaticAddresses" in call.body:
        # Static addresses without DHCPv4 mean static, as bmcweb and `lan set ipaddr` imply.
        source = IP_SOURCE_DHCP if dhcp else IP_SOURCE_STATIC
        wanted = {4: bytes([source]), **wanted}
    try:
        call.parts.lan.set_parameters(LAN_PARAMETERS, wanted, call.now)
    except ParameterError as err:
        raise http.RedfishError(400, "PropertyValueIncorrect", f"The LAN channel refused "
                                f"the change: {err}.") from None
    return Response(204)


def patch_network_protocol(call: Call) -> Response:
    """Only IPMI.ProtocolEnabled is writable: IPMI over LAN on or off, as `ipmitool lan set 1
    access on|off` sets it. HTTPS cannot be switched off over HTTPS, nor ports moved."""
    check_id(call, "manager_id", MANAGER_ID)
    enabled: bool | None = None
    for name, value in call.body.items():
        if name == "IPMI":
            if not isinstance(value, dict):
                raise http.property_value_format_error(value, "IPMI")
            for key, item in value.items():
                if key == "ProtocolEnabled":
                    if not isinstance(item, bool):
                        raise http.property_value_format_error(item, "IPMI/ProtocolEnabled")
                    enabled = item
                elif key == "Port":
                    raise http.property_not_writable("IPMI/Port")
                else:
                    raise http.property_unknown(f"IPMI/{key}")
        elif name in PROTOCOL_READ_ONLY:
            raise http.property_not_writable(name)
        else:
            raise http.property_unknown(name)
    if enabled is not None:
        call.parts.lan.set_ipmi_enabled(enabled)
    return Response(204)


def _parse_offset(value: object) -> int:
    match = OFFSET_PATTERN.match(value) if isinstance(value, str) else None
    if match is None:
        raise http.property_value_format_error(value, "DateTimeLocalOffset")
    sign, hours, minutes = match.groups()
    total = int(hours) * 60 + int(minutes)
    if total > MAX_OFFSET_MINUTES or int(minutes) >= 60:
        raise http.property_value_format_error(value, "DateTimeLocalOffset")
    return -total if sign == "-" else total


def patch_manager(call: Call) -> Response:
    """DateTime = Set SEL Time (an ISO 8601 time with its offset); DateTimeLocalOffset =
    Set SEL Time UTC Offset."""
    check_id(call, "manager_id", MANAGER_ID)
    stamp: int | None = None
    offset: int | None = None
    for name, value in call.body.items():
        if name == "DateTime":
            stamp = _parse_time(value)
        elif name == "DateTimeLocalOffset":
            offset = _parse_offset(value)
        elif name in MANAGER_READ_ONLY:
            raise http.property_not_writable(name)
        else:
            raise http.property_unknown(name)
    sel = call.parts.platform.sel
    if offset is not None:
        sel.set_utc_offset(offset)
    if stamp is not None:
        sel.set_time(stamp)
    return Response(204)


def _parse_time(value: object) -> int:
    try:
        when = dt.datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:  # a time without its offset is ambiguous
        raise http.property_value_format_error(value, "DateTime")
    stamp = int(when.timestamp())
    if not 0 <= stamp <= 0xFFFFFFFF:  # the SEL clock is 32 bits of seconds
        raise http.property_value_format_error(value, "DateTime")
    return stamp


def reset_manager(call: Call) -> Response:
    check_id(call, "manager_id", MANAGER_ID)
    reset_type = call.body.get("ResetType")
    if reset_type is None:
        raise http.action_parameter_missing(RESET, "ResetType")
    if reset_type not in RESET_TYPES:
        raise http.property_value_not_in_list(reset_type, "ResetType")
    if reset_type == "ForceRestart":
        controller_reset.cold_reset(call.parts.state, call.parts.name)
    else:
        controller_reset.warm_reset(call.parts.name)
    return Response(204)


def manager_actions(path: str) -> dict[str, Any]:
    """The Manager's Actions, for its GET document."""
    return {f"#{RESET}": {"target": f"{path}/Actions/{RESET}",
                          "ResetType@Redfish.AllowableValues": list(RESET_TYPES)}}


MANAGER = f"{V1}/Managers/{{manager_id}}"
ROUTES: tuple[Route, ...] = (
    Route("PATCH", MANAGER, R.OPERATOR, patch_manager),
    Route("POST", f"{MANAGER}/Actions/{RESET}", R.ADMINISTRATOR, reset_manager),
    Route("PATCH", f"{MANAGER}/EthernetInterfaces/{{nic_id}}", R.ADMINISTRATOR,
          patch_manager_nic),
    Route("PATCH", f"{MANAGER}/NetworkProtocol", R.ADMINISTRATOR, patch_network_protocol),
)
