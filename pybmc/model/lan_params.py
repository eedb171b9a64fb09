"""The tables of LAN and SOL configuration parameters (IPMI 2.0 §23.1-23.2 and §26.2-26.3).

Every value a client sets is kept raw, byte for byte, in `state.lan` or `state.sol`
(keys like "3", or "19.1" for destination 1 of a parameter with a set selector), so it reads
back at once exactly as written and survives a restart. A parameter nobody has set reads as
its default, computed from the config each time.

The rest of pybmc reads these values through `pybmc.model.lan.Lan`, which also keeps what
lives in memory only (the set-in-progress locks, the statistics, the address listeners).
"""

from __future__ import annotations

import hashlib
import ipaddress

from pybmc.model.lan6_params import IPV6_PARAMETERS
from pybmc.model.lockout import config_policy
from pybmc.model.param_table import (  # noqa: F401 (the names the rest of pybmc imports here)
    CC_PARAMETER_NOT_SUPPORTED,
    CC_READ_ONLY,
    CC_SET_IN_PROGRESS_HELD,
    COMMIT_WRITE,
    SET_COMPLETE,
    SET_IN_PROGRESS,
    Default,
    Lan,
    ParameterError,
    ParameterFamily,
    ParameterSpec,
    SetLock,
)
from pybmc.model.param_table import fixed as _fixed
from pybmc.wire.codes import LAN_CHANNEL, Privilege

PARAMETER_REVISION = 0x11  # present revision 1, oldest revision 1 (both LAN and SOL)

NUM_ALERT_DESTINATIONS = 4  # non-volatile LAN alert destinations 1..4; 0 is the volatile one
SECONDARY_RMCP_PORT = 664  # the RMCP "secure" port number the spec assigns
MAX_CIPHER_SUITE_ENTRIES = 16  # parameter 24 has one nibble for each of 16 entries
# Parameter 23 lists suite IDs 0-15 in ID order, enabled or not, as many server BMCs do: entry
# n is suite n, so parameter 24 reads the same per entry (the spec) and per suite ID
# (FreeIPMI's bmc-config). Suites 16 and 17 do not fit the 16 entries; Get Channel Cipher
# Suites, which clients negotiate with, lists exactly the enabled suites (docs/ipmi.md).
LISTED_CIPHER_SUITES = tuple(range(MAX_CIPHER_SUITE_ENTRIES))

# A set-in-progress lock nobody released for this long was abandoned by a dead client.
SET_IN_PROGRESS_TIMEOUT = 60.0

IP_SOURCES = {0: "unspecified", 1: "static", 2: "dhcp", 3: "bios", 4: "other"}
SOL_BIT_RATES = {0: 0, 6: 9600, 7: 19200, 8: 38400, 9: 57600, 10: 115200}  # 0 = serial's own

# SOL defaults, as a typical server ships them. Encryption is not forced so that every
# enabled cipher suite can carry SOL; clients that want it forced say so (`sol set`).
SOL_DEFAULT_AUTHENTICATION = 0x02  # force neither, user privilege
SOL_DEFAULT_ACCUMULATE_INTERVAL = 12  # x 5 ms = 60 ms
SOL_DEFAULT_SEND_THRESHOLD = 96  # characters
SOL_DEFAULT_RETRY_COUNT = 7
SOL_DEFAULT_RETRY_INTERVAL = 50  # x 10 ms = 500 ms
SOL_DEFAULT_BIT_RATE = 10  # 115.2 kbps


# --------------------------------------------------------------------------- byte helpers
def ipv4_bytes(text: str) -> bytes:
    return ipaddress.IPv4Address(text).packed


def mac_bytes(text: str) -> bytes:
    return bytes(int(part, 16) for part in text.split(":"))


def mac_text(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def derived_mac(name: str) -> bytes:
    """A stable, locally administered, unicast MAC for a BMC that the config gives none."""
    digest = bytearray(hashlib.sha256(f"pybmc-lan-mac:{name}".encode()).digest()[:6])
    digest[0] = (digest[0] & 0xFC) | 0x02  # bit 1: locally administered; bit 0 clear: unicast
    return bytes(digest)


def is_contiguous_netmask(raw: bytes) -> bool:
    value = int.from_bytes(raw, "big")
    inverted = ~value & 0xFFFFFFFF
    return inverted & (inverted + 1) == 0  # ones, then only zeros


# --------------------------------------------------------------------------- LAN defaults
def auth_type_support(lan: Lan) -> int:
    """Auth types the BMC offers at all: the config's list (so "none" only when configured)."""
    bits = {"none": 0x01, "md2": 0x02, "md5": 0x04, "password": 0x10}
    mask = 0
    for name in lan.config.security.auth_types:
        mask |= bits[name]
    return mask


def _default_auth_enables(lan: Lan, _selector: int) -> bytes:
    # One byte per privilege (callback, user, operator, admin, OEM), all as supported; this
    # matches Lan.auth_types_enabled's fallback when parameter 2 was never set.
    return bytes([auth_type_support(lan)] * 5)


def _default_ip(lan: Lan, _selector: int) -> bytes:
    return ipv4_bytes(lan.config.lan_settings.ip_address)


def _default_ip_source(lan: Lan, _selector: int) -> bytes:
    return bytes([2 if lan.config.lan_settings.ip_source == "dhcp" else 1])


def _default_mac(lan: Lan, _selector: int) -> bytes:
    configured = lan.config.lan_settings.mac
    return mac_bytes(configured) if configured else derived_mac(lan.name)


def _default_netmask(lan: Lan, _selector: int) -> bytes:
    return ipv4_bytes(lan.config.lan_settings.netmask)


def _default_gateway(lan: Lan, _selector: int) -> bytes:
    return ipv4_bytes(lan.config.lan_settings.gateway)


def _default_gateway_mac(lan: Lan, _selector: int) -> bytes:
    return mac_bytes(lan.config.lan_settings.gateway_mac)


def _default_primary_port(lan: Lan, _selector: int) -> bytes:
    return lan.config.port.to_bytes(2, "little")


def _default_vlan(lan: Lan, _selector: int) -> bytes:
    vlan = lan.config.lan_settings.vlan
    return bytes([vlan & 0xFF, 0x80 | (vlan >> 8)]) if vlan else b"\x00\x00"


def _cipher_suite_count(_lan: Lan, _selector: int) -> bytes:
    return bytes([len(LISTED_CIPHER_SUITES)])


def _cipher_suite_entries(_lan: Lan, _selector: int) -> bytes:
    return b"\x00" + bytes(LISTED_CIPHER_SUITES)


def _default_cipher_privileges(lan: Lan, _selector: int) -> bytes:
    """Administrator for each suite the config enables, "unused" (0) for the others; the
    nibble of suite n is nibble n (entry n of parameter 23), suite 0 in byte 2's low nibble."""
    levels = bytearray(9)
    for suite in lan.cipher_suites():
        if suite in LISTED_CIPHER_SUITES:
            levels[1 + suite // 2] |= int(Privilege.ADMINISTRATOR) << (4 * (suite % 2))
    return bytes(levels)


def _destination_default(body: bytes) -> Default:
    return lambda _lan, selector: bytes([selector]) + body


# --------------------------------------------------------------------------- LAN checks
def _check_auth_enables(lan: Lan, data: bytes) -> str | None:
    extra = 0
    for byte in data:
        extra |= byte & ~auth_type_support(lan) & 0xFF
    return f"auth type bits {extra:#04x} are not supported" if extra else None


def _check_ip_source(_lan: Lan, data: bytes) -> str | None:
    return None if data[0] in IP_SOURCES else f"IP address source {data[0]} is not 0..4"


def _check_mac(_lan: Lan, data: bytes) -> str | None:
    return "a multicast MAC address" if data[0] & 0x01 else None


def _check_netmask(_lan: Lan, data: bytes) -> str | None:
    return None if is_contiguous_netmask(data) else f"{data.hex()} is not a netmask"


def _check_arp_control(_lan: Lan, data: bytes) -> str | None:
    return "reserved bits set" if data[0] & 0xFC else None


def _check_destination_type(_lan: Lan, data: bytes) -> str | None:
    if data[1] & 0x78 or data[3] & 0xF8:
        return "reserved bits set"
    return None if data[1] & 0x07 in (0, 6, 7) else f"destination type {data[1] & 7} is reserved"


def _check_destination_address(_lan: Lan, data: bytes) -> str | None:
    if data[1] >> 4 != 0:
        return f"address format {data[1] >> 4} is not IPv4 (0)"
    return "reserved bits set" if data[1] & 0x0F or data[2] & 0xFE else None


def _check_vlan(_lan: Lan, data: bytes) -> str | None:
    value = int.from_bytes(data, "little")
    if value & 0x7000:
        return "reserved bits set"
    vlan_id = value & 0x0FFF
    if value & 0x8000 and not 1 <= vlan_id <= 4094:
        return f"VLAN ID {vlan_id} cannot be enabled"
    return None


def _check_vlan_priority(_lan: Lan, data: bytes) -> str | None:
    return None if data[0] <= 7 else f"VLAN priority {data[0]} is not 0..7"


def _check_cipher_privileges(_lan: Lan, data: bytes) -> str | None:
    for byte in data[1:]:
        for nibble in (byte & 0x0F, byte >> 4):
            if nibble > int(Privilege.OEM):
                return f"privilege level {nibble} is reserved"
    return None


def _check_destination_vlan(_lan: Lan, data: bytes) -> str | None:
    if data[1] >> 4 not in (0, 1):
        return f"address format {data[1] >> 4} is not 0 or 1"
    return "reserved bits set" if data[1] & 0x0F else None


def _default_bad_password(lan: Lan, _selector: int) -> bytes:
    # The config's lockout keys, for clients to read, until one sets the parameter.
    return config_policy(lan.config.security).encode()


def _check_bad_password(_lan: Lan, data: bytes) -> str | None:
    return "reserved bits set" if data[0] & 0xFE else None


LAN_PARAMETERS = ParameterFamily("LAN", [
    ParameterSpec(1, "authentication type support", 0,
                  lambda lan, _s: bytes([auth_type_support(lan)]), writable=False),
    ParameterSpec(2, "authentication type enables", 5, _default_auth_enables,
                  _check_auth_enables),
    ParameterSpec(3, "IP address", 4, _default_ip),
    ParameterSpec(4, "IP address source", 1, _default_ip_source, _check_ip_source),
    ParameterSpec(5, "MAC address", 6, _default_mac, _check_mac),
    ParameterSpec(6, "subnet mask", 4, _default_netmask, _check_netmask),
    # TTL 64, "don't fragment", precedence 0 / TOS "minimize delay": the spec's defaults.
    ParameterSpec(7, "IPv4 header parameters", 3, _fixed(b"\x40\x40\x10")),
    # The ports pybmc listens on are the config's business, not a client's.
    ParameterSpec(8, "primary RMCP port", 0, _default_primary_port, writable=False),
    ParameterSpec(9, "secondary RMCP port", 0,
                  _fixed(SECONDARY_RMCP_PORT.to_bytes(2, "little")), writable=False),
    ParameterSpec(10, "BMC-generated ARP control", 1, _fixed(b"\x02"), _check_arp_control),
    ParameterSpec(11, "gratuitous ARP interval", 1, _fixed(b"\x04")),  # x 500 ms
    ParameterSpec(12, "default gateway address", 4, _default_gateway),
    ParameterSpec(13, "default gateway MAC address", 6, _default_gateway_mac),
    ParameterSpec(14, "backup gateway address", 4, _fixed(bytes(4))),
    ParameterSpec(15, "backup gateway MAC address", 6, _fixed(bytes(6))),
    ParameterSpec(16, "community string", 18, _fixed(b"public".ljust(18, b"\x00"))),
    ParameterSpec(17, "number of destinations", 0, _fixed(bytes([NUM_ALERT_DESTINATIONS])),
                  writable=False),
    ParameterSpec(18, "destination type", 4, _destination_default(b"\x00\x00\x00"),
                  _check_destination_type, selector_limit=NUM_ALERT_DESTINATIONS),
    ParameterSpec(19, "destination addresses", 13, _destination_default(bytes(12)),
                  _check_destination_address, selector_limit=NUM_ALERT_DESTINATIONS),
    ParameterSpec(20, "802.1q VLAN ID", 2, _default_vlan, _check_vlan),
    ParameterSpec(21, "802.1q VLAN priority", 1, _fixed(b"\x00"), _check_vlan_priority),
    ParameterSpec(22, "cipher suite entry support", 0, _cipher_suite_count, writable=False),
    ParameterSpec(23, "cipher suite entries", 0, _cipher_suite_entries, writable=False),
    ParameterSpec(24, "cipher suite privilege levels", 9, _default_cipher_privileges,
                  _check_cipher_privileges),
    ParameterSpec(25, "destination address VLAN TAGs", 4, _destination_default(bytes(3)),
                  _check_destination_vlan, selector_limit=NUM_ALERT_DESTINATIONS),
    ParameterSpec(26, "bad password threshold", 6, _default_bad_password, _check_bad_password),
    *IPV6_PARAMETERS,
], lambda lan: lan.state.lan)

ADDRESS_PARAMETERS = frozenset({3, 4, 6, 12})  # what lan_address() reports


# --------------------------------------------------------------------------- SOL
def _check_sol_enable(_lan: Lan, data: bytes) -> str | None:
    return "reserved bits set" if data[0] & 0xFE else None


def _check_sol_authentication(_lan: Lan, data: bytes) -> str | None:
    if data[0] & 0x30:
        return "reserved bits set"
    level = data[0] & 0x0F
    if not Privilege.USER <= level <= Privilege.OEM:
        return f"privilege level {level} is not 2..5"
    return None


def _check_sol_intervals(_lan: Lan, data: bytes) -> str | None:
    return "the character accumulate interval is 1-based" if data[0] == 0 else None


def _check_sol_retry(_lan: Lan, data: bytes) -> str | None:
    return f"retry count {data[0]} is not 0..7" if data[0] > 7 else None


def _check_bit_rate(_lan: Lan, data: bytes) -> str | None:
    return None if data[0] in SOL_BIT_RATES else f"bit rate code {data[0]:#04x} is reserved"


SOL_PARAMETERS = ParameterFamily("SOL", [
    ParameterSpec(1, "SOL enable", 1,
                  lambda lan, _s: bytes([1 if lan.config.sol.enabled else 0]),
                  _check_sol_enable),
    ParameterSpec(2, "SOL authentication", 1, _fixed(bytes([SOL_DEFAULT_AUTHENTICATION])),
                  _check_sol_authentication),
    ParameterSpec(3, "character accumulate interval and send threshold", 2,
                  _fixed(bytes([SOL_DEFAULT_ACCUMULATE_INTERVAL, SOL_DEFAULT_SEND_THRESHOLD])),
                  _check_sol_intervals),
    ParameterSpec(4, "SOL retry", 2,
                  _fixed(bytes([SOL_DEFAULT_RETRY_COUNT, SOL_DEFAULT_RETRY_INTERVAL])),
                  _check_sol_retry),
    ParameterSpec(5, "SOL non-volatile bit rate", 1, _fixed(bytes([SOL_DEFAULT_BIT_RATE])),
                  _check_bit_rate),
    # Stored like everything else: pybmc promises that what a client sets survives a restart.
    ParameterSpec(6, "SOL volatile bit rate", 1,
                  lambda lan, _s: SOL_PARAMETERS.get(lan, 5), _check_bit_rate),
    ParameterSpec(7, "SOL payload channel", 0, _fixed(bytes([LAN_CHANNEL])), writable=False),
    ParameterSpec(8, "SOL payload port number", 0,
                  lambda lan, _s: lan.config.port.to_bytes(2, "little"), writable=False),
], lambda lan: lan.state.sol)
