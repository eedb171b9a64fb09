"""UefiHttp boot override with HttpBootUri: PXE + EFI in the IPMI boot flags, told apart."""

from __future__ import annotations

from typing import Any

from pybmc.core.bmc import Bmc
from pybmc.model import boot
from pybmc.model.power import BootChoice
from pybmc.redfish.service import RedfishService
from tests.unit.test_redfish_service import SYSTEM, bmc, message_id, send, service

__all__ = ["bmc", "service"]  # the fixtures
URI = "http://192.0.2.10/boot/grubx64.efi"


def boot_of(service: RedfishService) -> dict[str, Any]:
    answer = send(service, "GET", SYSTEM)
    assert answer.status == 200 and answer.body is not None
    return dict(answer.body["Boot"])


def test_uefi_http_is_written_as_pxe_with_the_efi_bit(service: RedfishService, bmc: Bmc):
    assert boot_of(service)["HttpBootUri"] is None  # advertised, so sushy may send it
    assert "UefiHttp" in boot_of(service)["BootSourceOverrideTarget@Redfish.AllowableValues"]
    patch = {"Boot": {"BootSourceOverrideTarget": "UefiHttp", "HttpBootUri": URI,
                      "BootSourceOverrideEnabled": "Once"}}
    assert send(service, "PATCH", SYSTEM, patch).status == 204
    # Valid + EFI (no persistent bit), device selector 1 (PXE): what ipmitool shows as
    # "Force PXE" with "BIOS EFI boot".
    assert boot.read_parameter(bmc.state, boot.BOOT_FLAGS) == bytes([0xA0, 0x04, 0, 0, 0])
    got = boot_of(service)
    assert (got["BootSourceOverrideTarget"], got["BootSourceOverrideEnabled"],
            got["BootSourceOverrideMode"], got["HttpBootUri"]) == (
        "UefiHttp", "Once", "UEFI", URI)


def test_the_next_boot_is_an_http_boot_with_the_uri(service: RedfishService, bmc: Bmc):
    send(service, "PATCH", SYSTEM, {"Boot": {"BootSourceOverrideTarget": "UefiHttp",
                                             "HttpBootUri": URI}})
    assert boot.take_boot_device(bmc.state, "t") == BootChoice("pxe", efi=True, http=True,
                                                               http_uri=URI)
    assert boot.take_boot_device(bmc.state, "t") == BootChoice()  # once: used up
    assert boot_of(service)["BootSourceOverrideEnabled"] == "Disabled"


def test_an_ipmi_write_of_the_boot_flags_replaces_uefi_http(service: RedfishService,
                                                            bmc: Bmc):
    send(service, "PATCH", SYSTEM, {"Boot": {"BootSourceOverrideTarget": "UefiHttp"}})
    assert boot_of(service)["BootSourceOverrideTarget"] == "UefiHttp"
    # What `ipmitool chassis bootdev pxe options=efiboot` writes: PXE + EFI, said over IPMI.
    boot.write_parameter(bmc.state, boot.BOOT_FLAGS, bytes([0xA0, 0x04, 0, 0, 0]))
    assert boot_of(service)["BootSourceOverrideTarget"] == "Pxe"
    assert boot.take_boot_device(bmc.state, "t") == BootChoice("pxe", efi=True)


def test_uefi_http_sets_uefi_mode_and_refuses_legacy(service: RedfishService, bmc: Bmc):
    send(service, "PATCH", SYSTEM, {"Boot": {"BootSourceOverrideMode": "Legacy"}})
    send(service, "PATCH", SYSTEM, {"Boot": {"BootSourceOverrideTarget": "UefiHttp"}})
    assert boot_of(service)["BootSourceOverrideMode"] == "UEFI"
    refused = send(service, "PATCH", SYSTEM, {"Boot": {"BootSourceOverrideTarget": "UefiHttp",
                                                       "BootSourceOverrideMode": "Legacy"}})
    assert refused.status == 400 and message_id(refused).endswith("PropertyValueConflict")


def test_http_boot_uri_is_checked_and_null_clears_it(service: RedfishService, bmc: Bmc):
    for bad in ("ftp://host/x.efi", 7, "http://a b/"):
        answer = send(service, "PATCH", SYSTEM, {"Boot": {"HttpBootUri": bad}})
        assert answer.status == 400 and message_id(answer).endswith("PropertyValueFormatError")
    assert boot_of(service)["HttpBootUri"] is None
    send(service, "PATCH", SYSTEM, {"Boot": {"BootSourceOverrideTarget": "UefiHttp",
                                             "HttpBootUri": URI}})
    # sushy clears the URI with null when it moves to another target.
    send(service, "PATCH", SYSTEM, {"Boot": {"BootSourceOverrideTarget": "Hdd",
                                             "HttpBootUri": None}})
    got = boot_of(service)
    assert (got["BootSourceOverrideTarget"], got["HttpBootUri"]) == ("Hdd", None)
    assert boot.take_boot_device(bmc.state, "t") == BootChoice("disk", efi=True)
