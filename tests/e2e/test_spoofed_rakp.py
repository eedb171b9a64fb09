"""A half-open RMCP+ login belongs to the address its Open Session came from: RAKP messages
naming its session ID from anywhere else are ignored, so they can neither take the login
over nor cancel it (against a real `pybmc serve`)."""

from __future__ import annotations

from tests.e2e.conftest import BmcProcess
from tests.e2e.rawlogin import RawClient, rakp1_request, rmcpplus_setup

RAKP3 = 0x14
INVALID_INTEGRITY_CHECK = 0x0F  # what a console sends when RAKP 2 did not verify


def rakp3_abort(bmc_sid: int, tag: int = 2) -> bytes:
    return rmcpplus_setup(RAKP3, bytes([tag, INVALID_INTEGRITY_CHECK, 0, 0])
                          + bmc_sid.to_bytes(4, "little"))


def test_a_spoofed_rakp_from_another_address_leaves_the_pending_login_intact(bmc: BmcProcess):
    target = (bmc.address, bmc.port)
    with RawClient("127.0.0.1", target) as owner, RawClient("127.0.0.2", target) as spoofer:
        [bmc_sid] = owner.open_sessions(1)
        # The other address knows the session ID (it is sent in clear): its RAKP 1 gets no
        # RAKP 2 (no password-keyed HMAC for it), and its abort cancels nothing.
        assert spoofer.exchange([rakp1_request(bmc_sid)], quiet=1.0) == []
        assert spoofer.exchange([rakp3_abort(bmc_sid)], quiet=1.0) == []
        rakp2 = owner.rakp1_burst([bmc_sid])
        assert len(rakp2) == 1 and rakp2[0][1] == 0x00, rakp2  # status: no errors
        # The owner's own abort is still taken: the login is gone afterwards.
        owner.send(rakp3_abort(bmc_sid))
        after = owner.rakp1_burst([bmc_sid])
        assert all(reply[1] != 0x00 for reply in after), after  # none, or an error status
