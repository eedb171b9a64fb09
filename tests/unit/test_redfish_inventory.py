"""Redfish inventory, Bios (settings applied at the next boot) and SecureBoot over a real Bmc."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pybmc.config.bmc import parse_config
from pybmc.core.bmc import Bmc
from pybmc.model.simulated_power import SimulatedPower
from pybmc.model.state import StateStore
from pybmc.redfish.service import RedfishService
from tests.unit.clock import FakeClock
from tests.unit.test_redfish_service import message_id, send

SYSTEM = "/redfish/v1/Systems/t"


def make_bmc(tmp_path: Path, **sections: Any) -> Bmc:
    config = parse_config({
        "bmc": {"name": "t", "address": "127.0.0.2", "state_dir": str(tmp_path)},
        "users": [{"name": "admin", "password": "secret"},
                  {"name": "viewer", "password": "look", "privilege": "user"}],
        **sections,
    })
    clock = FakeClock()
    return Bmc(config, power=SimulatedPower("t", False, 0.0, 0.0, clock=clock), clock=clock)


@pytest.fixture
def bmc(tmp_path: Path) -> Bmc:
    return make_bmc(tmp_path, system={"cpus": 4, "memory_mib": 2048,
                                      "macs": ["52:54:00:00:00:01", "52:54:00:00:00:02"],
                                      "disk_sizes_gib": [10]})


@pytest.fixture
def service(bmc: Bmc) -> RedfishService:
    return RedfishService(bmc.parts, "t")


def get(service: RedfishService, path: str) -> dict[str, Any]:
    response = send(service, "GET", path)
    assert response.status == 200, (path, response.body)
    assert response.body is not None and response.body["@odata.id"] == path
    assert response.body["@odata.etag"] == response.headers["ETag"]
    return response.body


def members(service: RedfishService, path: str) -> list[dict[str, Any]]:
    body = get(service, path)
    assert body["Members@odata.count"] == len(body["Members"])
    return [get(service, m["@odata.id"]) for m in body["Members"]]


def test_system_summaries_and_links(service: RedfishService) -> None:
    system = get(service, SYSTEM)
    assert system["ProcessorSummary"]["LogicalProcessorCount"] == 4
    assert system["ProcessorSummary"]["Count"] == 1
    assert system["MemorySummary"]["TotalSystemMemoryGiB"] == 2
    for name in ("Processors", "Memory", "EthernetInterfaces", "SimpleStorage", "Storage",
                 "Bios", "SecureBoot"):
        assert get(service, system[name]["@odata.id"])["@odata.type"].startswith("#")


def test_processors_memory_nics_and_disks(service: RedfishService) -> None:
    [cpu] = members(service, f"{SYSTEM}/Processors")
    assert (cpu["TotalCores"], cpu["TotalThreads"], cpu["InstructionSet"]) == (4, 4, "x86-64")
    [dimm] = members(service, f"{SYSTEM}/Memory")
    assert dimm["CapacityMiB"] == 2048
    nics = members(service, f"{SYSTEM}/EthernetInterfaces")
    assert [n["MACAddress"] for n in nics] == ["52:54:00:00:00:01", "52:54:00:00:00:02"]
    [controller] = members(service, f"{SYSTEM}/SimpleStorage")
    assert [d["CapacityBytes"] for d in controller["Devices"]] == [10 << 30]
    [storage] = members(service, f"{SYSTEM}/Storage")
    assert storage["Drives@odata.count"] == 1
    drive = get(service, storage["Drives"][0]["@odata.id"])
    assert drive["CapacityBytes"] == 10 << 30
    assert drive["Links"]["Storage"]["@odata.id"] == storage["@odata.id"]
    assert members(service, "/redfish/v1/Chassis/t/Drives") == [drive]
    assert send(service, "GET", "/redfish/v1/Chassis/t/Drives/disk7").status == 404
    assert send(service, "GET", "/redfish/v1/Chassis/other/Drives").status == 404
    for missing in ("Processors/CPU1", "Memory/DIMM1", "EthernetInterfaces/nic9",
                    "Storage/2", "SimpleStorage/2"):
        assert send(service, "GET", f"{SYSTEM}/{missing}").status == 404, missing


def test_qemu_vm_inventory_comes_from_its_args(tmp_path: Path) -> None:
    image = tmp_path / "disk.img"
    image.write_bytes(bytes(8192))
    bmc = make_bmc(tmp_path, power={"backend": "qemu"}, qemu={"args": [
        "-m", "1G", "-smp", "2", "-nic", "user,mac=52:54:00:9a:bc:de",
        "-drive", f"file={image},format=raw,if=virtio"]})
    service = RedfishService(bmc.parts, "t")
    system = get(service, SYSTEM)
    assert system["ProcessorSummary"]["LogicalProcessorCount"] == 2
    assert system["MemorySummary"]["TotalSystemMemoryGiB"] == 1
    [nic] = members(service, f"{SYSTEM}/EthernetInterfaces")
    assert nic["MACAddress"] == "52:54:00:9A:BC:DE"
    [controller] = members(service, f"{SYSTEM}/SimpleStorage")
    assert controller["Devices"][0]["CapacityBytes"] == 8192
    bios = get(service, f"{SYSTEM}/Bios")
    assert bios["Attributes"]["BootMode"] == "Bios"  # SeaBIOS: no OVMF in the args


def test_bios_settings_wait_for_the_next_boot(service: RedfishService, bmc: Bmc,
                                              tmp_path: Path) -> None:
    bios = get(service, f"{SYSTEM}/Bios")
    assert bios["Attributes"]["ProcTurboMode"] == "Enabled"
    settings = bios["@Redfish.Settings"]["SettingsObject"]["@odata.id"]
    assert "Time" not in bios["@Redfish.Settings"]
    patch = send(service, "PATCH", settings, {"Attributes": {"ProcTurboMode": "Disabled",
                                                             "QuietBoot": True}},
                 headers={"if-match": get(service, settings)["@odata.etag"]})
    assert patch.status == 204
    assert get(service, settings)["Attributes"]["ProcTurboMode"] == "Disabled"
    assert get(service, f"{SYSTEM}/Bios")["Attributes"]["ProcTurboMode"] == "Enabled"
    assert send(service, "POST", f"{SYSTEM}/Actions/ComputerSystem.Reset",
                {"ResetType": "On"}).status == 204  # power on = a boot
    bmc.save_if_changed()
    applied = get(service, f"{SYSTEM}/Bios")
    assert applied["Attributes"]["ProcTurboMode"] == "Disabled"
    assert applied["Attributes"]["QuietBoot"] is True
    assert "Time" in applied["@Redfish.Settings"]
    saved = StateStore(tmp_path).load()  # kept across a BMC restart
    assert saved is not None and saved.extra["bios"]["current"]["ProcTurboMode"] == "Disabled"
    # ResetBios: the defaults come back at the next boot.
    reset = send(service, "POST", f"{SYSTEM}/Bios/Actions/Bios.ResetBios", {})
    assert reset.status == 204
    assert get(service, f"{SYSTEM}/Bios")["ResetBiosToDefaultsPending"] is True
    assert get(service, settings)["Attributes"]["ProcTurboMode"] == "Enabled"
    send(service, "POST", f"{SYSTEM}/Actions/ComputerSystem.Reset", {"ResetType": "ForceRestart"})
    after = get(service, f"{SYSTEM}/Bios")
    assert after["Attributes"]["ProcTurboMode"] == "Enabled"
    assert after["ResetBiosToDefaultsPending"] is False


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"Attributes": {"Nope": 1}}, 400, "PropertyUnknown"),
    ({"Attributes": {"ProcTurboMode": "Sometimes"}}, 400, "PropertyValueNotInList"),
    ({"Attributes": {"QuietBoot": "yes"}}, 400, "PropertyValueNotInList"),
    ({"Attributes": "ProcTurboMode"}, 400, "PropertyValueFormatError"),
    ({"Id": "x"}, 400, "PropertyNotWritable"),
    ({"Colour": "x"}, 400, "PropertyUnknown"),
    ({"Attributes": {}, "@Redfish.SettingsApplyTime": {"ApplyTime": "Immediate"}}, 400,
     "PropertyValueNotInList"),
])
def test_bios_settings_refusals_change_nothing(service: RedfishService, body: Any,
                                               status: int, message: str) -> None:
    before = get(service, f"{SYSTEM}/Bios/Settings")["Attributes"]
    answer = send(service, "PATCH", f"{SYSTEM}/Bios/Settings",
                  {**body, "Attributes": {"ProcTurboMode": "Disabled", **body["Attributes"]}}
                  if isinstance(body.get("Attributes"), dict) else body)
    assert answer.status == status and message_id(answer).endswith(message)
    assert get(service, f"{SYSTEM}/Bios/Settings")["Attributes"] == before


def test_apply_time_on_reset_is_accepted_and_bios_itself_is_read_only(
        service: RedfishService) -> None:
    ok = send(service, "PATCH", f"{SYSTEM}/Bios/Settings", {
        "Attributes": {"NicBoot1": "Disabled"},
        "@Redfish.SettingsApplyTime": {"@odata.type": "#Settings.v1_0_0.PreferredApplyTime",
                                       "ApplyTime": "OnReset"}})
    assert ok.status == 204
    refused = send(service, "PATCH", f"{SYSTEM}/Bios", {"Attributes": {}})
    assert refused.status == 405 and "PATCH" not in refused.headers["Allow"]


def test_secure_boot_enable_takes_effect_at_boot(service: RedfishService) -> None:
    path = f"{SYSTEM}/SecureBoot"
    secure = get(service, path)
    assert (secure["SecureBootEnable"], secure["SecureBootCurrentBoot"],
            secure["SecureBootMode"]) == (False, "Disabled", "UserMode")
    assert send(service, "PATCH", path, {"SecureBootEnable": True}).status == 204
    assert get(service, path)["SecureBootCurrentBoot"] == "Disabled"
    send(service, "POST", f"{SYSTEM}/Actions/ComputerSystem.Reset", {"ResetType": "On"})
    assert get(service, path)["SecureBootCurrentBoot"] == "Enabled"
    assert send(service, "PATCH", path, {"SecureBootMode": "SetupMode"}).status == 400
    assert send(service, "PATCH", path, {"SecureBootEnable": "on"}).status == 400
    keys = f"{path}/Actions/SecureBoot.ResetKeys"
    assert send(service, "POST", keys, {}).status == 400
    assert send(service, "POST", keys, {"ResetKeysType": "Shred"}).status == 400
    assert send(service, "POST", keys, {"ResetKeysType": "DeleteAllKeys"}).status == 204
    cleared = get(service, path)
    assert (cleared["SecureBootMode"], cleared["SecureBootEnable"]) == ("SetupMode", False)
    send(service, "POST", f"{SYSTEM}/Actions/ComputerSystem.Reset", {"ResetType": "ForceRestart"})
    assert get(service, path)["SecureBootCurrentBoot"] == "Disabled"


def test_secure_boot_needs_uefi_to_boot_secure(tmp_path: Path) -> None:
    bmc = make_bmc(tmp_path, system={"firmware": "bios"})
    service = RedfishService(bmc.parts, "t")
    send(service, "PATCH", f"{SYSTEM}/SecureBoot", {"SecureBootEnable": True})
    send(service, "POST", f"{SYSTEM}/Actions/ComputerSystem.Reset", {"ResetType": "On"})
    assert get(service, f"{SYSTEM}/SecureBoot")["SecureBootCurrentBoot"] == "Disabled"
    assert get(service, f"{SYSTEM}/Bios")["Attributes"]["BootMode"] == "Bios"


def test_read_only_user_reads_inventory_but_writes_nothing(service: RedfishService) -> None:
    viewer = ("viewer", "look")
    assert send(service, "GET", f"{SYSTEM}/Bios", user=viewer).status == 200
    for method, path, body in (
            ("PATCH", f"{SYSTEM}/Bios/Settings", {"Attributes": {"QuietBoot": True}}),
            ("POST", f"{SYSTEM}/Bios/Actions/Bios.ResetBios", {}),
            ("PATCH", f"{SYSTEM}/SecureBoot", {"SecureBootEnable": True}),
            ("POST", f"{SYSTEM}/SecureBoot/Actions/SecureBoot.ResetKeys",
             {"ResetKeysType": "DeletePK"})):
        answer = send(service, method, path, body, user=viewer)
        assert answer.status == 403, path


def test_boot_mode_never_set_follows_the_firmware_the_config_gives(tmp_path: Path) -> None:
    first = make_bmc(tmp_path, system={"firmware": "uefi"})
    service = RedfishService(first.parts, "t")
    assert get(service, f"{SYSTEM}/Bios")["Attributes"]["BootMode"] == "Uefi"
    send(service, "PATCH", f"{SYSTEM}/Bios/Settings", {"Attributes": {"QuietBoot": True}})
    send(service, "POST", f"{SYSTEM}/Actions/ComputerSystem.Reset", {"ResetType": "On"})
    first.save()
    again = RedfishService(make_bmc(tmp_path, system={"firmware": "bios"}).parts, "t")
    attributes = get(again, f"{SYSTEM}/Bios")["Attributes"]
    assert (attributes["BootMode"], attributes["QuietBoot"]) == ("Bios", True)
