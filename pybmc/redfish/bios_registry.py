"""The BIOS AttributeRegistry: each Bios attribute's type, allowed values, default, and that
it is writable and applied at the next reset; listed under Registries like a message registry."""

from __future__ import annotations

from typing import Any

from pybmc.model import bios
from pybmc.model.inventory import firmware_is_uefi
from pybmc.redfish.http import Response
from pybmc.redfish.resource import V1, Call, R, Route, ok

REGISTRY_ID = "BiosAttributeRegistry"
REGISTRY_VERSION = "1.0.0"
REGISTRY = f"{REGISTRY_ID}.{REGISTRY_VERSION}"  # what Bios.AttributeRegistry names
FILE_URI = f"{V1}/Registries/{REGISTRY_ID}"
REGISTRY_URI = f"{FILE_URI}/{REGISTRY_ID}"


def get_registry_file(call: Call) -> Response:
    return ok({
        "@odata.type": "#MessageRegistryFile.v1_1_5.MessageRegistryFile",
        "@odata.id": FILE_URI,
        "Id": REGISTRY_ID,
        "Name": "BIOS Attribute Registry File",
        "Description": "The registry of the BIOS attributes of the Systems' Bios resources",
        "Languages": ["en"],
        "Registry": REGISTRY,
        "Location": [{"Language": "en", "Uri": REGISTRY_URI}],
    })


def _entry(attribute: bios.Attribute) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "AttributeName": attribute.name,
        "DisplayName": attribute.name,
        "DefaultValue": attribute.default,
        "ReadOnly": False,
        "ResetRequired": True,  # pending attributes become current at the next boot
    }
    if attribute.values is None:
        entry["Type"] = "Boolean"
    else:
        entry["Type"] = "Enumeration"
        entry["Value"] = [{"ValueName": v, "ValueDisplayName": v} for v in attribute.values]
    return entry


def get_attribute_registry(call: Call) -> Response:
    # BootMode's default follows the firmware of the BMC serving the request.
    attributes = bios.attributes(firmware_is_uefi(call.parts.config))
    return ok({
        "@odata.type": "#AttributeRegistry.v1_3_9.AttributeRegistry",
        "@odata.id": REGISTRY_URI,
        "Id": REGISTRY_ID,
        "Name": "BIOS Attribute Registry",
        "Language": "en",
        "OwningEntity": "pybmc",
        "RegistryVersion": REGISTRY_VERSION,
        "RegistryEntries": {"Attributes": [_entry(a) for a in attributes]},
    })


ROUTES: tuple[Route, ...] = (  # before the generic Registries/{registry} route
    Route("GET", FILE_URI, R.USER, get_registry_file),
    Route("GET", REGISTRY_URI, R.USER, get_attribute_registry),
)
