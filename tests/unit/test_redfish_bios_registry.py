"""The BIOS AttributeRegistry (listed under Registries) and Bios.ChangePassword."""

from __future__ import annotations

import json
import logging

import pytest

from pybmc.core.bmc import Bmc
from pybmc.redfish.service import RedfishService
from tests.unit.test_redfish_inventory import SYSTEM, bmc, get, members, service
from tests.unit.test_redfish_service import message_id, send

__all__ = ["bmc", "service"]  # fixtures
ACTION = f"{SYSTEM}/Bios/Actions/Bios.ChangePassword"


def test_registry_is_listed_and_describes_every_attribute(service: RedfishService) -> None:
    ids = [m["@odata.id"] for m in members(service, "/redfish/v1/Registries")]
    assert "/redfish/v1/Registries/BiosAttributeRegistry" in ids
    bios = get(service, f"{SYSTEM}/Bios")
    file = get(service, "/redfish/v1/Registries/BiosAttributeRegistry")
    assert file["Registry"] == bios["AttributeRegistry"] == "BiosAttributeRegistry.1.0.0"
    registry = get(service, file["Location"][0]["Uri"])
    entries = {e["AttributeName"]: e for e in registry["RegistryEntries"]["Attributes"]}
    assert set(entries) == set(bios["Attributes"])
    boot_mode = entries["BootMode"]
    assert boot_mode["Type"] == "Enumeration"
    assert [v["ValueName"] for v in boot_mode["Value"]] == ["Uefi", "Bios"]
    assert (boot_mode["ReadOnly"], boot_mode["ResetRequired"]) == (False, True)
    assert entries["QuietBoot"]["Type"] == "Boolean"
    assert entries["QuietBoot"]["DefaultValue"] is False


def change(service: RedfishService, old: str, new: str, name: str = "AdminPassword",
           user: tuple[str, str] | None = None) -> int:
    body = {"PasswordName": name, "OldPassword": old, "NewPassword": new}
    kwargs = {"user": user} if user else {}
    return send(service, "POST", ACTION, body, **kwargs).status


def test_change_password_needs_the_old_one_and_keeps_no_plain_text(
        service: RedfishService, bmc: Bmc, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    assert "#Bios.ChangePassword" in get(service, f"{SYSTEM}/Bios")["Actions"]
    assert change(service, "", "Secr3tBios") == 204
    assert change(service, "wrong", "other") == 400  # the old password no longer matches
    assert change(service, "Secr3tBios", "N3wBios") == 204
    assert change(service, "Secr3tBios", "again") == 400
    assert change(service, "N3wBios", "") == 204  # cleared: "" is the old one again
    assert change(service, "", "Secr3tBios") == 204
    everything = json.dumps(bmc.state.extra) + caplog.text \
        + json.dumps(get(service, f"{SYSTEM}/Bios")) \
        + json.dumps(get(service, f"{SYSTEM}/Bios/Settings"))
    assert "Secr3tBios" not in everything and "N3wBios" not in everything


@pytest.mark.parametrize(("body", "expected"), [
    ({"PasswordName": "AdminPassword", "OldPassword": ""}, "ActionParameterMissing"),
    ({"PasswordName": "Nope", "OldPassword": "", "NewPassword": "x"}, "PropertyValueNotInList"),
    ({"PasswordName": "UserPassword", "OldPassword": "", "NewPassword": 5},
     "ActionParameterValueError"),
    ({"PasswordName": "UserPassword", "OldPassword": "", "NewPassword": "x" * 33},
     "ActionParameterValueError"),
    ({"PasswordName": "UserPassword", "OldPassword": "", "NewPassword": "x", "Extra": 1},
     "PropertyUnknown"),
])
def test_change_password_refusals(service: RedfishService, body: dict[str, object],
                                  expected: str) -> None:
    answer = send(service, "POST", ACTION, body)
    assert answer.status == 400
    assert message_id(answer).endswith(f".{expected}")


def test_read_only_users_cannot_change_bios_passwords(
        service: RedfishService) -> None:
    assert change(service, "", "x", user=("viewer", "look")) == 403
    assert get(service, "/redfish/v1/Registries/BiosAttributeRegistry")["Id"] \
        == "BiosAttributeRegistry"
