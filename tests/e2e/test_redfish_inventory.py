"""Redfish inventory, Bios settings and SecureBoot on a real `pybmc serve`: sushy (as Ironic's
inspection and BIOS/secure-boot interfaces use it) and plain HTTPS GET/PATCH."""

from __future__ import annotations

import base64
import json
import shutil
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ADMIN_PASSWORD, ADMIN_USER, BmcProcess, base_config, next_address
from tests.e2e.test_redfish import PORT, https, open_sushy, power_status, wait_power

sushy = pytest.importorskip("sushy")

INSECURE = ssl.create_default_context()
INSECURE.check_hostname = False
INSECURE.verify_mode = ssl.CERT_NONE
SYSTEM_SECTION = {"cpus": 8, "sockets": 2, "memory_mib": 6144, "cpu_model": "Test CPU",
                  "macs": ["52:54:00:aa:bb:01", "52:54:00:aa:bb:02"],
                  "disk_sizes_gib": [20, 100]}


def wait_redfish(process: BmcProcess) -> BmcProcess:
    deadline = time.monotonic() + 15
    while True:  # the HTTPS listener starts just after the IPMI socket
        try:
            https(process, "GET", "/redfish/v1", user=None)
            return process
        except OSError:
            assert time.monotonic() < deadline, "Redfish never answered"
            time.sleep(0.1)


@pytest.fixture
def bmc(bmc_factory: Any) -> BmcProcess:
    return wait_redfish(bmc_factory(redfish={"enabled": True, "port": PORT},
                                    system=SYSTEM_SECTION))


def connect(bmc: BmcProcess) -> Any:
    """sushy on Basic auth: no session is left for its finalizer to log out of once the BMC
    has stopped (which it would retry for half a minute)."""
    auth = sushy.auth.BasicAuth(ADMIN_USER, ADMIN_PASSWORD)
    root = open_sushy(bmc.address, auth=auth)
    return root.get_system(system_path(bmc))


def system_path(bmc: BmcProcess) -> str:
    return f"/redfish/v1/Systems/{bmc.configs[0]['bmc']['name']}"


def wait_for(what: str, condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} never happened"
        time.sleep(0.1)


def request(bmc: BmcProcess, method: str, path: str, body: Any = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    """HTTPS with the answer's headers (ETag) and extra request headers (If-Match)."""
    token = base64.b64encode(f"{ADMIN_USER}:{ADMIN_PASSWORD}".encode()).decode()
    all_headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json",
                   **(headers or {})}
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"https://{bmc.address}:{PORT}{path}", data, all_headers,
                                 method=method)
    try:
        with urllib.request.urlopen(req, context=INSECURE, timeout=5) as answer:
            raw = answer.read()
            return answer.status, dict(answer.headers), json.loads(raw) if raw else None
    except urllib.error.HTTPError as err:
        raw = err.read()
        return err.code, dict(err.headers), json.loads(raw) if raw else None


def test_sushy_reads_the_inventory_as_ironic_inspection_does(bmc: BmcProcess) -> None:
    system = connect(bmc)
    summary = system.processors.summary
    assert (summary.count, summary.architecture) == (8, sushy.PROCESSOR_ARCH_x86)
    assert [p.total_cores for p in system.processors.get_members()] == [4, 4]
    assert system.memory_summary.size_gib == 6
    assert system.ethernet_interfaces.summary == {"52:54:00:AA:BB:01": sushy.STATE_ENABLED,
                                                  "52:54:00:AA:BB:02": sushy.STATE_ENABLED}
    assert system.simple_storage.disks_sizes_bytes == [20 << 30, 100 << 30]
    assert system.storage.drives_sizes_bytes == [20 << 30, 100 << 30]
    [storage] = system.storage.get_members()
    assert sorted(d.capacity_bytes for d in storage.drives) == [20 << 30, 100 << 30]


def test_sushy_bios_settings_apply_at_the_next_boot(bmc: BmcProcess) -> None:
    system = connect(bmc)
    bios = system.bios
    assert bios.attributes["ProcTurboMode"] == "Enabled"
    bios.set_attributes({"ProcTurboMode": "Disabled", "QuietBoot": True})
    bios.refresh()
    assert bios.pending_attributes["ProcTurboMode"] == "Disabled"
    assert bios.attributes["ProcTurboMode"] == "Enabled"  # not before a boot
    assert bios.update_status.status == sushy.resources.settings.NO_UPDATES
    system.reset_system(sushy.RESET_ON)
    wait_power(bmc, "Chassis Power is on")

    def applied() -> bool:
        bios.refresh()
        return bios.attributes["ProcTurboMode"] == "Disabled"

    wait_for("the BIOS settings applied at boot", applied)
    assert bios.attributes["QuietBoot"] is True
    assert bios.update_status.status == sushy.resources.settings.UPDATE_SUCCESS
    # Kept across a BMC restart, like a real machine's NVRAM.
    wait_redfish(bmc.restart())
    assert connect(bmc).bios.attributes["ProcTurboMode"] == "Disabled"
    # ResetBios, then an IPMI power cycle (the same boot event) brings the defaults back.
    bios = connect(bmc).bios
    bios.reset_bios()
    bios.refresh()
    assert bios.pending_attributes["ProcTurboMode"] == "Enabled"
    bmc.ipmitool("chassis", "power", "reset")

    def defaults_back() -> bool:
        bios.refresh()
        return bios.attributes["ProcTurboMode"] == "Enabled"

    wait_for("ResetBios applied at boot", defaults_back)
    assert bios.attributes["QuietBoot"] is False


def test_sushy_secure_boot_enable_then_reset(bmc: BmcProcess) -> None:
    system = connect(bmc)
    secure = system.secure_boot
    assert secure.enabled is False
    assert secure.current_boot == sushy.SECURE_BOOT_DISABLED
    assert secure.mode == sushy.SECURE_BOOT_MODE_USER
    secure.set_enabled(True)
    secure.refresh()
    assert secure.enabled is True and secure.current_boot == sushy.SECURE_BOOT_DISABLED
    system.reset_system(sushy.RESET_ON)

    def booted_secure() -> bool:
        secure.refresh()
        return bool(secure.current_boot == sushy.SECURE_BOOT_ENABLED)

    wait_for("a secure boot", booted_secure)
    secure.reset_keys(sushy.SECURE_BOOT_RESET_KEYS_DELETE_ALL)
    secure.refresh()
    assert secure.mode == sushy.SECURE_BOOT_MODE_SETUP and secure.enabled is False


def test_plain_https_get_and_patch_with_etags(bmc: BmcProcess) -> None:
    base = system_path(bmc)
    status, headers, system = request(bmc, "GET", base)
    assert status == 200
    assert system["ProcessorSummary"]["LogicalProcessorCount"] == 8
    assert system["MemorySummary"]["TotalSystemMemoryGiB"] == 6
    for name in ("Processors", "Memory", "EthernetInterfaces", "SimpleStorage", "Storage"):
        status, _, listing = request(bmc, "GET", system[name]["@odata.id"])
        assert status == 200 and listing["Members@odata.count"] == len(listing["Members"])
        for member in listing["Members"]:
            status, headers, body = request(bmc, "GET", member["@odata.id"])
            assert status == 200 and headers["ETag"] == body["@odata.etag"]
    settings = f"{base}/Bios/Settings"
    _, headers, _ = request(bmc, "GET", settings)
    etag = headers["ETag"]
    change = {"Attributes": {"NicBoot1": "Disabled"}}
    assert request(bmc, "PATCH", settings, change, {"If-Match": etag})[0] == 204
    stale = request(bmc, "PATCH", settings, {"Attributes": {"NicBoot1": "NetworkBoot"}},
                    {"If-Match": etag})
    assert stale[0] == 412
    status, _, error = request(bmc, "PATCH", settings, {"Attributes": {"Frobnicate": 1}})
    assert status == 400
    assert error["error"]["@Message.ExtendedInfo"][0]["MessageArgs"] == ["Attributes/Frobnicate"]
    assert request(bmc, "GET", settings)[2]["Attributes"]["NicBoot1"] == "Disabled"
    status, _, _ = request(bmc, "PATCH", f"{base}/SecureBoot", {"SecureBootEnable": True})
    assert status == 204
    assert request(bmc, "GET", f"{base}/SecureBoot")[2]["SecureBootEnable"] is True
    status, _ = https(bmc, "PATCH", f"{base}/SecureBoot", {"SecureBootEnable": False},
                      user=("viewer", "viewerpw"))
    assert status == 403
    # The BIOS passwords and the key databases: writes for admins only, over real HTTPS.
    change = (f"{base}/Bios/Actions/Bios.ChangePassword",
              {"PasswordName": "AdminPassword", "OldPassword": "", "NewPassword": "b10s"})
    delete_db = (f"{base}/SecureBoot/SecureBootDatabases/db/Actions/"
                 "SecureBootDatabase.ResetKeys", {"ResetKeysType": "DeleteAllKeys"})
    for path, body in (change, delete_db):
        assert https(bmc, "POST", path, body, user=("viewer", "viewerpw"))[0] == 403, path
        assert https(bmc, "POST", path, body)[0] == 204, path
    assert https(bmc, "POST", *change)[0] == 400  # the old password is no longer ""
    assert "b10s" not in bmc.log()
    assert power_status(bmc) == "Chassis Power is off"


@pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="QEMU not installed")
def test_qemu_vm_inventory_from_its_args(bmc_factory: Any, tmp_path: Path) -> None:
    """The VM's NICs, MACs, disks and sizes as its QEMU args say (the VM stays off)."""
    disk = tmp_path / "root.img"
    with disk.open("wb") as image:
        image.truncate(3 << 30)  # sparse: the guest sees 3 GiB
    config = base_config("vm1", next_address(), tmp_path / "vm1",
                         redfish={"enabled": True, "port": PORT},
                         power={"backend": "qemu"}, qemu={"args": [
                             "-m", "2G", "-smp", "cpus=4,sockets=2",
                             "-netdev", "user,id=n0", "-device",
                             "virtio-net-pci,netdev=n0,id=pxe,mac=52:54:00:C0:FF:EE",
                             "-drive", f"file={disk},if=none,id=d0,format=raw",
                             "-device", "virtio-blk-pci,drive=d0,id=root"]})
    bmc = wait_redfish(bmc_factory(configs=[config]))
    system = connect(bmc)
    assert system.processors.summary.count == 4
    assert [p.total_cores for p in system.processors.get_members()] == [2, 2]
    assert system.memory_summary.size_gib == 2
    assert system.ethernet_interfaces.summary == {"52:54:00:C0:FF:EE": sushy.STATE_ENABLED}
    assert system.simple_storage.disks_sizes_bytes == [3 << 30]
    assert system.bios.attributes["BootMode"] == "Bios"  # SeaBIOS: no OVMF in the args
