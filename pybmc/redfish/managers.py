"""Manager: the BMC itself, its LAN channel as an EthernetInterface, its NetworkProtocol."""

from __future__ import annotations

import uuid

from pybmc.model.lan_params import LAN_PARAMETERS
from pybmc.redfish.http import Response
from pybmc.redfish.log_services import iso_time, local_offset
from pybmc.redfish.manager_settings import manager_actions
from pybmc.redfish.resource import (
    MANAGER_ID,
    V1,
    Call,
    R,
    Route,
    check_id,
    collection,
    ok,
    system_uuid,
)


def get_managers(call: Call) -> Response:
    return collection(f"{V1}/Managers", "Manager", "Manager Collection", [MANAGER_ID])


def get_manager(call: Call) -> Response:
    check_id(call, "manager_id", MANAGER_ID)
    path = f"{V1}/Managers/{MANAGER_ID}"
    return ok({
        "@odata.type": "#Manager.v1_19_0.Manager",
        "@odata.id": path,
        "Id": MANAGER_ID,
        "Name": f"{call.parts.name} BMC",
        "ManagerType": "BMC",
        "UUID": system_uuid(call.parts),
        # The Manager schema puts the service's entry point UUID here, not in ServiceRoot.
        "ServiceEntryPointUUID": str(uuid.uuid5(uuid.UUID(system_uuid(call.parts)),
                                                "redfish")),
        "Status": {"State": "Enabled", "Health": "OK"},
        "EthernetInterfaces": {"@odata.id": f"{path}/EthernetInterfaces"},
        "NetworkProtocol": {"@odata.id": f"{path}/NetworkProtocol"},
        "VirtualMedia": {"@odata.id": f"{path}/VirtualMedia"},
        "LogServices": {"@odata.id": f"{path}/LogServices"},
        "SerialInterfaces": {"@odata.id": f"{path}/SerialInterfaces"},
        **_clock(call),
        "Actions": manager_actions(path),
        "Links": {"ManagerForServers": [{"@odata.id": f"{V1}/Systems/{call.system_id}"}],
                  "ManagerForChassis": [{"@odata.id": f"{V1}/Chassis/{call.system_id}"}]},
    })


def _clock(call: Call) -> dict[str, str]:
    """DateTime and DateTimeLocalOffset: the SEL clock and its UTC offset."""
    sel = call.parts.platform.sel
    minutes, offset = local_offset(sel.utc_offset)
    return {"DateTime": iso_time(sel.now(), minutes), "DateTimeLocalOffset": offset}


def get_manager_nics(call: Call) -> Response:
    check_id(call, "manager_id", MANAGER_ID)
    return collection(f"{V1}/Managers/{MANAGER_ID}/EthernetInterfaces", "EthernetInterface",
                       "Manager Ethernet Interfaces", ["eth0"])


def get_manager_nic(call: Call) -> Response:
    check_id(call, "manager_id", MANAGER_ID)
    check_id(call, "nic_id", "eth0")
    address = call.parts.lan.address()
    mac = call.parts.lan.mac()
    vlan = int.from_bytes(LAN_PARAMETERS.get(call.parts.lan, 20), "little")
    static = address.source != "dhcp"
    return ok({
        "@odata.type": "#EthernetInterface.v1_12_0.EthernetInterface",
        "@odata.id": f"{V1}/Managers/{MANAGER_ID}/EthernetInterfaces/eth0",
        "Id": "eth0",
        "Name": "BMC LAN channel 1",
        "MACAddress": mac,
        "PermanentMACAddress": mac,
        "InterfaceEnabled": True,
        "IPv4Addresses": [{
            "Address": address.ip,
            "SubnetMask": address.netmask,
            "Gateway": address.gateway,
            "AddressOrigin": "Static" if static else "DHCP",
        }],
        "IPv4StaticAddresses": [{"Address": address.ip, "SubnetMask": address.netmask,
                                 "Gateway": address.gateway}] if static else [],
        "DHCPv4": {"DHCPEnabled": not static},
        "VLAN": {"VLANEnable": bool(vlan & 0x8000), "VLANId": vlan & 0x0FFF},
    })


def get_network_protocol(call: Call) -> Response:
    check_id(call, "manager_id", MANAGER_ID)
    return ok({
        "@odata.type": "#ManagerNetworkProtocol.v1_10_0.ManagerNetworkProtocol",
        "@odata.id": f"{V1}/Managers/{MANAGER_ID}/NetworkProtocol",
        "Id": "NetworkProtocol",
        "Name": "Manager Network Protocol",
        # IPMI over LAN: off while the LAN channel's active access mode is Disabled.
        "IPMI": {"ProtocolEnabled": call.parts.lan.ipmi_enabled(),
                 "Port": call.parts.config.port},
        "HTTPS": {"ProtocolEnabled": call.parts.config.redfish.tls,
                  "Port": call.parts.config.redfish.port},
        "SSH": {"ProtocolEnabled": False},
    })




# The one serial interface: the host's console port that SOL carries.
SERIAL_ID = "ttyS0"
# Redfish BitRate values (strings); SOL's 0 means "the serial port's own setting" (115200).
DEFAULT_BIT_RATE = 115200


def get_serial_interfaces(call: Call) -> Response:
    check_id(call, "manager_id", MANAGER_ID)
    return collection(f"{V1}/Managers/{MANAGER_ID}/SerialInterfaces", "SerialInterface",
                      "Manager Serial Interfaces", [SERIAL_ID])


def get_serial_interface(call: Call) -> Response:
    """The console port SOL carries; enabled and bit rate are the SOL parameters."""
    check_id(call, "manager_id", MANAGER_ID)
    check_id(call, "serial_id", SERIAL_ID)
    sol = call.parts.lan.sol_settings()
    rate = sol.non_volatile_bit_rate or DEFAULT_BIT_RATE
    return ok({
        "@odata.type": "#SerialInterface.v1_3_0.SerialInterface",
        "@odata.id": f"{V1}/Managers/{MANAGER_ID}/SerialInterfaces/{SERIAL_ID}",
        "Id": SERIAL_ID,
        "Name": "Host console (Serial over LAN)",
        "InterfaceEnabled": bool(sol.enabled),
        "SignalType": "Rs232",
        "BitRate": str(rate),
        "Parity": "None",
        "DataBits": "8",
        "StopBits": "1",
        "FlowControl": "None",
        "ConnectorType": "DB9 Male",
    })


ROUTES: tuple[Route, ...] = (
    Route("GET", f"{V1}/Managers", R.USER, get_managers),
    Route("GET", f"{V1}/Managers/{{manager_id}}", R.USER, get_manager),
    Route("GET", f"{V1}/Managers/{{manager_id}}/EthernetInterfaces", R.USER, get_manager_nics),
    Route("GET", f"{V1}/Managers/{{manager_id}}/EthernetInterfaces/{{nic_id}}", R.USER,
          get_manager_nic),
    Route("GET", f"{V1}/Managers/{{manager_id}}/NetworkProtocol", R.USER,
          get_network_protocol),
    Route("GET", f"{V1}/Managers/{{manager_id}}/SerialInterfaces", R.USER,
          get_serial_interfaces),
    Route("GET", f"{V1}/Managers/{{manager_id}}/SerialInterfaces/{{serial_id}}", R.USER,
          get_serial_interface),
)
