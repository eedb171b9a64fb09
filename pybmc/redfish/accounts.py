"""AccountService: the IPMI user table as ManagerAccounts, and the three predefined Roles."""

from __future__ import annotations

from typing import Any

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
from pybmc.wire.codes import LAN_CHANNEL

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
    return collection(f"{V1}/AccountService/Accounts", "ManagerAccount", "Accounts",
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
    Route("GET", f"{V1}/AccountService/Accounts/{{account_id}}", R.USER, get_account),
    Route("GET", f"{V1}/AccountService/Roles", R.USER, get_roles),
    Route("GET", f"{V1}/AccountService/Roles/{{role_id}}", R.USER, get_role),
)
