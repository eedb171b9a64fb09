"""What resetting the BMC itself does (IPMI Cold/Warm Reset, Redfish Manager.Reset).

The host's power is not the BMC's to touch here: a cold reset is a BMC reboot, in which
volatile settings come back from their non-volatile copies; a warm reset has nothing to
reinitialise in an emulated controller.
"""

from __future__ import annotations

import dataclasses
import logging

from pybmc.model.state import State
from pybmc.wire.codes import LAN_CHANNEL

log = logging.getLogger("pybmc.app")

SYSINFO_KEY = "sysinfo"  # state.extra: System Info parameters ("0" = set in progress)
SET_COMPLETE = "00"


def load_volatile_access(state: State) -> bool:
    """The LAN channel's volatile (active) access copied from its non-volatile copy, as at
    every BMC start: a `lan set 1 access off` lasts until the BMC restarts, a non-volatile
    Disabled takes effect then. Whether anything changed."""
    changed = False
    for channel in (LAN_CHANNEL,):
        stored = state.channel(channel, volatile=False)
        active = state.channel(channel, volatile=True)
        for field in dataclasses.fields(stored):
            value = getattr(stored, field.name)
            if getattr(active, field.name) != value:
                setattr(active, field.name, value)
                changed = True
    return changed


def cold_reset(state: State, name: str) -> None:
    """Volatile channel access reloaded from non-volatile; System Info's lock released.
    The caller marks the state changed."""
    load_volatile_access(state)
    state.extra.setdefault(SYSINFO_KEY, {})["0"] = SET_COMPLETE
    log.info("%s: cold reset: volatile channel access reloaded from non-volatile", name)


def warm_reset(name: str) -> None:
    log.info("%s: warm reset requested; nothing to reinitialise", name)
