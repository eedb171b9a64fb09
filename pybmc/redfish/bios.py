"""Systems/{id}/Bios: the current attributes, the Bios/Settings object a PATCH stores pending
attributes in (applied at the next boot, pybmc.model.bios), Bios.ResetBios and
Bios.ChangePassword (the BIOS passwords are kept hashed and never returned or logged)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pybmc.model import bios
from pybmc.model.inventory import firmware_is_uefi
from pybmc.redfish import http
from pybmc.redfish.bios_registry import REGISTRY
from pybmc.redfish.http import RedfishError, Response
from pybmc.redfish.resource import V1, Call, R, Route, check_system, ok

RESET_BIOS = "Bios.ResetBios"
CHANGE_PASSWORD = "Bios.ChangePassword"
PASSWORD_PARAMETERS = ("PasswordName", "OldPassword", "NewPassword")
APPLY_TIME = "@Redfish.SettingsApplyTime"
APPLY_TIMES = ("OnReset",)  # pending attributes wait for the next boot
READ_ONLY = ("Id", "Name", "Description", "ResetBiosToDefaultsPending", "@Redfish.Settings",
             "Actions", "AttributeRegistry")


def _base(call: Call) -> str:
    check_system(call)
    return f"{V1}/Systems/{call.system_id}/Bios"


def get_bios(call: Call) -> Response:
    base = _base(call)
    state, uefi = call.parts.state, firmware_is_uefi(call.parts.config)
    settings: dict[str, Any] = {
        "@odata.type": "#Settings.v1_3_5.Settings",
        "SettingsObject": {"@odata.id": f"{base}/Settings"},
        "SupportedApplyTimes": list(APPLY_TIMES),
        "Messages": [],
    }
    applied = bios.applied_at(state)
    if applied is not None:  # when pending attributes last became current
        settings["Time"] = datetime.fromtimestamp(applied, UTC).isoformat(
            timespec="seconds")
    return ok({
        "@odata.type": "#Bios.v1_2_0.Bios",
        "@odata.id": base,
        "Id": "Bios",
        "Name": "BIOS Configuration Current Settings",
        "AttributeRegistry": REGISTRY,
        "Attributes": bios.current(state, uefi),
        "ResetBiosToDefaultsPending": bios.reset_pending(state),
        "@Redfish.Settings": settings,
        "Actions": {
            f"#{RESET_BIOS}": {"target": f"{base}/Actions/{RESET_BIOS}"},
            f"#{CHANGE_PASSWORD}": {"target": f"{base}/Actions/{CHANGE_PASSWORD}"},
        },
    })


def get_bios_settings(call: Call) -> Response:
    base = _base(call)
    state, uefi = call.parts.state, firmware_is_uefi(call.parts.config)
    return ok({
        "@odata.type": "#Bios.v1_2_0.Bios",
        "@odata.id": f"{base}/Settings",
        "Id": "Settings",
        "Name": "BIOS Configuration Pending Settings",
        "AttributeRegistry": REGISTRY,
        "Attributes": bios.pending(state, uefi),
    })


def _check_apply_time(value: object) -> None:
    if not isinstance(value, dict):
        raise http.property_value_format_error(value, APPLY_TIME)
    for name, item in value.items():
        if name == "ApplyTime":
            if item not in APPLY_TIMES:
                raise http.property_value_not_in_list(item, f"{APPLY_TIME}/ApplyTime")
        elif not name.startswith("@odata."):
            raise http.property_unknown(f"{APPLY_TIME}/{name}")


def patch_bios_settings(call: Call) -> Response:
    """Attributes for the next boot: every name and value is checked before any is kept."""
    _base(call)
    changes: dict[str, Any] = {}
    for name, value in call.body.items():
        if name == "Attributes":
            if not isinstance(value, dict):
                raise http.property_value_format_error(value, name)
            changes = value
        elif name == APPLY_TIME:
            _check_apply_time(value)
        elif name in READ_ONLY:
            raise http.property_not_writable(name)
        else:
            raise http.property_unknown(name)
    try:
        bios.set_pending(call.parts.state, firmware_is_uefi(call.parts.config), changes)
    except bios.BiosError as err:
        where = f"Attributes/{err.name}"
        if err.unknown:
            raise http.property_unknown(where) from None
        raise http.property_value_not_in_list(err.value, where) from None
    return Response(204)


def reset_bios(call: Call) -> Response:
    _base(call)
    for name in call.body:
        raise http.property_unknown(name)
    bios.reset_to_defaults(call.parts.state)
    return Response(204)


def change_password(call: Call) -> Response:
    """The old password must match the one set ("" when none); an empty new one clears it.
    Errors name the parameter, never its value: the body holds passwords."""
    _base(call)
    for name in call.body:
        if name not in PASSWORD_PARAMETERS:
            raise http.property_unknown(name)
    for name in PASSWORD_PARAMETERS:
        if name not in call.body:
            raise http.action_parameter_missing(CHANGE_PASSWORD, name)
        value = call.body[name]
        if not isinstance(value, str) or len(value) > bios.PASSWORD_MAX:
            raise _parameter_refused(name)
    password_name = call.body["PasswordName"]
    if password_name not in bios.PASSWORD_NAMES:
        raise http.property_value_not_in_list(password_name, "PasswordName")
    if not bios.change_password(call.parts.state, password_name,
                                call.body["OldPassword"], call.body["NewPassword"]):
        raise _parameter_refused("OldPassword")
    return Response(204)


def _parameter_refused(name: str) -> RedfishError:
    return RedfishError(400, "ActionParameterValueError", f"The value for the parameter "
                        f"{name} in the action {CHANGE_PASSWORD} is invalid.",
                        (name, CHANGE_PASSWORD))


_BIOS = f"{V1}/Systems/{{system_id}}/Bios"
ROUTES: tuple[Route, ...] = (
    Route("GET", _BIOS, R.USER, get_bios),
    Route("GET", f"{_BIOS}/Settings", R.USER, get_bios_settings),
    Route("PATCH", f"{_BIOS}/Settings", R.OPERATOR, patch_bios_settings),
    Route("POST", f"{_BIOS}/Actions/{RESET_BIOS}", R.OPERATOR, reset_bios),
    Route("POST", f"{_BIOS}/Actions/{CHANGE_PASSWORD}", R.ADMINISTRATOR, change_password),
)
