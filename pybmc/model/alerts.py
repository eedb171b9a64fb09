"""LAN alerts: the PET datagrams a PEF alert becomes, by alert policy and LAN destinations.

A matching event filter with the alert action names an alert policy number. Every enabled
entry of the alert policy table (PEF parameter 9) with that number, on the LAN channel, names
a destination selector; LAN parameter 18 says its type (only PET traps are sent) and 19 its
IP address. The trap carries the community string of LAN parameter 16 (never logged).

Policy types (entry byte 1 bits 2:0): 0 "always send" sends to its destination; the others
(1-4: send only if an earlier destination of the set failed, ...) send only while nothing
was sent yet for this event, since an unacknowledged trap never fails. PET acknowledge
(parameter 18 bit 7), timeouts and retries are not implemented: a trap is sent once.
Destinations that are unset, 0.0.0.0, broadcast, multicast or not IPv4 are never sent to.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass

from pybmc.model.lan import Lan
from pybmc.model.lan_params import LAN_PARAMETERS
from pybmc.model.pet import PetEvent, PetSource, trap_pdu
from pybmc.model.platform import pef
from pybmc.model.platform.pef_filter import AlertRequest
from pybmc.wire.codes import LAN_CHANNEL

log = logging.getLogger("pybmc.alerts")

POLICY_ENABLED = 0x08
ALWAYS_SEND = 0
DESTINATION_PET = 0x00  # parameter 18 byte 2 bits 2:0
COMMUNITY_STRING = 16
DESTINATION_TYPE = 18
DESTINATION_ADDRESSES = 19


@dataclass(frozen=True)
class AlertDatagram:
    """A UDP datagram for the edge to send: payload to (address, port)."""

    payload: bytes
    address: str
    port: int


def sendable(address: str) -> bool:
    """Only a unicast IPv4 address somebody configured."""
    try:
        ip = ipaddress.IPv4Address(address)
    except ValueError:
        return False
    return not (ip.is_unspecified or ip.is_multicast or ip == ipaddress.IPv4Address(
        "255.255.255.255") or ip.is_reserved)


def policy_destinations(config: pef.PefConfig, policy: int) -> list[int]:
    """The LAN destination selectors the enabled entries of policy `policy` send to."""
    selectors: list[int] = []
    for number in range(1, pef.ALERT_POLICIES + 1):
        entry = config.get(pef.POLICY_TABLE, number)[2:]
        if (entry[0] >> 4) & 0x07 != policy or not entry[0] & POLICY_ENABLED:
            continue
        if entry[1] >> 4 != LAN_CHANNEL:
            continue
        if entry[0] & 0x07 != ALWAYS_SEND and selectors:
            continue  # "send if the previous failed": an unacknowledged trap does not fail
        selectors.append(entry[1] & 0x0F)
    return selectors


def community(lan: Lan) -> bytes:
    return LAN_PARAMETERS.get(lan, COMMUNITY_STRING).split(b"\0", 1)[0]


def destination(lan: Lan, selector: int) -> str | None:
    """The IPv4 address of a PET destination, or None (not a PET trap, or no address)."""
    if selector > lan_destinations(lan):
        return None
    kind = LAN_PARAMETERS.get(lan, DESTINATION_TYPE, selector)
    if kind[1] & 0x07 != DESTINATION_PET:
        return None
    addresses = LAN_PARAMETERS.get(lan, DESTINATION_ADDRESSES, selector)
    if addresses[1] >> 4 != 0:  # not the IPv4 format
        return None
    address = str(ipaddress.IPv4Address(addresses[3:7]))
    return address if sendable(address) else None


def lan_destinations(lan: Lan) -> int:
    return LAN_PARAMETERS.get(lan, 17)[0] & 0x0F


def alert_datagrams(request: AlertRequest, config: pef.PefConfig, lan: Lan,
                    source: PetSource, event: PetEvent, uptime: float,
                    port: int) -> list[AlertDatagram]:
    """The traps one PEF alert sends (empty when its policy names no usable destination)."""
    out: list[AlertDatagram] = []
    payload = trap_pdu(community(lan), source, event, uptime)
    for selector in policy_destinations(config, request.policy):
        address = destination(lan, selector)
        if address is None:
            log.debug("%s: alert policy %d destination %d: not a PET trap destination",
                      lan.name, request.policy, selector)
            continue
        log.info("%s: PET for SEL event (filter %d, policy %d) to %s:%d", lan.name,
                 request.filter_number, request.policy, address, port)
        out.append(AlertDatagram(payload, address, port))
    return out
