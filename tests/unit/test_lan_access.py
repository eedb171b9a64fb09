"""The LAN channel's access mode and the per-user IPMI messaging bit, enforced at login.

Volatile access Disabled (Set Channel Access, `lan set 1 access off`): no new session and no
session-less IPMI answer over the LAN, established sessions go on, the ASF ping is still
answered, in-band turns it back on. The non-volatile copy takes effect at the next BMC start.
A user whose IPMI messaging is off on channel 1 is refused as an unauthorized name (RMCP+) or
with "privilege exceeds limit" (IPMI 1.5, Activate Session); others log in."""

from __future__ import annotations

import logging

import pytest

from pybmc.core.bmc import Bmc
from pybmc.redfish.service import RedfishService
from pybmc.wire.codes import AuthType, Privilege, RmcpStatus
from tests.unit.conftest import MakeBmc
from tests.unit.rmcp_clients import (  # noqa: F401  (fixtures)
    GET_DEVICE_ID,
    OTHER,
    PlusClient,
    V15Client,
    Wire,
    three_users,
    wire_on_bmc,
)
from tests.unit.test_redfish_service import message_id, send

ASF_PING = bytes.fromhex("0600ff06000011be80000000")
# ipmitool's session-less Get Channel Authentication Capabilities (IPMI 1.5 framing).
AUTH_CAP_REQUEST = bytes.fromhex("0600ff07000000000000000000092018c88100388e04b5")
SET_CHANNEL_ACCESS = (0x06, 0x40)
GET_CHANNEL_ACCESS = (0x06, 0x41)
SET_USER_ACCESS = (0x06, 0x43)
VOLATILE, NON_VOLATILE = 0x80, 0x40  # byte 2 bits 7:6 of Set Channel Access
DISABLED, PRE_BOOT_ONLY, ALWAYS = 0, 1, 2
KEEP_PRIVILEGE = 0x00


def set_access(mode: int, which: int = VOLATILE) -> bytes:
    return bytes([0x01, which | mode, KEEP_PRIVILEGE])


def in_band(bmc: Bmc, netfn_cmd: tuple[int, int], data: bytes) -> bytes:
    return bmc.execute_in_band(*netfn_cmd, data, now=1000.0)


def test_volatile_disabled_drops_new_logins_and_sessionless_requests(
        bmc: Bmc, wire: Wire, caplog: pytest.LogCaptureFixture) -> None:
    assert in_band(bmc, SET_CHANNEL_ACCESS, set_access(DISABLED)) == b"\x00"
    assert not bmc.lan.ipmi_enabled()
    with caplog.at_level(logging.INFO, logger="pybmc.session"):
        assert wire.send(AUTH_CAP_REQUEST) == []
        # Open Session gets no answer at all, nor does Get Session Challenge.
        client = PlusClient(wire, console_sid=0x1234)
        with pytest.raises(AssertionError):
            client.open()
        v15 = V15Client(wire, AuthType.MD5)
        with pytest.raises(AssertionError):
            v15.get_challenge()
        for _ in range(20):
            assert wire.send(AUTH_CAP_REQUEST, OTHER) == []
    # The ASF presence ping is RMCP, not IPMI: still answered.
    assert len(wire.send(ASF_PING)) == 1
    drops = [r for r in caplog.records if "IPMI over LAN is disabled" in r.getMessage()]
    assert len(drops) == 1  # one line for the burst, not one per packet
    assert "secret" not in caplog.text


def test_session_that_turned_lan_off_goes_on_and_in_band_turns_it_back_on(
        bmc: Bmc, wire: Wire) -> None:
    admin = PlusClient(wire).login()
    old = V15Client(wire, AuthType.MD5, addr=OTHER).login()
    pending = V15Client(wire, AuthType.MD5, addr=("127.0.0.5", 623))
    assert pending.get_challenge() == 0
    assert admin.request(*SET_CHANNEL_ACCESS, set_access(DISABLED)) == (0, b"")
    # Established sessions go on (RMCP+ and IPMI 1.5); the reply above left too.
    assert admin.request(*GET_DEVICE_ID) is not None
    assert old.request(*GET_DEVICE_ID) is not None
    # A challenge handed out before is no session: its Activate Session is dropped.
    assert pending.activate() is None
    with pytest.raises(AssertionError):
        PlusClient(wire, console_sid=0x4321).open()
    # The host's system interface is the way back, as on a real server.
    assert in_band(bmc, GET_CHANNEL_ACCESS, bytes([0x01, VOLATILE])) == bytes([0, DISABLED, 4])
    assert in_band(bmc, SET_CHANNEL_ACCESS, set_access(ALWAYS)) == b"\x00"
    PlusClient(wire, console_sid=0x4321).login()
    V15Client(wire, AuthType.MD5, addr=("127.0.0.5", 623)).login()


def test_pre_boot_only_and_shared_leave_lan_available(bmc: Bmc, wire: Wire) -> None:
    for mode, console_sid in ((PRE_BOOT_ONLY, 0x71), (3, 0x72)):
        assert in_band(bmc, SET_CHANNEL_ACCESS, set_access(mode)) == b"\x00"
        assert bmc.lan.ipmi_enabled()
        PlusClient(wire, console_sid=console_sid).login()


def test_non_volatile_disabled_takes_effect_at_the_next_start(
        make_bmc: MakeBmc, caplog: pytest.LogCaptureFixture) -> None:
    bmc = make_bmc()
    assert in_band(bmc, SET_CHANNEL_ACCESS, set_access(DISABLED, NON_VOLATILE)) == b"\x00"
    bmc.save()
    wire = Wire(bmc.sessions)
    PlusClient(wire).login()  # the active copy still says Always Available
    with caplog.at_level(logging.WARNING, logger="pybmc.core"):
        restarted = make_bmc()  # the same state dir: a restart
    assert not restarted.lan.ipmi_enabled()
    assert any("IPMI over LAN is disabled" in r.getMessage() for r in caplog.records)
    with pytest.raises(AssertionError):
        PlusClient(Wire(restarted.sessions)).open()


def test_volatile_only_disable_is_lifted_at_restart(make_bmc: MakeBmc) -> None:
    bmc = make_bmc()
    assert in_band(bmc, SET_CHANNEL_ACCESS, set_access(DISABLED)) == b"\x00"
    bmc.save()
    assert not bmc.lan.ipmi_enabled()
    restarted = make_bmc()
    assert restarted.lan.ipmi_enabled()
    PlusClient(Wire(restarted.sessions)).login()


def test_cold_reset_reloads_the_volatile_copy(bmc: Bmc, wire: Wire) -> None:
    assert in_band(bmc, SET_CHANNEL_ACCESS, set_access(DISABLED)) == b"\x00"
    assert in_band(bmc, (0x06, 0x02), b"") == b"\x00"  # Cold Reset
    assert bmc.lan.ipmi_enabled()
    PlusClient(wire).login()


def test_user_without_ipmi_messaging_is_refused_others_log_in(bmc: Bmc, wire: Wire) -> None:
    # Set User Access, channel 1, user 3 (oper): change bits, IPMI messaging off, operator.
    assert in_band(bmc, SET_USER_ACCESS, bytes([0x81, 0x03, 0x03, 0x00])) == b"\x00"
    refused = PlusClient(wire, user=b"oper", password=b"operpw", role=0x13,
                         console_sid=0x31)
    assert refused.open()[1] == 0
    assert refused.rakp1()[1] == RmcpStatus.UNAUTHORIZED_NAME
    v15 = V15Client(wire, AuthType.MD5, user=b"oper", password=b"operpw")
    assert v15.get_challenge() == 0
    result = v15.activate(privilege=Privilege.OPERATOR)
    assert result is not None and result[0] == 0x86  # privilege exceeds limit
    assert not [s for s in bmc.sessions.sessions if s.user_name == b"oper"]
    PlusClient(wire, user=b"viewer", password=b"viewerpw", console_sid=0x32).login()
    PlusClient(wire, console_sid=0x33).login()


def test_channel_privilege_limit_caps_every_login(bmc: Bmc, wire: Wire) -> None:
    # Volatile channel privilege limit User (byte 3 bits 7:6 = 10b).
    assert in_band(bmc, SET_CHANNEL_ACCESS, bytes([0x01, 0x00, 0x80 | Privilege.USER])) \
        == b"\x00"
    client = PlusClient(wire, role=0x14)
    assert client.open()[2] == Privilege.USER  # "highest": what the channel allows
    client.login()
    session = bmc.sessions.find_session(client.bmc_sid)
    assert session is not None and session.max_privilege == Privilege.USER
    v15 = V15Client(wire, AuthType.MD5, addr=OTHER)
    assert v15.get_challenge() == 0
    result = v15.activate(privilege=Privilege.ADMINISTRATOR)
    assert result is not None and result[0] == 0x86


def test_redfish_answers_while_lan_is_off_and_says_so(bmc: Bmc) -> None:
    service = RedfishService(bmc.parts, "t")
    path = "/redfish/v1/Managers/BMC/NetworkProtocol"
    assert send(service, "GET", path).body["IPMI"]["ProtocolEnabled"] is True  # type: ignore[index]
    assert in_band(bmc, SET_CHANNEL_ACCESS, set_access(DISABLED)) == b"\x00"
    answer = send(service, "GET", path)
    assert answer.status == 200
    assert answer.body["IPMI"]["ProtocolEnabled"] is False  # type: ignore[index]


def test_redfish_patch_turns_ipmi_over_lan_off_and_on_in_both_copies(
        bmc: Bmc, wire: Wire) -> None:
    service = RedfishService(bmc.parts, "t")
    path = "/redfish/v1/Managers/BMC/NetworkProtocol"
    assert send(service, "PATCH", path, {"IPMI": {"ProtocolEnabled": False}}).status == 204
    assert wire.send(AUTH_CAP_REQUEST) == []
    assert send(service, "GET", path).body["IPMI"]["ProtocolEnabled"] is False  # type: ignore[index]
    assert bmc.state.channel(1, volatile=False).access_mode == DISABLED  # kept across restarts
    assert send(service, "PATCH", path, {"IPMI": {"ProtocolEnabled": True}}).status == 204
    assert len(wire.send(AUTH_CAP_REQUEST)) == 1
    PlusClient(wire, console_sid=0x41).login()
    assert bmc.state.channel(1, volatile=False).access_mode == ALWAYS


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"IPMI": {"ProtocolEnabled": "no"}}, 400, "PropertyValueFormatError"),
    ({"IPMI": {"Port": 624}}, 400, "PropertyNotWritable"),
    ({"IPMI": {"Color": 1}}, 400, "PropertyUnknown"),
    ({"HTTPS": {"ProtocolEnabled": False}}, 400, "PropertyNotWritable"),
    ({"IPMI": True}, 400, "PropertyValueFormatError"),
])
def test_redfish_network_protocol_patch_refusals(bmc: Bmc, body: dict[str, object],
                                                  status: int, message: str) -> None:
    service = RedfishService(bmc.parts, "t")
    path = "/redfish/v1/Managers/BMC/NetworkProtocol"
    answer = send(service, "PATCH", path, body)
    assert answer.status == status and message_id(answer).endswith(message), answer.body
    assert bmc.lan.ipmi_enabled()  # nothing changed


def test_redfish_network_protocol_patch_needs_an_administrator(bmc: Bmc) -> None:
    service = RedfishService(bmc.parts, "t")
    answer = send(service, "PATCH", "/redfish/v1/Managers/BMC/NetworkProtocol",
                  {"IPMI": {"ProtocolEnabled": False}}, user=("oper", "operpw"))
    assert answer.status == 403
    assert bmc.lan.ipmi_enabled()
