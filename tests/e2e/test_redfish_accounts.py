"""AccountService over HTTPS and IPMI on one user table; ReadOnly and anonymous callers refused."""

from __future__ import annotations

import re
from typing import Any

import pytest

from pybmc.redfish.routes import ROUTES
from tests.e2e.conftest import IPMITOOL, BmcProcess
from tests.e2e.test_redfish import bmc, https  # noqa: F401  (bmc is the fixture)

pytestmark = pytest.mark.skipif(IPMITOOL is None, reason="ipmitool not installed")

ACCOUNTS = "/redfish/v1/AccountService/Accounts"
VIEWER = ("viewer", "viewerpw")
WRITES = ("POST", "PATCH", "PUT", "DELETE")


def test_account_made_over_redfish_is_an_ipmi_user_and_back(bmc: BmcProcess) -> None:  # noqa: F811
    status, body = https(bmc, "POST", ACCOUNTS, {"UserName": "rfuser", "Password": "rfpass12",
                                                "RoleId": "Operator"})
    assert status == 201, body
    slot = body["Id"]
    listed = bmc.ipmitool("user", "list", "1").stdout
    row = next(line for line in listed.splitlines() if line.split()[:1] == [slot])
    assert "rfuser" in row and "OPERATOR" in row
    shown = bmc.ipmitool("chassis", "power", "status", user="rfuser", password="rfpass12",
                         privilege="OPERATOR")
    assert "Chassis Power is" in shown.stdout
    assert https(bmc, "PATCH", f"{ACCOUNTS}/{slot}", {"RoleId": "ReadOnly"})[0] == 200
    assert re.search(rf"^{slot}\s+rfuser\s.*USER\s*$", bmc.ipmitool("user", "list", "1").stdout,
                     re.MULTILINE)
    assert https(bmc, "DELETE", f"{ACCOUNTS}/{slot}")[0] == 204
    assert "rfuser" not in bmc.ipmitool("user", "list", "1").stdout
    refused = bmc.ipmitool("chassis", "power", "status", user="rfuser", password="rfpass12",
                           privilege="USER", check=False)
    assert refused.returncode != 0
    # The other way: a name set over IPMI renames the Redfish account at once.
    bmc.ipmitool("user", "set", "name", "4", "watcher")  # was viewer
    assert https(bmc, "GET", f"{ACCOUNTS}/4")[1]["UserName"] == "watcher"
    assert https(bmc, "GET", "/redfish/v1/Systems", user=("watcher", "viewerpw"))[0] == 200


def _concrete(path: str, bmc: BmcProcess, session_id: str) -> str:  # noqa: F811
    name = bmc.configs[0]["bmc"]["name"]
    values = {"system_id": name, "chassis_id": name, "manager_id": "BMC", "account_id": "2",
              "role_id": "Administrator", "nic_id": "eth0", "session_id": session_id,
              "media_id": "Cd"}
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "1"), path)


def test_read_only_account_gets_403_on_every_write(bmc: BmcProcess) -> None:  # noqa: F811
    status, created = https(bmc, "POST", "/redfish/v1/SessionService/Sessions",
                            {"UserName": "admin", "Password": "secret"}, user=None)
    assert status == 201
    walked = []
    for route in ROUTES:
        if route.method not in WRITES or route.public:
            continue
        path = _concrete(route.path, bmc, created["Id"])
        status, body = https(bmc, route.method, path, {"Password": "walked"}, user=VIEWER)
        assert status == 403, (route.method, path, status, body)
        assert body["error"]["@Message.ExtendedInfo"][0]["MessageId"].endswith(
            "InsufficientPrivilege")
        walked.append(path)
    assert len(walked) >= 6  # reset, system and chassis PATCH, accounts, sessions ...
    # What ConfigureSelf allows a ReadOnly user: its own password, nothing more.
    assert https(bmc, "PATCH", f"{ACCOUNTS}/4", {"Password": "changed"}, user=VIEWER)[0] == 200
    assert https(bmc, "PATCH", f"{ACCOUNTS}/4", {"RoleId": "Administrator"},
                 user=("viewer", "changed"))[0] == 403


def test_anonymous_caller_gets_401_everywhere_but_the_service_root_documents(
        bmc: BmcProcess) -> None:  # noqa: F811
    public = set()
    for route in ROUTES:
        path = _concrete(route.path, bmc, "1")
        body: Any = {} if route.method in WRITES else None
        if route.public:
            public.add(path)
            continue
        status, _ = https(bmc, route.method, path, body, user=None)
        assert status == 401, (route.method, path, status)
    for path in ("/redfish", "/redfish/v1", "/redfish/v1/odata"):
        assert https(bmc, "GET", path, user=None)[0] == 200
    assert public == {"/redfish", "/redfish/v1", "/redfish/v1/$metadata", "/redfish/v1/odata",
                      "/redfish/v1/SessionService/Sessions"}
