"""Systems/{id}/SecureBoot/SecureBootDatabases: the PK, KEK, db and dbx key databases, their
(read-only) Certificates and Signatures views, and SecureBootDatabase.ResetKeys, which maps
onto SecureBootMode (as in UEFI it follows the PK: deleted, SetupMode; present, UserMode).

The simulated firmware holds no real key material, so the views list no members."""

from __future__ import annotations

from pybmc.model import bios
from pybmc.redfish import http
from pybmc.redfish.http import Response
from pybmc.redfish.resource import V1, Call, R, Route, check_system, collection, ok

RESET_KEYS = "SecureBootDatabase.ResetKeys"
NAMES = {"PK": "Platform Key", "KEK": "Key Exchange Keys", "db": "Authorized Signatures",
         "dbx": "Forbidden Signatures"}


def _base(call: Call) -> str:
    check_system(call)
    return f"{V1}/Systems/{call.system_id}/SecureBoot/SecureBootDatabases"


def _database(call: Call) -> tuple[str, str]:
    base, database = _base(call), call.params["database"]
    if database not in bios.KEY_DATABASES:
        raise http.not_found(call.request.path)
    return f"{base}/{database}", database


def get_databases(call: Call) -> Response:
    return collection(_base(call), "SecureBootDatabase", "UEFI Secure Boot Databases",
                      list(bios.KEY_DATABASES))


def get_database(call: Call) -> Response:
    path, database = _database(call)
    return ok({
        "@odata.type": "#SecureBootDatabase.v1_0_3.SecureBootDatabase",
        "@odata.id": path,
        "Id": database,
        "Name": f"UEFI {NAMES[database]} Database",
        "DatabaseId": database,
        "Certificates": {"@odata.id": f"{path}/Certificates"},
        "Signatures": {"@odata.id": f"{path}/Signatures"},
        "Actions": {f"#{RESET_KEYS}": {
            "target": f"{path}/Actions/{RESET_KEYS}",
            "ResetKeysType@Redfish.AllowableValues": list(bios.DATABASE_RESET_TYPES),
        }},
    })


def get_certificates(call: Call) -> Response:
    path, database = _database(call)
    return collection(f"{path}/Certificates", "Certificate",
                      f"{database} Certificates", [])


def get_signatures(call: Call) -> Response:
    path, database = _database(call)
    return collection(f"{path}/Signatures", "Signature", f"{database} Signatures", [])


def reset_keys(call: Call) -> Response:
    _, database = _database(call)
    for name in call.body:
        if name != "ResetKeysType":
            raise http.property_unknown(name)
    reset_type = call.body.get("ResetKeysType")
    if reset_type is None:
        raise http.action_parameter_missing(RESET_KEYS, "ResetKeysType")
    if reset_type not in bios.DATABASE_RESET_TYPES:
        raise http.property_value_not_in_list(reset_type, "ResetKeysType")
    bios.reset_database(call.parts.state, database, reset_type)
    return Response(204)


_DBS = f"{V1}/Systems/{{system_id}}/SecureBoot/SecureBootDatabases"
ROUTES: tuple[Route, ...] = (
    Route("GET", _DBS, R.USER, get_databases),
    Route("GET", f"{_DBS}/{{database}}", R.USER, get_database),
    Route("GET", f"{_DBS}/{{database}}/Certificates", R.USER, get_certificates),
    Route("GET", f"{_DBS}/{{database}}/Signatures", R.USER, get_signatures),
    Route("POST", f"{_DBS}/{{database}}/Actions/{RESET_KEYS}", R.OPERATOR, reset_keys),
)
