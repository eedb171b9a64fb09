"""The Redfish route table and its handlers: one per resource and method, over the model."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pybmc.model import boot
from pybmc.model.power import PowerAction, PowerError
from pybmc.redfish import http
from pybmc.redfish.auth import ROLE_BY_PRIVILEGE, Identity, SessionTable, check_password
from pybmc.redfish.http import RedfishError, Request, Response
from pybmc.wire.codes import LAN_CHANNEL, Privilege

if TYPE_CHECKING:
    from pybmc.redfish.parts import RedfishParts

V1 = "/redfish/v1"


@dataclass
class Call:
    """One routed request: the BMC parts, the caller, the path's parameters and JSON body."""

    parts: RedfishParts
    system_id: str
    sessions: SessionTable
    request: Request
    identity: Identity | None
    params: dict[str, str]
    body: dict[str, Any]
    now: float


Handler = Callable[[Call], Response]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    privilege: Privilege  # USER = ReadOnly (Login), OPERATOR = ConfigureComponents, ...
    handler: Handler
    public: bool = False  # answered without credentials (service root documents)


def ok(body: dict[str, Any]) -> Response:
    return Response(200, body)


def system_uuid(parts: RedfishParts) -> str:
    # The IPMI System GUID goes on the wire with its bytes reversed.
    return str(uuid.UUID(bytes=bytes(parts.guid)[::-1]))


def _check_system(call: Call) -> None:
    wanted = call.params["system_id"]
    if wanted not in (call.system_id, system_uuid(call.parts)):
        raise http.not_found(call.request.path)


# ----------------------------------------------------------------- service root
def get_service_root(call: Call) -> Response:
    return ok({
        "@odata.type": "#ServiceRoot.v1_15_0.ServiceRoot",
        "@odata.id": f"{V1}",
        "Id": "RootService",
        "Name": "pybmc Redfish Service",
        "RedfishVersion": "1.15.0",
        "UUID": system_uuid(call.parts),
        "Product": "pybmc",
        "Vendor": "pybmc",
        "Systems": {"@odata.id": f"{V1}/Systems"},
        "Managers": {"@odata.id": f"{V1}/Managers"},
        "Chassis": {"@odata.id": f"{V1}/Chassis"},
        "AccountService": {"@odata.id": f"{V1}/AccountService"},
        "SessionService": {"@odata.id": f"{V1}/SessionService"},
        "Links": {"Sessions": {"@odata.id": f"{V1}/SessionService/Sessions"}},
    })


def get_redfish(call: Call) -> Response:
    return Response(200, {"v1": f"{V1}/"})


# ----------------------------------------------------------------- systems
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
DEVICE_BY_TARGET = {"None": "default", "Pxe": "pxe", "Hdd": "disk", "Cd": "cdrom",
                    "BiosSetup": "bios", "Usb": "floppy"}
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
    }


def get_system(call: Call) -> Response:
    _check_system(call)
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
        "Status": {"State": "Enabled", "Health": "OK"},
        "Boot": _boot_document(parts),
        "Actions": {"#ComputerSystem.Reset": {
            "target": f"{V1}/Systems/{sid}/Actions/ComputerSystem.Reset",
            "ResetType@Redfish.AllowableValues": list(RESET_ACTIONS),
        }},
    })


def patch_system(call: Call) -> Response:
    _check_system(call)
    for name in call.body:
        if name == "Boot":
            continue
        if name in ("Id", "Name", "UUID", "PowerState", "Status", "SystemType"):
            raise http.property_not_writable(name)
        raise http.property_unknown(name)
    wanted = call.body.get("Boot", {})
    if not isinstance(wanted, dict):
        raise http.property_value_not_in_list(wanted, "Boot")
    current = boot.boot_override(call.parts.state)
    device, enabled, persistent, efi = (current.device, current.enabled,
                                        current.persistent, current.efi)
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
        else:
            raise http.property_unknown(f"Boot/{name}")
    if "BootSourceOverrideTarget" in wanted and "BootSourceOverrideEnabled" not in wanted \
            and not enabled and device != "default":
        enabled = True  # a target alone means "next boot", as sushy and bmcweb treat it
    boot.set_boot_override(call.parts.state,
                           boot.BootOverride(device, enabled, persistent, efi))
    return Response(204)


def reset_system(call: Call) -> Response:
    _check_system(call)
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


# ----------------------------------------------------------------- sessions
def get_session_service(call: Call) -> Response:
    return ok({
        "@odata.type": "#SessionService.v1_1_9.SessionService",
        "@odata.id": f"{V1}/SessionService",
        "Id": "SessionService",
        "Name": "Session Service",
        "ServiceEnabled": True,
        "SessionTimeout": 600,
        "Sessions": {"@odata.id": f"{V1}/SessionService/Sessions"},
    })


def get_sessions(call: Call) -> Response:
    members = [{"@odata.id": f"{V1}/SessionService/Sessions/{sid}"}
               for sid in sorted(call.sessions.sessions, key=int)]
    return ok({
        "@odata.type": "#SessionCollection.SessionCollection",
        "@odata.id": f"{V1}/SessionService/Sessions",
        "Name": "Session Collection",
        "Members": members,
        "Members@odata.count": len(members),
    })


def _session_document(sid: str, user_name: str) -> dict[str, Any]:
    return {
        "@odata.type": "#Session.v1_7_0.Session",
        "@odata.id": f"{V1}/SessionService/Sessions/{sid}",
        "Id": sid,
        "Name": "User Session",
        "UserName": user_name,
    }


def post_session(call: Call) -> Response:
    name = call.body.get("UserName")
    password = call.body.get("Password")
    if not isinstance(name, str):
        raise http.action_parameter_missing("Session", "UserName")
    if not isinstance(password, str):
        raise http.action_parameter_missing("Session", "Password")
    if check_password(call.parts.users, name, password, call.parts.lockout, call.now) is None:
        raise http.unauthorized()
    session = call.sessions.create(name, call.now)
    if session is None:
        raise RedfishError(503, "SessionLimitExceeded", "The session establishment failed due "
                           "to the number of simultaneous sessions exceeding the limit of the "
                           "implementation.")
    location = f"{V1}/SessionService/Sessions/{session.session_id}"
    return Response(201, _session_document(session.session_id, name),
                    {"X-Auth-Token": session.token, "Location": location})


def get_session(call: Call) -> Response:
    session = call.sessions.sessions.get(call.params["session_id"])
    if session is None:
        raise http.not_found(call.request.path)
    return ok(_session_document(session.session_id, session.user_name))


def delete_session(call: Call) -> Response:
    sid = call.params["session_id"]
    session = call.sessions.sessions.get(sid)
    if session is None:
        raise http.not_found(call.request.path)
    identity = call.identity
    own = identity is not None and identity.session_id == sid
    if not own and (identity is None or identity.privilege < Privilege.ADMINISTRATOR):
        raise http.insufficient_privilege()
    call.sessions.delete(sid)
    return Response(204)


# ----------------------------------------------------------------- OData documents
# Schema namespace -> (file under DMTF's public schema URI, version namespace).
METADATA_SCHEMAS = (
    ("ServiceRoot", "ServiceRoot.v1_15_0"), ("ComputerSystem", "ComputerSystem.v1_20_0"),
    ("ComputerSystemCollection", ""), ("Manager", "Manager.v1_19_0"),
    ("ManagerCollection", ""), ("EthernetInterface", "EthernetInterface.v1_12_0"),
    ("EthernetInterfaceCollection", ""),
    ("ManagerNetworkProtocol", "ManagerNetworkProtocol.v1_10_0"),
    ("Chassis", "Chassis.v1_23_0"), ("ChassisCollection", ""),
    ("SessionService", "SessionService.v1_1_9"), ("Session", "Session.v1_7_0"),
    ("SessionCollection", ""), ("AccountService", "AccountService.v1_15_0"),
    ("ManagerAccount", "ManagerAccount.v1_12_0"), ("ManagerAccountCollection", ""),
    ("Role", "Role.v1_3_2"), ("RoleCollection", ""), ("Message", "Message.v1_1_1"),
)
SCHEMA_URI = "http://redfish.dmtf.org/schemas/v1"


def get_metadata(call: Call) -> Response:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">']
    for schema, versioned in METADATA_SCHEMAS:
        lines.append(f'  <edmx:Reference Uri="{SCHEMA_URI}/{schema}_v1.xml">')
        lines.append(f'    <edmx:Include Namespace="{schema}"/>')
        if versioned:
            lines.append(f'    <edmx:Include Namespace="{versioned}"/>')
        lines.append("  </edmx:Reference>")
    lines += ["  <edmx:DataServices>",
              '    <Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="Service">',
              '      <EntityContainer Name="Service"'
              ' Extends="ServiceRoot.v1_15_0.ServiceContainer"/>',
              "    </Schema>", "  </edmx:DataServices>", "</edmx:Edmx>", ""]
    return Response(200, xml="\n".join(lines))


def get_odata(call: Call) -> Response:
    names = ("Systems", "Managers", "Chassis", "SessionService", "AccountService")
    return Response(200, {
        "@odata.context": f"{V1}/$metadata",
        "value": [{"name": "Service", "kind": "Singleton", "url": f"{V1}/"}]
        + [{"name": n, "kind": "Singleton", "url": f"{V1}/{n}"} for n in names],
    })


# ----------------------------------------------------------------- accounts
ROLES = ("Administrator", "Operator", "ReadOnly")
ROLE_PRIVILEGES = {
    "Administrator": ["Login", "ConfigureManager", "ConfigureUsers", "ConfigureSelf",
                      "ConfigureComponents"],
    "Operator": ["Login", "ConfigureSelf", "ConfigureComponents"],
    "ReadOnly": ["Login", "ConfigureSelf"],
}


def get_account_service(call: Call) -> Response:
    return ok({
        "@odata.type": "#AccountService.v1_15_0.AccountService",
        "@odata.id": f"{V1}/AccountService",
        "Id": "AccountService",
        "Name": "Account Service",
        "ServiceEnabled": True,
        "Accounts": {"@odata.id": f"{V1}/AccountService/Accounts"},
        "Roles": {"@odata.id": f"{V1}/AccountService/Roles"},
    })


def _named_users(call: Call) -> dict[str, Any]:
    return {str(uid): user for uid, user in sorted(call.parts.users.records.items())
            if user.name.rstrip(b"\0")}


def get_accounts(call: Call) -> Response:
    return _collection(f"{V1}/AccountService/Accounts", "ManagerAccount", "Accounts",
                       list(_named_users(call)))


def get_account(call: Call) -> Response:
    user = _named_users(call).get(call.params["account_id"])
    if user is None:
        raise http.not_found(call.request.path)
    privilege = call.parts.users.privilege_limit(user, LAN_CHANNEL)
    role = ROLE_BY_PRIVILEGE.get(privilege, "NoAccess")
    return ok({
        "@odata.type": "#ManagerAccount.v1_12_0.ManagerAccount",
        "@odata.id": f"{V1}/AccountService/Accounts/{user.user_id}",
        "Id": str(user.user_id),
        "Name": "User Account",
        "UserName": user.name.rstrip(b"\0").decode(errors="replace"),
        "Enabled": user.enabled,
        "Password": None,
        "AccountTypes": ["Redfish", "IPMI"],
        "RoleId": role,
        "Links": {"Role": {"@odata.id": f"{V1}/AccountService/Roles/{role}"}}
        if role in ROLES else {},
    })


def get_roles(call: Call) -> Response:
    return _collection(f"{V1}/AccountService/Roles", "Role", "Roles", list(ROLES))


def get_role(call: Call) -> Response:
    role = call.params["role_id"]
    if role not in ROLES:
        raise http.not_found(call.request.path)
    return ok({
        "@odata.type": "#Role.v1_3_2.Role",
        "@odata.id": f"{V1}/AccountService/Roles/{role}",
        "Id": role,
        "Name": f"{role} role",
        "RoleId": role,
        "IsPredefined": True,
        "AssignedPrivileges": ROLE_PRIVILEGES[role],
    })


# ----------------------------------------------------------------- managers
MANAGER_ID = "BMC"


def _collection(path: str, kind: str, name: str, ids: list[str]) -> Response:
    return ok({
        "@odata.type": f"#{kind}Collection.{kind}Collection",
        "@odata.id": path,
        "Name": name,
        "Members": [{"@odata.id": f"{path}/{i}"} for i in ids],
        "Members@odata.count": len(ids),
    })


def _check_id(call: Call, key: str, wanted: str) -> None:
    if call.params[key] != wanted:
        raise http.not_found(call.request.path)


def get_managers(call: Call) -> Response:
    return _collection(f"{V1}/Managers", "Manager", "Manager Collection", [MANAGER_ID])


def get_manager(call: Call) -> Response:
    _check_id(call, "manager_id", MANAGER_ID)
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
        "Links": {"ManagerForServers": [{"@odata.id": f"{V1}/Systems/{call.system_id}"}],
                  "ManagerForChassis": [{"@odata.id": f"{V1}/Chassis/{call.system_id}"}]},
    })


def get_manager_nics(call: Call) -> Response:
    _check_id(call, "manager_id", MANAGER_ID)
    return _collection(f"{V1}/Managers/{MANAGER_ID}/EthernetInterfaces", "EthernetInterface",
                       "Manager Ethernet Interfaces", ["eth0"])


def get_manager_nic(call: Call) -> Response:
    _check_id(call, "manager_id", MANAGER_ID)
    _check_id(call, "nic_id", "eth0")
    address = call.parts.lan.address()
    mac = call.parts.lan.mac()
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
            "AddressOrigin": "DHCP" if address.source == "dhcp" else "Static",
        }],
    })


def get_network_protocol(call: Call) -> Response:
    _check_id(call, "manager_id", MANAGER_ID)
    return ok({
        "@odata.type": "#ManagerNetworkProtocol.v1_10_0.ManagerNetworkProtocol",
        "@odata.id": f"{V1}/Managers/{MANAGER_ID}/NetworkProtocol",
        "Id": "NetworkProtocol",
        "Name": "Manager Network Protocol",
        "IPMI": {"ProtocolEnabled": True, "Port": call.parts.config.port},
        "HTTPS": {"ProtocolEnabled": call.parts.config.redfish.tls,
                  "Port": call.parts.config.redfish.port},
        "SSH": {"ProtocolEnabled": False},
    })


# ----------------------------------------------------------------- chassis
def _identify_lit(call: Call) -> bool:
    chassis = call.parts.chassis
    return chassis.identify_forever or call.now < chassis.identify_until


def get_chassis_collection(call: Call) -> Response:
    return _collection(f"{V1}/Chassis", "Chassis", "Chassis Collection", [call.system_id])


def get_chassis(call: Call) -> Response:
    _check_id(call, "chassis_id", call.system_id)
    return ok({
        "@odata.type": "#Chassis.v1_23_0.Chassis",
        "@odata.id": f"{V1}/Chassis/{call.system_id}",
        "Id": call.system_id,
        "Name": f"{call.parts.name} chassis",
        "ChassisType": "RackMount",
        "PowerState": "On" if call.parts.power.is_on() else "Off",
        "IndicatorLED": "Lit" if _identify_lit(call) else "Off",
        "LocationIndicatorActive": _identify_lit(call),
        "Status": {"State": "Enabled", "Health": "OK"},
        "Links": {"ComputerSystems": [{"@odata.id": f"{V1}/Systems/{call.system_id}"}],
                  "ManagedBy": [{"@odata.id": f"{V1}/Managers/{MANAGER_ID}"}]},
    })


def patch_chassis(call: Call) -> Response:
    """IndicatorLED / LocationIndicatorActive = IPMI Chassis Identify (forever or off)."""
    _check_id(call, "chassis_id", call.system_id)
    lit: bool | None = None
    for name, value in call.body.items():
        if name == "IndicatorLED":
            if value not in ("Lit", "Blinking", "Off"):
                raise http.property_value_not_in_list(value, name)
            lit = value != "Off"
        elif name == "LocationIndicatorActive":
            if not isinstance(value, bool):
                raise http.property_value_not_in_list(value, name)
            lit = value
        elif name in ("Id", "Name", "PowerState", "ChassisType", "Status"):
            raise http.property_not_writable(name)
        else:
            raise http.property_unknown(name)
    if lit is not None:
        call.parts.chassis.identify_forever = lit
        call.parts.chassis.identify_until = 0.0
    return Response(204)


R = Privilege
ROUTES: tuple[Route, ...] = (
    Route("GET", "/redfish", R.NONE, get_redfish, public=True),
    Route("GET", V1, R.NONE, get_service_root, public=True),
    Route("GET", f"{V1}/Systems", R.USER, get_systems),
    Route("GET", f"{V1}/Systems/{{system_id}}", R.USER, get_system),
    Route("PATCH", f"{V1}/Systems/{{system_id}}", R.OPERATOR, patch_system),
    Route("POST", f"{V1}/Systems/{{system_id}}/Actions/ComputerSystem.Reset", R.OPERATOR,
          reset_system),
    Route("GET", f"{V1}/$metadata", R.NONE, get_metadata, public=True),
    Route("GET", f"{V1}/odata", R.NONE, get_odata, public=True),
    Route("GET", f"{V1}/AccountService", R.USER, get_account_service),
    Route("GET", f"{V1}/AccountService/Accounts", R.USER, get_accounts),
    Route("GET", f"{V1}/AccountService/Accounts/{{account_id}}", R.USER, get_account),
    Route("GET", f"{V1}/AccountService/Roles", R.USER, get_roles),
    Route("GET", f"{V1}/AccountService/Roles/{{role_id}}", R.USER, get_role),
    Route("GET", f"{V1}/Managers", R.USER, get_managers),
    Route("GET", f"{V1}/Managers/{{manager_id}}", R.USER, get_manager),
    Route("GET", f"{V1}/Managers/{{manager_id}}/EthernetInterfaces", R.USER, get_manager_nics),
    Route("GET", f"{V1}/Managers/{{manager_id}}/EthernetInterfaces/{{nic_id}}", R.USER,
          get_manager_nic),
    Route("GET", f"{V1}/Managers/{{manager_id}}/NetworkProtocol", R.USER,
          get_network_protocol),
    Route("GET", f"{V1}/Chassis", R.USER, get_chassis_collection),
    Route("GET", f"{V1}/Chassis/{{chassis_id}}", R.USER, get_chassis),
    Route("PATCH", f"{V1}/Chassis/{{chassis_id}}", R.OPERATOR, patch_chassis),
    Route("GET", f"{V1}/SessionService", R.USER, get_session_service),
    Route("GET", f"{V1}/SessionService/Sessions", R.USER, get_sessions),
    Route("POST", f"{V1}/SessionService/Sessions", R.NONE, post_session, public=True),
    Route("GET", f"{V1}/SessionService/Sessions/{{session_id}}", R.USER, get_session),
    Route("DELETE", f"{V1}/SessionService/Sessions/{{session_id}}", R.USER, delete_session),
)
