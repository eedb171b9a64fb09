"""The LAN channel's access mode and per-user IPMI messaging, against a real `pybmc serve`.

`ipmitool -I lanplus -C 17 lan set 1 access off` turns IPMI over LAN off (both copies): new
logins get no answer, Redfish still does, and the host's system interface (here a fake VM on
[in_band] listen, speaking QEMU's ipmi-bmc-extern protocol) turns it back on, as
`ipmitool lan set 1 access on` in-band would. A volatile-only Disabled lasts until the BMC
restarts. `Lan_Enable_IPMI_Msgs=No` for one user refuses that user's logins only.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pybmc.protocol.inband import MSG_END, FrameDecoder, VmRequest, encode_request
from tests.e2e.conftest import BmcProcess, wait_for_log

pytestmark = pytest.mark.skipif(shutil.which("ipmitool") is None, reason="no ipmitool")

LAN_OFF_LOG = "IPMI over LAN is disabled"


class FakeVm:
    """The guest's end of the in-band link: one request at a time, its response back."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(5.0)
        self.sock.connect(path)
        self.decoder = FrameDecoder()
        self.seq = 0

    def request(self, netfn: int, cmd: int, data: bytes) -> bytes:
        """Completion code + data of one request."""
        self.seq = (self.seq + 1) & 0xFF
        self.sock.sendall(encode_request(VmRequest(self.seq, netfn, 0, cmd, data)))
        for _ in range(50):  # bounded: a few frames (version, capabilities) may come first
            chunk = self.sock.recv(4096)
            assert chunk, "in-band link closed"
            for end, frame, problem in self.decoder.feed(chunk):
                if end == MSG_END and problem is None and frame[0] == self.seq:
                    assert frame[2] == cmd
                    return bytes(frame[3:-1])
        raise AssertionError("no in-band response")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def short_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="pbla", dir="/tmp") as tmp:
        yield Path(tmp)


def lan_answers(bmc: BmcProcess, user: str = "admin", password: str = "secret",
                privilege: str = "ADMINISTRATOR") -> bool:
    return bmc.ipmitool("-C", "17", "chassis", "power", "status", user=user,
                        password=password, privilege=privilege, check=False,
                        timeout=60).returncode == 0


def test_lan_access_off_cuts_lan_logins_and_in_band_turns_them_back_on(
        bmc_factory: Any, short_dir: Path) -> None:
    link = short_dir / "ipmi.sock"
    bmc = bmc_factory(in_band={"listen": f"unix:{link}"})
    assert lan_answers(bmc)
    bmc.ipmitool("-C", "17", "lan", "set", "1", "access", "off")
    assert not lan_answers(bmc)
    assert "secret" not in wait_for_log(bmc, LAN_OFF_LOG)
    vm = FakeVm(str(link))
    try:
        # Get Channel Access, channel 1: both copies read Disabled.
        assert vm.request(0x06, 0x41, bytes([0x01, 0x80]))[:2] == b"\x00\x00"
        assert vm.request(0x06, 0x41, bytes([0x01, 0x40]))[:2] == b"\x00\x00"
        for which in (0x80, 0x40):  # volatile, then non-volatile: Always Available
            assert vm.request(0x06, 0x40, bytes([0x01, which | 0x02, 0x00])) == b"\x00"
    finally:
        vm.close()
    assert lan_answers(bmc)
    info = bmc.ipmitool("-C", "17", "channel", "info", "1").stdout
    assert info.lower().count("always available") == 2, info  # volatile and non-volatile


def test_volatile_disable_lasts_until_restart_and_user_ipmi_messaging(
        bmc_factory: Any) -> None:
    bmc = bmc_factory()
    # Set Channel Access, volatile only: Disabled (the non-volatile copy stays available).
    bmc.ipmitool("-C", "17", "raw", "0x06", "0x40", "0x01", "0x80", "0x00")
    assert not lan_answers(bmc)
    bmc.restart()  # a BMC start loads the volatile copy from the non-volatile one
    assert lan_answers(bmc)

    bmc.freeipmi("bmc-config", "--commit", "--key-pair=User3:Lan_Enable_IPMI_Msgs=No")
    section = bmc.freeipmi("bmc-config", "--checkout", "--section=User3").stdout
    assert "oper" in section and "Lan_Enable_IPMI_Msgs" in section
    assert not lan_answers(bmc, "oper", "operpw", "OPERATOR")
    assert lan_answers(bmc, "viewer", "viewerpw", "USER")
    assert lan_answers(bmc)
    bmc.freeipmi("bmc-config", "--commit", "--key-pair=User3:Lan_Enable_IPMI_Msgs=Yes")
    assert lan_answers(bmc, "oper", "operpw", "OPERATOR")


def test_redfish_turns_ipmi_over_lan_back_on(bmc_factory: Any) -> None:
    from tests.e2e.test_redfish import PORT, https
    from tests.e2e.test_redfish_inventory import wait_redfish

    bmc = wait_redfish(bmc_factory(redfish={"enabled": True, "port": PORT}))
    path = "/redfish/v1/Managers/BMC/NetworkProtocol"
    bmc.ipmitool("-C", "17", "lan", "set", "1", "access", "off")
    assert not lan_answers(bmc)
    assert https(bmc, "GET", path)[1]["IPMI"]["ProtocolEnabled"] is False
    assert https(bmc, "PATCH", path, {"IPMI": {"ProtocolEnabled": True}})[0] == 204
    assert lan_answers(bmc)
    info = bmc.ipmitool("-C", "17", "channel", "info", "1").stdout
    assert info.lower().count("always available") == 2, info
