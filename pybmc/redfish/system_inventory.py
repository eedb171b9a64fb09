"""What the ComputerSystem resource shows of the host's inventory: ProcessorSummary,
MemorySummary and the links to its Processors, Memory, NICs, storage, Bios and SecureBoot."""

from __future__ import annotations

from typing import Any

from pybmc.model.inventory import inventory
from pybmc.redfish.resource import V1, Call

LINKED = ("Processors", "Memory", "EthernetInterfaces", "SimpleStorage", "Storage", "Bios",
          "SecureBoot")


def system_inventory(call: Call) -> dict[str, Any]:
    inv = inventory(call.parts.config)
    cpus = inv.processors
    base = f"{V1}/Systems/{call.system_id}"
    return {
        "ProcessorSummary": {"Count": cpus.sockets, "CoreCount": cpus.sockets * cpus.cores,
                             "LogicalProcessorCount": cpus.logical, "Model": cpus.model},
        "MemorySummary": {"TotalSystemMemoryGiB": round(inv.memory_mib / 1024, 3)},
        **{name: {"@odata.id": f"{base}/{name}"} for name in LINKED},
    }
