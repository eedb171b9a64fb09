"""The sans-IO Redfish service over a real Bmc's model: auth, sessions, power, boot flags."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from pybmc.config.bmc import parse_config
from pybmc.core.bmc import Bmc
from pybmc.model import boot
from pybmc.redfish.http import Request, Response
from pybmc.redfish.service import RedfishService
from pybmc.wire.codes import LAN_CHANNEL, Privilege
from tests.unit.clock import FakeClock

SYSTEM = "/redfish/v1/Systems/t"


@pytest.fixture
def bmc(tmp_path: Path) -> Bmc:
    config = parse_config({
        "bmc": {"name": "t", "address": "127.0.0.2", "state_dir": str(tmp_path)},
        "users": [{"name": "admin", "password": "secret"},
                  {"name": "viewer", "password": "look", "privilege": "user"}],
        "power": {"soft_off_delay": 0.05, "cycle_interval": 0.05},
    })
    return Bmc(config, clock=FakeClock())


@pytest.fixture
def service(bmc: Bmc) -> RedfishService:
    return RedfishService(bmc.parts, "t")


def basic(name: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{name}:{password}".encode()).decode()
    return {"authorization": f"Basic {token}"}


def send(service: RedfishService, method: str, path: str, body: Any = None,
         headers: dict[str, str] | None = None, user: tuple[str, str] | None = ("admin",
                                                                                 "secret"),
         now: float = 0.0) -> Response:
    all_headers = dict(basic(*user)) if user else {}
    all_headers.update(headers or {})
    raw = b"" if body is None else json.dumps(body).encode()
    if body is not None:
        all_headers.setdefault("content-type", "application/json")
    return service.handle(Request(method, path, all_headers, raw), now)


def message_id(response: Response) -> str:
    assert response.body is not None
    return str(response.body["error"]["@Message.ExtendedInfo"][0]["MessageId"])


def test_service_root_is_public_and_carries_the_system_guid(service: RedfishService,
                                                            bmc: Bmc) -> None:
    root = send(service, "GET", "/redfish/v1/", user=None)
    assert root.status == 200 and root.body is not None
    assert root.body["UUID"] == str(bmc.config.guid)
    manager = send(service, "GET", "/redfish/v1/Managers/BMC").body
    assert manager is not None and manager["ServiceEntryPointUUID"] != root.body["UUID"]
    assert root.headers["ETag"] == root.body["@odata.etag"]


def test_unauthenticated_and_wrong_password_get_401(service: RedfishService) -> None:
    assert send(service, "GET", SYSTEM, user=None).status == 401
    wrong = send(service, "GET", SYSTEM, user=("admin", "nope"))
    assert wrong.status == 401 and message_id(wrong) == "Base.1.18.NoValidSession"


def test_readonly_user_reads_but_cannot_write(service: RedfishService) -> None:
    viewer = ("viewer", "look")
    assert send(service, "GET", SYSTEM, user=viewer).status == 200
    reset = send(service, "POST", f"{SYSTEM}/Actions/ComputerSystem.Reset",
                 {"ResetType": "On"}, user=viewer)
    assert reset.status == 403 and message_id(reset).endswith("InsufficientPrivilege")
    patch = send(service, "PATCH", SYSTEM, {"Boot": {"BootSourceOverrideTarget": "Pxe"}},
                 user=viewer)
    assert patch.status == 403


def test_session_login_token_and_logout(service: RedfishService) -> None:
    created = send(service, "POST", "/redfish/v1/SessionService/Sessions",
                   {"UserName": "admin", "Password": "secret"}, user=None)
    assert created.status == 201
    token = created.headers["X-Auth-Token"]
    location = created.headers["Location"]
    auth = {"x-auth-token": token}
    assert send(service, "GET", SYSTEM, headers=auth, user=None).status == 200
    assert send(service, "DELETE", location, headers=auth, user=None).status == 204
    assert send(service, "GET", SYSTEM, headers=auth, user=None).status == 401
    refused = send(service, "POST", "/redfish/v1/SessionService/Sessions",
                   {"UserName": "admin", "Password": "bad"}, user=None)
    assert refused.status == 401


def test_user_made_over_ipmi_logs_in(service: RedfishService, bmc: Bmc) -> None:
    user = bmc.users.slot(5)
    user.name, user.password, user.enabled = b"newbie", b"pw".ljust(20, b"\0"), True
    access = user.access_on(LAN_CHANNEL)
    access.privilege, access.ipmi_messaging = Privilege.OPERATOR, True
    assert send(service, "GET", SYSTEM, user=("newbie", "pw")).status == 200


def test_reset_types_drive_the_power_backend(service: RedfishService, bmc: Bmc) -> None:
    system = send(service, "GET", SYSTEM).body
    assert system is not None
    allowed = system["Actions"]["#ComputerSystem.Reset"]["ResetType@Redfish.AllowableValues"]
    assert "ForceOff" in allowed and "Nmi" in allowed
    reset = f"{SYSTEM}/Actions/ComputerSystem.Reset"
    assert send(service, "POST", reset, {"ResetType": "On"}).status == 204
    assert bmc.power.is_on()
    assert send(service, "GET", SYSTEM).body["PowerState"] == "On"  # type: ignore[index]
    assert send(service, "POST", reset, {"ResetType": "ForceOff"}).status == 204
    assert not bmc.power.is_on()
    bad = send(service, "POST", reset, {"ResetType": "Explode"})
    assert bad.status == 400 and message_id(bad).endswith("PropertyValueNotInList")
    missing = send(service, "POST", reset, {})
    assert missing.status == 400 and message_id(missing).endswith("ActionParameterMissing")


def test_boot_override_is_ipmi_boot_flags_parameter_5(service: RedfishService,
                                                     bmc: Bmc) -> None:
    patch = {"Boot": {"BootSourceOverrideTarget": "Pxe", "BootSourceOverrideEnabled": "Once",
                      "BootSourceOverrideMode": "UEFI"}}
    assert send(service, "PATCH", SYSTEM, patch).status == 204
    flags = boot.read_parameter(bmc.state, boot.BOOT_FLAGS)
    assert flags[0] == boot.FLAG_VALID | boot.FLAG_EFI and flags[1] == 0x04
    # Written the IPMI way (Hdd, persistent, legacy), read back over Redfish.
    boot.write_parameter(bmc.state, boot.BOOT_FLAGS, bytes([0xC0, 0x08, 0, 0, 0]))
    got = send(service, "GET", SYSTEM).body["Boot"]  # type: ignore[index]
    assert (got["BootSourceOverrideTarget"], got["BootSourceOverrideEnabled"],
            got["BootSourceOverrideMode"]) == ("Hdd", "Continuous", "Legacy")


def test_patch_errors_name_the_property(service: RedfishService) -> None:
    unknown = send(service, "PATCH", SYSTEM, {"Colour": "blue"})
    assert unknown.status == 400 and message_id(unknown).endswith("PropertyUnknown")
    readonly = send(service, "PATCH", SYSTEM, {"PowerState": "On"})
    assert message_id(readonly).endswith("PropertyNotWritable")
    value = send(service, "PATCH", SYSTEM, {"Boot": {"BootSourceOverrideTarget": "Moon"}})
    assert message_id(value).endswith("PropertyValueNotInList")
    bad = service.handle(Request("PATCH", SYSTEM, {**basic("admin", "secret"),
                                                   "content-type": "application/json"},
                                 b"{not json"), 0.0)
    assert bad.status == 400 and message_id(bad).endswith("MalformedJSON")


def test_etags_if_match_and_if_none_match(service: RedfishService) -> None:
    etag = send(service, "GET", SYSTEM).headers["ETag"]
    assert send(service, "GET", SYSTEM, headers={"if-none-match": etag}).status == 304
    stale = send(service, "PATCH", SYSTEM, {"Boot": {"BootSourceOverrideTarget": "Cd"}},
                 headers={"if-match": 'W/"0000000000000000"'})
    assert stale.status == 412
    fresh = send(service, "PATCH", SYSTEM, {"Boot": {"BootSourceOverrideTarget": "Cd"}},
                 headers={"if-match": etag})
    assert fresh.status == 204
    assert send(service, "GET", SYSTEM).headers["ETag"] != etag


def test_unknown_resource_and_method(service: RedfishService) -> None:
    assert send(service, "GET", "/redfish/v1/Nowhere").status == 404
    assert send(service, "GET", "/redfish/v1/Systems/other").status == 404
    deleted = send(service, "DELETE", SYSTEM)
    assert deleted.status == 405 and "PATCH" in deleted.headers["Allow"]


def test_manager_nic_is_the_ipmi_lan_configuration(service: RedfishService, bmc: Bmc) -> None:
    nic = send(service, "GET", "/redfish/v1/Managers/BMC/EthernetInterfaces/eth0").body
    assert nic is not None
    assert nic["IPv4Addresses"][0]["Address"] == bmc.lan.address().ip == "127.0.0.2"
    assert nic["MACAddress"] == bmc.lan.mac()
    assert send(service, "GET", "/redfish/v1/Managers/BMC").status == 200
    assert send(service, "GET", "/redfish/v1/Managers/BMC/NetworkProtocol").body[  # type: ignore[index]
        "IPMI"]["Port"] == 623


def test_indicator_led_is_chassis_identify(service: RedfishService, bmc: Bmc) -> None:
    chassis = "/redfish/v1/Chassis/t"
    assert send(service, "GET", chassis).body["IndicatorLED"] == "Off"  # type: ignore[index]
    assert send(service, "PATCH", chassis, {"IndicatorLED": "Lit"}).status == 204
    assert bmc.chassis.identify_forever
    assert send(service, "GET", chassis).body["IndicatorLED"] == "Lit"  # type: ignore[index]
    bmc.chassis.identify_forever = False  # Chassis Identify with interval 0 over IPMI
    assert send(service, "GET", chassis).body["LocationIndicatorActive"] is False  # type: ignore[index]


def test_accounts_are_ipmi_user_slots_with_roles(service: RedfishService, bmc: Bmc) -> None:
    accounts = send(service, "GET", "/redfish/v1/AccountService/Accounts").body
    assert accounts is not None and accounts["Members@odata.count"] == 2
    roles = {}
    for member in accounts["Members"]:
        account = send(service, "GET", member["@odata.id"]).body
        assert account is not None and account["Password"] is None
        roles[account["UserName"]] = account["RoleId"]
    assert roles == {"admin": "Administrator", "viewer": "ReadOnly"}
    role = send(service, "GET", "/redfish/v1/AccountService/Roles/Operator").body
    assert role is not None and "ConfigureComponents" in role["AssignedPrivileges"]


def test_metadata_and_odata_documents_are_public(service: RedfishService) -> None:
    metadata = send(service, "GET", "/redfish/v1/$metadata", user=None)
    assert metadata.status == 200 and metadata.content_type == "application/xml"
    assert 'Namespace="ComputerSystem.v1_20_0"' in metadata.encoded().decode()
    odata = send(service, "GET", "/redfish/v1/odata", user=None).body
    assert odata is not None and {"name": "Systems", "kind": "Singleton",
                                  "url": "/redfish/v1/Systems"} in odata["value"]


def test_protocol_headers_link_cache_control_and_www_authenticate(service: RedfishService):
    root = send(service, "GET", "/redfish/v1/")
    assert root.headers["Cache-Control"] == "no-cache"
    assert root.headers["Link"] == (
        "<http://redfish.dmtf.org/schemas/v1/ServiceRoot.v1_15_0.json>; rel=describedby")
    systems = send(service, "HEAD", "/redfish/v1/Systems")
    assert "ComputerSystemCollection.json>" in systems.headers["Link"]
    refused = send(service, "GET", "/redfish/v1/Systems", user=None)
    assert refused.status == 401
    assert refused.headers["WWW-Authenticate"].startswith("Basic ")


def test_unsupported_odata_version_is_a_failed_precondition(service: RedfishService):
    assert send(service, "GET", "/redfish/v1/", headers={"odata-version": "4.0"}).status == 200
    answer = send(service, "GET", "/redfish/v1/", headers={"odata-version": "4.1"})
    assert answer.status == 412
    assert message_id(answer).endswith("PreconditionFailed")


def test_post_to_members_is_a_post_to_the_collection(service: RedfishService):
    created = send(service, "POST", "/redfish/v1/SessionService/Sessions/Members",
                   {"UserName": "admin", "Password": "secret"}, user=None)
    assert created.status == 201
    assert created.headers["Location"].startswith("/redfish/v1/SessionService/Sessions/")


ACCOUNTS = "/redfish/v1/AccountService/Accounts"


def test_account_create_modify_delete_is_the_ipmi_user_slot(service: RedfishService,
                                                            bmc: Bmc):
    created = send(service, "POST", ACCOUNTS,
                   {"UserName": "fresh", "Password": "freshpw1", "RoleId": "Operator"})
    assert created.status == 201
    slot = int(created.headers["Location"].rsplit("/", 1)[1])
    assert slot == 4  # admin is 2, viewer 3: the first free slot
    user = bmc.users.get(slot)
    assert user is not None and (user.name, user.password, user.enabled) == (
        b"fresh", b"freshpw1", True)
    assert bmc.users.privilege_limit(user, LAN_CHANNEL) == Privilege.OPERATOR
    assert send(service, "GET", SYSTEM, user=("fresh", "freshpw1")).status == 200
    changed = send(service, "PATCH", f"{ACCOUNTS}/{slot}",
                   {"UserName": "renamed", "RoleId": "Administrator", "Password": "newpw"})
    assert changed.status == 200 and changed.body["UserName"] == "renamed"  # type: ignore[index]
    assert bmc.users.privilege_limit(user, LAN_CHANNEL) == Privilege.ADMINISTRATOR
    assert (user.name, user.password) == (b"renamed", b"newpw")
    assert send(service, "PATCH", f"{ACCOUNTS}/{slot}", {"Enabled": False}).status == 200
    assert send(service, "GET", SYSTEM, user=("renamed", "newpw")).status == 401
    assert send(service, "DELETE", f"{ACCOUNTS}/{slot}").status == 204
    cleared = bmc.users.get(slot)
    assert cleared is not None and (cleared.name, cleared.password, cleared.access) == (
        b"", b"", {})
    assert send(service, "GET", f"{ACCOUNTS}/{slot}").status == 404


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"UserName": "viewer", "Password": "x"}, 409, "ResourceAlreadyExists"),
    ({"UserName": "a:b", "Password": "x"}, 400, "PropertyValueFormatError"),
    ({"UserName": "x" * 17, "Password": "x"}, 400, "PropertyValueFormatError"),
    ({"UserName": "ok", "Password": "x" * 21}, 400, "PropertyValueFormatError"),
    ({"UserName": "ok", "Password": "x", "RoleId": "God"}, 400, "PropertyValueNotInList"),
    ({"UserName": "ok"}, 400, "PropertyMissing"),
    ({"UserName": "ok", "Password": "x", "Id": "9"}, 400, "PropertyNotWritable"),
    ({"UserName": "ok", "Password": "x", "Bogus": 1}, 400, "PropertyUnknown"),
])
def test_account_create_refusals(service: RedfishService, body: Any, status: int,
                                 message: str):
    answer = send(service, "POST", ACCOUNTS, body)
    assert (answer.status, message_id(answer).rsplit(".", 1)[1]) == (status, message)
    assert "x" * 21 not in json.dumps(answer.body)  # a refused password is never echoed


def test_account_slots_run_out(service: RedfishService):
    for n in range(4, 17):
        assert send(service, "POST", ACCOUNTS, {"UserName": f"u{n}", "Password": "p"}
                    ).status == 201
    answer = send(service, "POST", ACCOUNTS, {"UserName": "one-too-many", "Password": "p"})
    assert message_id(answer).endswith("CreateLimitReachedForResource")


def test_read_only_user_changes_its_own_password_only(service: RedfishService, bmc: Bmc):
    viewer = ("viewer", "look")
    assert send(service, "PATCH", f"{ACCOUNTS}/3", {"Password": "seen"}, user=viewer
                ).status == 200
    viewer = ("viewer", "seen")
    for body in ({"RoleId": "Administrator"}, {"UserName": "boss"}):
        answer = send(service, "PATCH", f"{ACCOUNTS}/3", body, user=viewer)
        assert answer.status == 403
    assert send(service, "PATCH", f"{ACCOUNTS}/2", {"Password": "mine"}, user=viewer
                ).status == 403
    assert send(service, "PATCH", f"{ACCOUNTS}/3", {"@odata.id": "x"}).status == 400
