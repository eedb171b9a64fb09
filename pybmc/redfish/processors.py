"""Systems/{id} Processors (one per socket) and Memory (the VM's RAM as one module)."""

from __future__ import annotations

from pybmc.model.inventory import Inventory, inventory
from pybmc.redfish import http
from pybmc.redfish.http import Response
from pybmc.redfish.resource import V1, Call, R, Route, check_system, collection, ok

ENABLED = {"State": "Enabled", "Health": "OK"}
MEMORY_ID = "DIMM0"  # the VM's RAM, one module


def _processor_ids(inv: Inventory) -> list[str]:
    return [f"CPU{n}" for n in range(inv.processors.sockets)]


def get_processors(call: Call) -> Response:
    check_system(call)
    return collection(f"{V1}/Systems/{call.system_id}/Processors", "Processor",
                      "Processor Collection", _processor_ids(inventory(call.parts.config)))


def get_processor(call: Call) -> Response:
    check_system(call)
    inv = inventory(call.parts.config)
    processor_id = call.params["processor_id"]
    if processor_id not in _processor_ids(inv):
        raise http.not_found(call.request.path)
    cpus = inv.processors
    return ok({
        "@odata.type": "#Processor.v1_20_0.Processor",
        "@odata.id": f"{V1}/Systems/{call.system_id}/Processors/{processor_id}",
        "Id": processor_id,
        "Name": "Processor",
        "Socket": f"CPU {processor_id.removeprefix('CPU')}",
        "ProcessorType": "CPU",
        "ProcessorArchitecture": cpus.architecture,
        "InstructionSet": cpus.instruction_set,
        "Model": cpus.model,
        "TotalCores": cpus.cores,
        "TotalThreads": cpus.cores * cpus.threads,
        "Status": ENABLED,
    })


def get_memory_collection(call: Call) -> Response:
    check_system(call)
    return collection(f"{V1}/Systems/{call.system_id}/Memory", "Memory", "Memory Collection",
                      [MEMORY_ID])


def get_memory(call: Call) -> Response:
    check_system(call)
    if call.params["memory_id"] != MEMORY_ID:
        raise http.not_found(call.request.path)
    return ok({
        "@odata.type": "#Memory.v1_17_0.Memory",
        "@odata.id": f"{V1}/Systems/{call.system_id}/Memory/{MEMORY_ID}",
        "Id": MEMORY_ID,
        "Name": "System memory",
        "CapacityMiB": inventory(call.parts.config).memory_mib,
        "MemoryType": "DRAM",
        "Status": ENABLED,
    })


ROUTES: tuple[Route, ...] = (
    Route("GET", f"{V1}/Systems/{{system_id}}/Processors", R.USER, get_processors),
    Route("GET", f"{V1}/Systems/{{system_id}}/Processors/{{processor_id}}", R.USER,
          get_processor),
    Route("GET", f"{V1}/Systems/{{system_id}}/Memory", R.USER, get_memory_collection),
    Route("GET", f"{V1}/Systems/{{system_id}}/Memory/{{memory_id}}", R.USER, get_memory),
)
