"""Systems/{id}/SecureBoot: SecureBootEnable (takes effect at the next boot, with UEFI
firmware), SecureBootCurrentBoot, SecureBootMode, and SecureBoot.ResetKeys."""

from __future__ import annotations

from pybmc.model import bios
from pybmc.redfish import http
from pybmc.redfish.http import Response
from pybmc.redfish.resource import V1, Call, R, Route, check_system, ok

RESET_KEYS = "SecureBoot.ResetKeys"
READ_ONLY = ("Id", "Name", "Description", "SecureBootCurrentBoot", "SecureBootMode",
             "Actions", "SecureBootDatabases")


def _base(call: Call) -> str:
    check_system(call)
    return f"{V1}/Systems/{call.system_id}/SecureBoot"


def get_secure_boot(call: Call) -> Response:
    base = _base(call)
    secure = bios.secure_boot(call.parts.state)
    return ok({
        "@odata.type": "#SecureBoot.v1_1_0.SecureBoot",
        "@odata.id": base,
        "Id": "SecureBoot",
        "Name": "UEFI Secure Boot",
        "SecureBootEnable": secure.enable,
        "SecureBootCurrentBoot": "Enabled" if secure.current_boot else "Disabled",
        "SecureBootMode": secure.mode,
        "SecureBootDatabases": {"@odata.id": f"{base}/SecureBootDatabases"},
        "Actions": {f"#{RESET_KEYS}": {
            "target": f"{base}/Actions/{RESET_KEYS}",
            "ResetKeysType@Redfish.AllowableValues": list(bios.RESET_KEYS_TYPES),
        }},
    })


def patch_secure_boot(call: Call) -> Response:
    _base(call)
    enable: bool | None = None
    for name, value in call.body.items():
        if name == "SecureBootEnable":
            if not isinstance(value, bool):
                raise http.property_value_format_error(value, name)
            enable = value
        elif name in READ_ONLY:
            raise http.property_not_writable(name)
        else:
            raise http.property_unknown(name)
    if enable is not None:
        bios.set_secure_boot(call.parts.state, enable)
    return Response(204)


def reset_keys(call: Call) -> Response:
    _base(call)
    for name in call.body:
        if name != "ResetKeysType":
            raise http.property_unknown(name)
    reset_type = call.body.get("ResetKeysType")
    if reset_type is None:
        raise http.action_parameter_missing(RESET_KEYS, "ResetKeysType")
    if reset_type not in bios.RESET_KEYS_TYPES:
        raise http.property_value_not_in_list(reset_type, "ResetKeysType")
    bios.reset_keys(call.parts.state, reset_type)
    return Response(204)


_SECURE_BOOT = f"{V1}/Systems/{{system_id}}/SecureBoot"
ROUTES: tuple[Route, ...] = (
    Route("GET", _SECURE_BOOT, R.USER, get_secure_boot),
    Route("PATCH", _SECURE_BOOT, R.OPERATOR, patch_secure_boot),
    Route("POST", f"{_SECURE_BOOT}/Actions/{RESET_KEYS}", R.OPERATOR, reset_keys),
)
