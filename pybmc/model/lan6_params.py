"""The IPv6 LAN configuration parameters (50-80, IPMI 2.0 errata 4 / table 23-4).

pybmc keeps them the way it keeps parameters 1-26: raw, byte for byte, in `state.lan`, read
back at once and across restarts. pybmc itself serves on the IPv4 address of parameter 3
only; the addresses set here are stored and reported (a static address reads "active" once
it is enabled and IPv6 addressing is on), not bound. The one dynamic address is the
link-local address SLAAC would give the BMC's MAC (parameter 5).
"""

from __future__ import annotations

import ipaddress

from pybmc.model.param_table import Lan, ParameterSpec, fixed

NUM_STATIC_ADDRESSES = 2  # set selectors 0..1 of parameter 56
NUM_DYNAMIC_ADDRESSES = 1  # the link-local address
DUID_BLOCKS = 2  # 16-byte blocks per DUID (parameters 57/58, 60/61): DUID-LLT/LL fit
DEFAULT_HOP_LIMIT = 64

ENABLES_IPV4_ONLY, ENABLES_IPV6_ONLY, ENABLES_BOTH = 0, 1, 2
ADDRESS_ENABLED = 0x80
SOURCE_STATIC, SOURCE_SLAAC = 0, 1
STATUS_ACTIVE, STATUS_DISABLED = 0, 1
ROUTER_STATIC, ROUTER_DYNAMIC = 0x01, 0x02

# Parameter 50: dual stack supported; IPv6-only and IPv6 alert destinations are not.
SUPPORT = 0x02
# Parameter 55 byte 3: neither DHCPv6 (bit 0) nor SLAAC (bit 1) runs on the BMC.
ADDRESSING_SUPPORT = 0x00


def ipv6_enabled(lan: Lan) -> bool:
    enables = lan.state.lan.get("51", bytes([ENABLES_IPV4_ONLY]))  # parameter 51, as stored
    return enables[0] in (ENABLES_IPV6_ONLY, ENABLES_BOTH)


def link_local(mac: bytes) -> bytes:
    """fe80::/64 with the modified EUI-64 interface identifier of `mac` (RFC 4291 app. A)."""
    identifier = bytes([mac[0] ^ 0x02]) + mac[1:3] + b"\xff\xfe" + mac[3:6]
    return ipaddress.IPv6Address(b"\xfe\x80" + bytes(6) + identifier).packed


# --------------------------------------------------------------------------- defaults, views
def _static_address_default(_lan: Lan, selector: int) -> bytes:
    return bytes([selector, SOURCE_STATIC]) + bytes(16) + bytes([64, STATUS_DISABLED])


def _static_address_view(lan: Lan, value: bytes) -> bytes:
    # Byte 20 (address status) is the BMC's to report; a Set's value for it is ignored.
    active = value[1] & ADDRESS_ENABLED and ipv6_enabled(lan) and any(value[2:18])
    return value[:19] + bytes([STATUS_ACTIVE if active else STATUS_DISABLED])


def _dynamic_address(lan: Lan, selector: int) -> bytes:
    address = link_local(bytes.fromhex(lan.mac().replace(":", "")))
    status = STATUS_ACTIVE if ipv6_enabled(lan) else STATUS_DISABLED
    return bytes([selector, SOURCE_SLAAC]) + address + bytes([64, status])


# --------------------------------------------------------------------------- checks
def _check_enables(_lan: Lan, data: bytes) -> str | None:
    return None if data[0] <= ENABLES_BOTH else f"addressing enables {data[0]} is not 0..2"


def _check_flow_label(_lan: Lan, data: bytes) -> str | None:
    return "the flow label is 20 bits" if data[0] & 0xF0 else None


def _check_static_address(_lan: Lan, data: bytes) -> str | None:
    if data[1] & 0x70:
        return "reserved bits set"
    if data[1] & 0x0F != SOURCE_STATIC:
        return f"address source {data[1] & 0x0F} is not static (0)"
    if data[18] > 128:
        return f"prefix length {data[18]} is over 128"
    if data[1] & ADDRESS_ENABLED and data[2] == 0xFF:
        return "a multicast address"
    return None


def _check_duid(_lan: Lan, _data: bytes) -> str | None:
    return None  # any bytes: the DUID's length and type are its own first bytes


def _check_router_control(_lan: Lan, data: bytes) -> str | None:
    return "reserved bits set" if data[0] & 0xFC else None


def _check_prefix_length(_lan: Lan, data: bytes) -> str | None:
    return f"prefix length {data[0]} is over 128" if data[0] > 128 else None


def _check_router_mac(_lan: Lan, data: bytes) -> str | None:
    return "a multicast MAC address" if data[0] & 0x01 else None


def _router(first: int, which: int) -> list[ParameterSpec]:
    name = f"IPv6 static router {which}"
    return [
        ParameterSpec(first, f"{name} IP address", 16, fixed(bytes(16))),
        ParameterSpec(first + 1, f"{name} MAC address", 6, fixed(bytes(6)), _check_router_mac),
        ParameterSpec(first + 2, f"{name} prefix length", 1, fixed(b"\x00"),
                      _check_prefix_length),
        ParameterSpec(first + 3, f"{name} prefix value", 16, fixed(bytes(16))),
    ]


IPV6_PARAMETERS: tuple[ParameterSpec, ...] = (
    ParameterSpec(50, "IPv6/IPv4 support", 0, fixed(bytes([SUPPORT])), writable=False),
    ParameterSpec(51, "IPv6/IPv4 addressing enables", 1, fixed(bytes([ENABLES_IPV4_ONLY])),
                  _check_enables),
    ParameterSpec(52, "IPv6 header static traffic class", 1, fixed(b"\x00")),
    ParameterSpec(53, "IPv6 header static hop limit", 1, fixed(bytes([DEFAULT_HOP_LIMIT]))),
    ParameterSpec(54, "IPv6 header flow label", 3, fixed(bytes(3)), _check_flow_label),
    ParameterSpec(55, "IPv6 status", 0,
                  fixed(bytes([NUM_STATIC_ADDRESSES, NUM_DYNAMIC_ADDRESSES,
                               ADDRESSING_SUPPORT])), writable=False),
    ParameterSpec(56, "IPv6 static addresses", 20, _static_address_default,
                  _check_static_address, selector_limit=NUM_STATIC_ADDRESSES - 1,
                  view=_static_address_view),
    ParameterSpec(57, "DHCPv6 static DUID storage length", 0, fixed(bytes([DUID_BLOCKS])),
                  writable=False),
    ParameterSpec(58, "DHCPv6 static DUIDs", 18, fixed(bytes(16)), _check_duid,
                  selector_limit=0, block_limit=DUID_BLOCKS - 1),
    ParameterSpec(59, "IPv6 dynamic address", 0, _dynamic_address, writable=False,
                  selector_limit=NUM_DYNAMIC_ADDRESSES - 1),
    ParameterSpec(60, "DHCPv6 dynamic DUID storage length", 0, fixed(bytes([DUID_BLOCKS])),
                  writable=False),
    # No DHCPv6 client runs, so no server ever gave a DUID: zeros, read-only.
    ParameterSpec(61, "DHCPv6 dynamic DUIDs", 0, fixed(bytes(16)), writable=False,
                  selector_limit=0, block_limit=DUID_BLOCKS - 1),
    # 0: DHCPv6 timing is not configurable, so parameter 63 is not supported (0x80).
    ParameterSpec(62, "DHCPv6 timing configuration support", 0, fixed(b"\x00"),
                  writable=False),
    ParameterSpec(64, "IPv6 router address configuration control", 1,
                  fixed(bytes([ROUTER_DYNAMIC])), _check_router_control),
    *_router(65, 1),
    *_router(69, 2),
    # No router advertisements are received: no dynamic router sets (74-77 unsupported).
    ParameterSpec(73, "IPv6 number of dynamic router info sets", 0, fixed(b"\x00"),
                  writable=False),
    ParameterSpec(78, "IPv6 dynamic router received hop limit", 0,
                  fixed(bytes([DEFAULT_HOP_LIMIT])), writable=False),
    # 0: ND/SLAAC timing is not configurable, so parameter 80 is not supported (0x80).
    ParameterSpec(79, "IPv6 ND/SLAAC timing configuration support", 0, fixed(b"\x00"),
                  writable=False),
)
