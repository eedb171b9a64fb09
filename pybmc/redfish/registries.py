"""Registries and JsonSchemas: the message registries and schemas the service uses, by reference
to DMTF's published copies (as server BMCs do), so a client can find each one's definition."""

from __future__ import annotations

from pybmc.redfish import http
from pybmc.redfish.bios_registry import REGISTRY_ID as BIOS_REGISTRY_ID
from pybmc.redfish.http import BASE_REGISTRY, Response
from pybmc.redfish.resource import V1, Call, R, Route, collection, ok
from pybmc.redfish.root import METADATA_SCHEMAS

REGISTRY_URI = "https://redfish.dmtf.org/registries"
SCHEMA_JSON_URI = "https://redfish.dmtf.org/schemas/v1"

# Registry prefix -> the version the service's messages and events use.
REGISTRIES = {
    "Base": BASE_REGISTRY.removeprefix("Base."),
    "ResourceEvent": "1.4",
    "TaskEvent": "1.0",
}


def get_registries(call: Call) -> Response:
    return collection(f"{V1}/Registries", "MessageRegistryFile", "Message Registries",
                      [*REGISTRIES, BIOS_REGISTRY_ID])


def get_registry(call: Call) -> Response:
    prefix = call.params["registry"]
    version = REGISTRIES.get(prefix)
    if version is None:
        raise http.not_found(call.request.path)
    return ok({
        "@odata.type": "#MessageRegistryFile.v1_1_5.MessageRegistryFile",
        "@odata.id": f"{V1}/Registries/{prefix}",
        "Id": prefix,
        "Name": f"{prefix} Message Registry File",
        "Languages": ["en"],
        "Registry": f"{prefix}.{version}",
        "Location": [{
            "Language": "en",
            "PublicationUri": f"{REGISTRY_URI}/{prefix}.{version}.0.json",
        }],
    })


def _schema_names() -> list[str]:
    return [name for name, _ in METADATA_SCHEMAS]


def get_json_schemas(call: Call) -> Response:
    return collection(f"{V1}/JsonSchemas", "JsonSchemaFile", "JSON Schemas", _schema_names())


def get_json_schema(call: Call) -> Response:
    name = call.params["schema"]
    versions = dict(METADATA_SCHEMAS)
    if name not in versions:
        raise http.not_found(call.request.path)
    versioned = versions[name]
    # A collection schema has no version namespace: its JSON file is unversioned.
    file = f"{versioned}.json" if versioned else f"{name}.json"
    return ok({
        "@odata.type": "#JsonSchemaFile.v1_1_5.JsonSchemaFile",
        "@odata.id": f"{V1}/JsonSchemas/{name}",
        "Id": name,
        "Name": f"{name} Schema File",
        "Languages": ["en"],
        "Schema": f"#{versioned}.{name}" if versioned else f"#{name}.{name}",
        "Location": [{"Language": "en", "PublicationUri": f"{SCHEMA_JSON_URI}/{file}"}],
    })


ROUTES: tuple[Route, ...] = (
    Route("GET", f"{V1}/Registries", R.USER, get_registries),
    Route("GET", f"{V1}/Registries/{{registry}}", R.USER, get_registry),
    Route("GET", f"{V1}/JsonSchemas", R.USER, get_json_schemas),
    Route("GET", f"{V1}/JsonSchemas/{{schema}}", R.USER, get_json_schema),
)
