"""The service root documents: /redfish, ServiceRoot, $metadata and the OData service document."""

from __future__ import annotations

from pybmc.redfish.http import Response
from pybmc.redfish.resource import (
    V1,
    Call,
    R,
    Route,
    ok,
    system_uuid,
)


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
        "EventService": {"@odata.id": f"{V1}/EventService"},
        "Tasks": {"@odata.id": f"{V1}/TaskService"},
        "Registries": {"@odata.id": f"{V1}/Registries"},
        "JsonSchemas": {"@odata.id": f"{V1}/JsonSchemas"},
        "Links": {"Sessions": {"@odata.id": f"{V1}/SessionService/Sessions"}},
    })


def get_redfish(call: Call) -> Response:
    return Response(200, {"v1": f"{V1}/"})


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
    ("EventService", "EventService.v1_10_0"), ("EventDestination", "EventDestination.v1_13_0"),
    ("EventDestinationCollection", ""), ("Event", "Event.v1_7_0"),
    ("VirtualMedia", "VirtualMedia.v1_6_0"), ("VirtualMediaCollection", ""),
    ("ActionInfo", "ActionInfo.v1_3_0"), ("TaskService", "TaskService.v1_2_0"),
    ("Task", "Task.v1_7_0"), ("TaskCollection", ""),
    ("SessionCollection", ""), ("AccountService", "AccountService.v1_15_0"),
    ("ManagerAccount", "ManagerAccount.v1_12_0"), ("ManagerAccountCollection", ""),
    ("Role", "Role.v1_3_2"), ("RoleCollection", ""), ("Message", "Message.v1_1_1"),
    # SEL log services and the Chassis' sensors
    ("LogService", "LogService.v1_5_0"), ("LogServiceCollection", ""),
    ("LogEntry", "LogEntry.v1_15_0"), ("LogEntryCollection", ""),
    ("Sensor", "Sensor.v1_7_0"), ("SensorCollection", ""),
    ("Thermal", "Thermal.v1_7_0"), ("Power", "Power.v1_7_0"),
    ("ThermalSubsystem", "ThermalSubsystem.v1_3_0"), ("Fan", "Fan.v1_5_0"),
    ("FanCollection", ""), ("ThermalMetrics", "ThermalMetrics.v1_0_0"),
    ("PowerSubsystem", "PowerSubsystem.v1_1_0"), ("PowerSupply", "PowerSupply.v1_5_0"),
    ("PowerSupplyCollection", ""),
    # The system's inventory, BIOS and Secure Boot
    ("Processor", "Processor.v1_20_0"), ("ProcessorCollection", ""),
    ("Memory", "Memory.v1_17_0"), ("MemoryCollection", ""),
    ("SimpleStorage", "SimpleStorage.v1_3_0"), ("SimpleStorageCollection", ""),
    ("Storage", "Storage.v1_15_0"), ("StorageCollection", ""),
    ("Drive", "Drive.v1_17_0"), ("DriveCollection", ""),
    ("Bios", "Bios.v1_2_0"), ("SecureBoot", "SecureBoot.v1_1_0"), ("Settings", "Settings.v1_3_5"),
    ("SerialInterface", "SerialInterface.v1_3_0"), ("SerialInterfaceCollection", ""),
    # Registries and JsonSchemas (pybmc.redfish.registries)
    ("MessageRegistryFile", "MessageRegistryFile.v1_1_5"), ("MessageRegistryFileCollection", ""),
    ("JsonSchemaFile", "JsonSchemaFile.v1_1_5"), ("JsonSchemaFileCollection", ""),
    ("AttributeRegistry", "AttributeRegistry.v1_3_9"),
    ("SecureBootDatabase", "SecureBootDatabase.v1_0_3"), ("SecureBootDatabaseCollection", ""),
    ("CertificateCollection", ""), ("SignatureCollection", ""),
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
    names = ("Systems", "Managers", "Chassis", "SessionService", "AccountService",
             "EventService", "TaskService", "Registries", "JsonSchemas")
    return Response(200, {
        "@odata.context": f"{V1}/$metadata",
        "value": [{"name": "Service", "kind": "Singleton", "url": f"{V1}/"}]
        + [{"name": n, "kind": "Singleton", "url": f"{V1}/{n}"} for n in names],
    })




ROUTES: tuple[Route, ...] = (
    Route("GET", "/redfish", R.NONE, get_redfish, public=True),
    Route("GET", V1, R.NONE, get_service_root, public=True),
    Route("GET", f"{V1}/$metadata", R.NONE, get_metadata, public=True),
    Route("GET", f"{V1}/odata", R.NONE, get_odata, public=True),
)
