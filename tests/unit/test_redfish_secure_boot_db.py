"""SecureBootDatabases: PK, KEK, db, dbx, their read-only views, and ResetKeys mapping onto
SecureBootMode."""

from __future__ import annotations

from pybmc.redfish.service import RedfishService
from tests.unit.test_redfish_inventory import SYSTEM, bmc, get, members, service
from tests.unit.test_redfish_service import message_id, send

__all__ = ["bmc", "service"]  # fixtures
SECURE = f"{SYSTEM}/SecureBoot"
DBS = f"{SECURE}/SecureBootDatabases"


def reset(service: RedfishService, database: str, reset_type: str,
          user: tuple[str, str] = ("admin", "secret")) -> int:
    return send(service, "POST", f"{DBS}/{database}/Actions/SecureBootDatabase.ResetKeys",
                {"ResetKeysType": reset_type}, user=user).status


def test_databases_are_listed_with_read_only_views(service: RedfishService) -> None:
    assert get(service, SECURE)["SecureBootDatabases"] == {"@odata.id": DBS}
    databases = members(service, DBS)
    assert [d["DatabaseId"] for d in databases] == ["PK", "KEK", "db", "dbx"]
    for database in databases:
        for view in ("Certificates", "Signatures"):
            assert get(service, database[view]["@odata.id"])["Members@odata.count"] == 0
            assert send(service, "POST", database[view]["@odata.id"], {}).status == 405
    assert send(service, "GET", f"{DBS}/nope").status == 404


def test_reset_keys_maps_onto_the_secure_boot_mode(service: RedfishService) -> None:
    send(service, "PATCH", SECURE, {"SecureBootEnable": True})
    assert reset(service, "db", "DeleteAllKeys") == 204
    assert get(service, SECURE)["SecureBootMode"] == "UserMode"  # the PK is still there
    assert reset(service, "PK", "DeleteAllKeys") == 204
    after = get(service, SECURE)
    assert (after["SecureBootMode"], after["SecureBootEnable"]) == ("SetupMode", False)
    assert reset(service, "PK", "ResetAllKeysToDefault") == 204
    assert get(service, SECURE)["SecureBootMode"] == "UserMode"  # with db still empty
    # SecureBoot.ResetKeys DeletePK empties the PK database; its defaults bring it back.
    send(service, "POST", f"{SECURE}/Actions/SecureBoot.ResetKeys", {"ResetKeysType": "DeletePK"})
    assert get(service, SECURE)["SecureBootMode"] == "SetupMode"
    send(service, "POST", f"{SECURE}/Actions/SecureBoot.ResetKeys",
         {"ResetKeysType": "ResetAllKeysToDefault"})
    assert get(service, SECURE)["SecureBootMode"] == "UserMode"


def test_reset_keys_refusals_and_read_only_users(service: RedfishService) -> None:
    answer = send(service, "POST", f"{DBS}/PK/Actions/SecureBootDatabase.ResetKeys",
                  {"ResetKeysType": "DeletePK"})
    assert answer.status == 400 and message_id(answer).endswith(".PropertyValueNotInList")
    answer = send(service, "POST", f"{DBS}/PK/Actions/SecureBootDatabase.ResetKeys", {})
    assert answer.status == 400 and message_id(answer).endswith(".ActionParameterMissing")
    assert reset(service, "PK", "DeleteAllKeys", user=("viewer", "look")) == 403
    assert get(service, SECURE)["SecureBootMode"] == "UserMode"
