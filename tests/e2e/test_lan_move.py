"""A client gives the BMC a new IP address: it answers there at once, and only there once the
session that moved it is gone; the move survives a restart; the compatibility hook is called."""

from __future__ import annotations

import stat
import time
from pathlib import Path

from tests.e2e.conftest import AUTH_CAP_PING, next_address, udp_roundtrip


def wait_until(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_new_ip_address_takes_effect_and_survives_restart(bmc_factory, tmp_path: Path):
    record = tmp_path / "hook.log"
    hook = tmp_path / "lancontrol"
    hook.write_text(f"#!/bin/sh\necho \"$@\" >> {record}\n")
    hook.chmod(hook.stat().st_mode | stat.S_IEXEC)
    bmc = bmc_factory(lan={"config_program": f"{hook} eth9"})
    old, new = bmc.address, next_address()
    bmc.ipmitool("lan", "set", "1", "ipsrc", "static")
    bmc.ipmitool("lan", "set", "1", "ipaddr", new)
    assert udp_roundtrip(new, 623, AUTH_CAP_PING) is not None
    status = bmc.ipmitool("chassis", "power", "status", address=new)
    assert "Chassis Power is" in status.stdout
    assert new in bmc.ipmitool("lan", "print", "1", address=new).stdout
    # The session that moved it is closed: the old address goes quiet.
    assert wait_until(lambda: udp_roundtrip(old, 623, AUTH_CAP_PING, 0.2) is None)
    assert f"eth9 set ip_addr {new}" in record.read_text()
    assert "moved to" in bmc.log()
    # Restart with the same config: the BMC comes back at the address the client gave it.
    bmc.stop()
    bmc.start(probe=[(new, 623)])
    assert udp_roundtrip(old, 623, AUTH_CAP_PING, 0.3) is None
    assert "Chassis Power is" in bmc.ipmitool("chassis", "power", "status", address=new).stdout
