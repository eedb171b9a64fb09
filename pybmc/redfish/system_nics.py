"""Systems/{id} EthernetInterfaces: the host's NICs and MACs (the VM's, from its QEMU args)."""

from __future__ import annotations

from pybmc.model.inventory import inventory
from pybmc.redfish import http
from pybmc.redfish.http import Response
from pybmc.redfish.resource import V1, Call, R, Route, check_system, collection, ok


def get_nics(call: Call) -> Response:
    check_system(call)
    nics = inventory(call.parts.config).nics
    return collection(f"{V1}/Systems/{call.system_id}/EthernetInterfaces", "EthernetInterface",
                      "Ethernet Interface Collection", [nic.nic_id for nic in nics])


def get_nic(call: Call) -> Response:
    check_system(call)
    wanted = call.params["interface_id"]
    nic = next((n for n in inventory(call.parts.config).nics if n.nic_id == wanted), None)
    if nic is None:
        raise http.not_found(call.request.path)
    mac = nic.mac.upper()
    return ok({
        "@odata.type": "#EthernetInterface.v1_12_0.EthernetInterface",
        "@odata.id": f"{V1}/Systems/{call.system_id}/EthernetInterfaces/{nic.nic_id}",
        "Id": nic.nic_id,
        "Name": "Ethernet Interface",
        "Description": f"System NIC {nic.nic_id}" + (f" ({nic.model})" if nic.model else ""),
        "EthernetInterfaceType": "Physical",  # as the guest sees it
        "MACAddress": mac,
        "PermanentMACAddress": mac,
        "InterfaceEnabled": True,
        "Status": {"State": "Enabled", "Health": "OK"},
    })


ROUTES: tuple[Route, ...] = (
    Route("GET", f"{V1}/Systems/{{system_id}}/EthernetInterfaces", R.USER, get_nics),
    Route("GET", f"{V1}/Systems/{{system_id}}/EthernetInterfaces/{{interface_id}}", R.USER,
          get_nic),
)
