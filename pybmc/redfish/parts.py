"""The parts of a BMC the Redfish front works on, as a structural type.

The core's BmcParts satisfies it; the Redfish front and the IPMI dispatcher sit in one layer
and so do not import each other.
"""

from __future__ import annotations

from typing import Protocol

from pybmc.config.bmc import BmcConfig
from pybmc.model.chassis import ChassisRuntime
from pybmc.model.lan import Lan
from pybmc.model.lockout import Lockout
from pybmc.model.platform import Platform
from pybmc.model.power import PowerBackend
from pybmc.model.state import Changes, State
from pybmc.model.users import Users


class RedfishParts(Protocol):
    name: str
    config: BmcConfig
    guid: bytes  # the System GUID as IPMI sends it (least significant byte first)
    state: State
    changes: Changes
    users: Users
    lan: Lan
    chassis: ChassisRuntime
    power: PowerBackend
    lockout: Lockout  # bad Redfish passwords count toward the IPMI lockout
    platform: Platform
