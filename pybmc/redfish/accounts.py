"""AccountService: the IPMI user table as ManagerAccounts, and the three predefined Roles."""

from __future__ import annotations

import logging
from typing import Any

from pybmc.model.state import UserRecord
from pybmc.redfish import http
from pybmc.redfish.auth import ROLE_BY_PRIVILEGE
from pybmc.redfish.http import Response
from pybmc.redfish.resource import (
    V1,
    Call,
    R,
    Route,
    collection,
    ok,
)
from pybmc.wire.codes import LAN_CHANNEL, Privilege

log = logging.getLogger("pybmc.redfish")

ROLES = ("Administrator", "Operator", "ReadOnly")
PRIVILEGE_BY_ROLE = {"Administrator": Privilege.ADMINISTRATOR, "Operator": Privilege.OPERATOR,
                     "ReadOnly": Privilege.USER}
NAME_LENGTH = 16  # bytes of an IPMI user name
PASSWORD_LENGTH = 20  # bytes of an IPMI 2.0 password
WRITABLE = ("UserName", "Password", "RoleId", "Enabled")
READ_ONLY = ("Id", "Name", "AccountTypes", "Links", "Locked", "Description")
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
        "MinPasswordLength": 1,
        "MaxPasswordLength": PASSWORD_LENGTH,
        "Accounts": {"@odata.id": f"{V1}/AccountService/Accounts"},
        "Roles": {"@odata.id": f"{V1}/AccountService/Roles"},
    })


def _named_users(call: Call) -> dict[str, UserRecord]:
    return {str(uid): user for uid, user in sorted(call.parts.users.records.items())
            if user.name.rstrip(b"\0")}


def get_accounts(call: Call) -> Response:
    return collection(f"{V1}/AccountService/Accounts", "ManagerAccount", "Accounts",
                      list(_named_users(call)))


def _account_document(call: Call, user: UserRecord) -> dict[str, Any]:
    privilege = call.parts.users.privilege_limit(user, LAN_CHANNEL)
    role = ROLE_BY_PRIVILEGE.get(privilege, "NoAccess")
    return {
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
    }


def _account(call: Call) -> UserRecord:
    user = _named_users(call).get(call.params["account_id"])
    if user is None:
        raise http.not_found(call.request.path)
    return user


def get_account(call: Call) -> Response:
    return ok(_account_document(call, _account(call)))


def _user_name(value: object) -> bytes:
    # Basic auth splits at the first colon, and IPMI names are NUL-padded 16-byte fields.
    if not isinstance(value, str) or not value or ":" in value or "\0" in value \
            or len(value.encode()) > NAME_LENGTH:
        raise http.property_value_format_error(value, "UserName")
    return value.encode()


def _password(value: object) -> bytes:
    if not isinstance(value, str) or not value or "\0" in value \
            or len(value.encode()) > PASSWORD_LENGTH:
        raise http.property_value_format_error("******", "Password")  # never echoed
    return value.encode()


def _role(value: object) -> Privilege:
    if value not in PRIVILEGE_BY_ROLE:
        raise http.property_value_not_in_list(value, "RoleId")
    return PRIVILEGE_BY_ROLE[str(value)]


def _enabled(value: object) -> bool:
    if not isinstance(value, bool):
        raise http.property_value_format_error(value, "Enabled")
    return value


def _check_writable(body: dict[str, Any]) -> None:
    for name in body:
        if name in READ_ONLY:
            raise http.property_not_writable(name)
        if name not in WRITABLE:
            raise http.property_unknown(name)


def _name_free(call: Call, name: bytes, user_id: int | None) -> None:
    if call.parts.users.name_taken(name, except_id=user_id):
        raise http.resource_already_exists("ManagerAccount", "UserName", name.decode())


def post_account(call: Call) -> Response:
    """A new account = the lowest free IPMI user slot, enabled for LAN logins."""
    body = call.body
    _check_writable(body)
    for required in ("UserName", "Password"):
        if required not in body:
            raise http.property_missing(required)
    name, password = _user_name(body["UserName"]), _password(body["Password"])
    privilege = _role(body.get("RoleId", "ReadOnly"))
    enabled = _enabled(body.get("Enabled", True))
    _name_free(call, name, None)
    users = call.parts.users
    slot = users.free_slot()
    if slot is None:
        raise http.create_limit_reached()
    users.clear(slot)
    user = users.slot(slot)
    user.name, user.password, user.enabled = name, password, enabled
    users.set_lan_privilege(user, privilege)
    log.info("%s: Redfish account %d created (%r, %s) by %s", call.parts.name, slot,
             name.decode(), ROLE_BY_PRIVILEGE[privilege], _who(call))
    location = f"{V1}/AccountService/Accounts/{slot}"
    return Response(201, _account_document(call, user), {"Location": location})


def patch_account(call: Call) -> Response:
    """UserName, Password, RoleId, Enabled; a non-administrator may change only its own
    password (ConfigureSelf)."""
    user = _account(call)
    body = call.body
    _check_writable(body)
    identity = call.identity
    own = identity is not None and identity.user_name.encode() == user.name
    admin = identity is not None and identity.privilege >= Privilege.ADMINISTRATOR
    if not admin and (not own or set(body) - {"Password"}):
        raise http.insufficient_privilege()
    # Check every value before changing anything: a refused PATCH changes nothing.
    name = _user_name(body["UserName"]) if "UserName" in body else None
    password = _password(body["Password"]) if "Password" in body else None
    privilege = _role(body["RoleId"]) if "RoleId" in body else None
    enabled = _enabled(body["Enabled"]) if "Enabled" in body else None
    if name is not None:
        _name_free(call, name, user.user_id)
        user.name = name
    if password is not None:
        user.password = password
    if privilege is not None:
        call.parts.users.set_lan_privilege(user, privilege)
    if enabled is not None:
        user.enabled = enabled
    log.info("%s: Redfish account %d changed (%s) by %s", call.parts.name, user.user_id,
             ", ".join(sorted(body)), _who(call))
    return ok(_account_document(call, user))


def delete_account(call: Call) -> Response:
    user = _account(call)
    call.parts.users.clear(user.user_id)
    log.info("%s: Redfish account %d deleted by %s", call.parts.name, user.user_id,
             _who(call))
    return Response(204)


def _who(call: Call) -> str:
    return call.identity.user_name if call.identity else "-"


def get_roles(call: Call) -> Response:
    return collection(f"{V1}/AccountService/Roles", "Role", "Roles", list(ROLES))


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


ROUTES: tuple[Route, ...] = (
    Route("GET", f"{V1}/AccountService", R.USER, get_account_service),
    Route("GET", f"{V1}/AccountService/Accounts", R.USER, get_accounts),
    Route("POST", f"{V1}/AccountService/Accounts", R.ADMINISTRATOR, post_account),
    Route("GET", f"{V1}/AccountService/Accounts/{{account_id}}", R.USER, get_account),
    # ConfigureSelf: any user may PATCH its own password; the handler checks the rest.
    Route("PATCH", f"{V1}/AccountService/Accounts/{{account_id}}", R.USER, patch_account),
    Route("DELETE", f"{V1}/AccountService/Accounts/{{account_id}}", R.ADMINISTRATOR,
          delete_account),
    Route("GET", f"{V1}/AccountService/Roles", R.USER, get_roles),
    Route("GET", f"{V1}/AccountService/Roles/{{role_id}}", R.USER, get_role),
)
