"""Redfish and IPMI on one `pybmc serve`: sushy and plain HTTPS against ipmitool, one state."""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import socket
import ssl
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    IPMITOOL,
    BmcProcess,
    base_config,
    next_address,
)

sushy = pytest.importorskip("sushy")
pytestmark = pytest.mark.skipif(IPMITOOL is None, reason="ipmitool not installed")

PORT = 8443
INSECURE = ssl.create_default_context()
INSECURE.check_hostname = False
INSECURE.verify_mode = ssl.CERT_NONE


def open_sushy(address: str, username: str | None = None, password: str | None = None,
               auth: Any = None) -> Any:
    """A sushy root on a test BMC. Sushy logs its session out when the root is garbage
    collected, in whichever thread the collector runs, and retries a refused connection
    ten times three seconds apart by default: a root collected after its BMC stopped would
    stall an unrelated test (or its HTTP server thread) for half a minute. A few quick
    retries keep that to a fraction of a second."""
    return sushy.Sushy(f"https://{address}:{PORT}/redfish/v1", username=username,
                       password=password, auth=auth, verify=False,
                       server_side_retries=3, server_side_retries_delay=0.1)


def https(bmc: BmcProcess, method: str, path: str, body: Any = None,
          user: tuple[str, str] | None = (ADMIN_USER, ADMIN_PASSWORD)) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if user is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(user).encode()).decode()
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"https://{bmc.address}:{PORT}{path}", data, headers,
                                     method=method)
    try:
        with urllib.request.urlopen(request, context=INSECURE, timeout=5) as answer:
            raw = answer.read()
            return answer.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as err:
        raw = err.read()
        return err.code, json.loads(raw) if raw else None


@pytest.fixture
def bmc(bmc_factory: Any) -> BmcProcess:
    process: BmcProcess = bmc_factory(redfish={"enabled": True, "port": PORT})
    deadline = time.monotonic() + 30  # generous: a loaded machine starts aiohttp slowly
    while True:  # the HTTPS listener starts just after the IPMI socket
        try:
            https(process, "GET", "/redfish/v1", user=None)
            return process
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def connect(bmc: BmcProcess, user: str = ADMIN_USER, password: str = ADMIN_PASSWORD) -> Any:
    root = open_sushy(bmc.address, user, password)
    return root.get_system(f"/redfish/v1/Systems/{bmc.configs[0]['bmc']['name']}")


def power_status(bmc: BmcProcess) -> str:
    return bmc.ipmitool("chassis", "power", "status").stdout.strip()


def wait_power(bmc: BmcProcess, wanted: str) -> None:
    deadline = time.monotonic() + 10
    while power_status(bmc) != wanted:
        assert time.monotonic() < deadline, f"power never became {wanted!r}"
        time.sleep(0.1)


def test_sushy_power_actions_read_back_over_ipmi(bmc: BmcProcess) -> None:
    system = connect(bmc)
    system.reset_system(sushy.RESET_ON)
    wait_power(bmc, "Chassis Power is on")
    system.reset_system(sushy.RESET_FORCE_RESTART)
    wait_power(bmc, "Chassis Power is on")
    system.reset_system(sushy.RESET_FORCE_OFF)
    wait_power(bmc, "Chassis Power is off")
    bmc.ipmitool("chassis", "power", "on")
    system.refresh()
    assert system.power_state == sushy.SYSTEM_POWER_STATE_ON


def test_boot_override_both_ways(bmc: BmcProcess) -> None:
    system = connect(bmc)
    system.set_system_boot_options(sushy.BOOT_SOURCE_TARGET_PXE,
                                   enabled=sushy.BOOT_SOURCE_ENABLED_ONCE)
    shown = bmc.ipmitool("chassis", "bootparam", "get", "5").stdout
    assert "Force PXE" in shown and "Options apply to only next boot" in shown
    bmc.ipmitool("chassis", "bootdev", "disk", "options=persistent")
    system.refresh()
    assert system.boot.target == sushy.BOOT_SOURCE_TARGET_HDD
    assert system.boot.enabled == sushy.BOOT_SOURCE_ENABLED_CONTINUOUS


def test_ipmi_user_logs_in_and_roles_hold(bmc: BmcProcess) -> None:
    bmc.ipmitool("user", "set", "name", "6", "fresh")
    bmc.ipmitool("user", "set", "password", "6", "freshpw")
    bmc.ipmitool("channel", "setaccess", "1", "6", "link=on", "ipmi=on", "privilege=3")
    bmc.ipmitool("user", "enable", "6")
    name = bmc.configs[0]["bmc"]["name"]
    reset = f"/redfish/v1/Systems/{name}/Actions/ComputerSystem.Reset"
    assert https(bmc, "POST", reset, {"ResetType": "On"}, user=("fresh", "freshpw"))[0] == 204
    wait_power(bmc, "Chassis Power is on")
    status, body = https(bmc, "POST", reset, {"ResetType": "ForceOff"},
                         user=("viewer", "viewerpw"))
    assert status == 403
    assert body["error"]["@Message.ExtendedInfo"][0]["MessageId"].endswith(
        "InsufficientPrivilege")
    assert https(bmc, "GET", f"/redfish/v1/Systems/{name}", user=None)[0] == 401
    assert https(bmc, "GET", "/redfish/v1", user=None)[0] == 200


def test_taken_default_port_leaves_ipmi_serving_with_one_warning(bmc_factory: Any,
                                                                  tmp_path: Path) -> None:
    address = next_address()
    with socket.socket() as squatter:  # someone else holds address:443
        squatter.bind((address, 443))
        squatter.listen()
        process: BmcProcess = bmc_factory(configs=[base_config("busy", address,
                                                               tmp_path / "busy")])
        assert "Chassis Power is" in power_status(process)
        lines = [line for line in process.log().splitlines() if "Redfish" in line
                 and "WARNING" in line]
        assert len(lines) == 1, lines
        assert "busy:" in lines[0] and f"{address}:443" in lines[0]


def test_taken_port_of_an_explicitly_enabled_redfish_stops_serve(bmc_factory: Any,
                                                                  tmp_path: Path) -> None:
    address = next_address()
    with socket.socket() as squatter:
        squatter.bind((address, PORT))
        squatter.listen()
        process: BmcProcess = bmc_factory(configs=[base_config(
            "strict", address, tmp_path / "strict", redfish={"enabled": True, "port": PORT})],
            start=False)
        # IPMI binds first and may answer the start-up probe before serve gives up.
        with contextlib.suppress(RuntimeError):
            process.start()
        assert process.proc is not None and process.proc.wait(timeout=20) != 0
        assert f"strict: cannot serve Redfish on {address}:{PORT}" in process.log()


def test_unknown_http_method_gets_405_from_the_service(bmc: BmcProcess) -> None:
    connection = http.client.HTTPSConnection(bmc.address, PORT, context=INSECURE, timeout=5)
    try:
        token = base64.b64encode(f"{ADMIN_USER}:{ADMIN_PASSWORD}".encode()).decode()
        connection.request("FAKEMETHOD", "/redfish/v1/", headers={"Authorization":
                                                                  f"Basic {token}"})
        answer = connection.getresponse()
        assert answer.status == 405
        assert answer.getheader("Allow") == "GET, HEAD"
        assert json.loads(answer.read())["error"]["code"].endswith("OperationNotAllowed")
    finally:
        connection.close()


def test_sushy_virtual_media_insert_boot_cd_and_eject(bmc: BmcProcess) -> None:
    root = open_sushy(bmc.address, ADMIN_USER, ADMIN_PASSWORD)
    manager = root.get_manager("/redfish/v1/Managers/BMC")
    cd = manager.virtual_media.get_member("/redfish/v1/Managers/BMC/VirtualMedia/Cd")
    assert sushy.VIRTUAL_MEDIA_CD in cd.media_types
    cd.insert_media("http://127.0.0.1:8080/deploy.iso", inserted=True, write_protected=True)
    cd.refresh()
    assert (cd.image, cd.inserted) == ("http://127.0.0.1:8080/deploy.iso", True)
    system = connect(bmc)
    system.set_system_boot_options(sushy.BOOT_SOURCE_TARGET_CD,
                                   enabled=sushy.BOOT_SOURCE_ENABLED_ONCE)
    assert "Force Boot from CD/DVD" in bmc.ipmitool("chassis", "bootparam", "get", "5").stdout
    cd.eject_media()
    cd.refresh()
    assert (cd.image, cd.inserted) == (None, False)


def test_system_identify_led_is_ipmi_chassis_identify(bmc: BmcProcess) -> None:
    system = https(bmc, "GET", "/redfish/v1/Systems/bmc1")[1]
    assert system["IndicatorLED"] == "Off" and system["LocationIndicatorActive"] is False
    status, _ = https(bmc, "PATCH", "/redfish/v1/Systems/bmc1",
                      {"LocationIndicatorActive": True})
    assert status == 204
    chassis_status = bmc.ipmitool("raw", "0x00", "0x01").stdout.split()
    assert int(chassis_status[2], 16) & 0x30 == 0x20  # identify: indefinite on
    chassis = https(bmc, "GET", "/redfish/v1/Chassis/bmc1")[1]
    assert chassis["IndicatorLED"] == "Lit"
    bmc.ipmitool("chassis", "identify", "0")
    assert https(bmc, "GET", "/redfish/v1/Systems/bmc1")[1]["IndicatorLED"] == "Off"
    status, error = https(bmc, "PATCH", "/redfish/v1/Systems/bmc1",
                          {"IndicatorLED": "Dazzling"})
    assert status == 400 and "PropertyValueNotInList" in str(error)


def test_serial_interface_is_the_sol_console(bmc: BmcProcess) -> None:
    listing = https(bmc, "GET", "/redfish/v1/Managers/BMC/SerialInterfaces")[1]
    assert listing["Members@odata.count"] == 1
    port = https(bmc, "GET", "/redfish/v1/Managers/BMC/SerialInterfaces/ttyS0")[1]
    assert port["InterfaceEnabled"] is True and port["BitRate"] == "115200"
    bmc.ipmitool("sol", "set", "non-volatile-bit-rate", "19.2", "1")
    assert https(bmc, "GET", "/redfish/v1/Managers/BMC/SerialInterfaces/ttyS0")[1][
        "BitRate"] == "19200"
    bmc.ipmitool("sol", "set", "enabled", "false", "1")
    assert https(bmc, "GET", "/redfish/v1/Managers/BMC/SerialInterfaces/ttyS0")[1][
        "InterfaceEnabled"] is False
    for path in ("/redfish/v1/Registries/Base", "/redfish/v1/JsonSchemas/ComputerSystem"):
        body = https(bmc, "GET", path)[1]
        assert body["Location"][0]["PublicationUri"].startswith("https://redfish.dmtf.org/")
