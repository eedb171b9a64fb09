"""The Serial/Modem configuration parameters of the serial channel (IPMI 2.0 §25, table 25-4).

A server BMC has a serial/modem channel beside its LAN channel (pybmc: channel 2, medium
RS-232) and FreeIPMI's bmc-config reads and writes its settings (section Serial_Conf). pybmc
keeps them as it keeps the LAN parameters: raw, byte for byte, in `state.serial`, read back
at once and across restarts, defaults computed when nobody set one. Nothing is dialled and no
IPMI message arrives over the serial port: the guest's serial console is SOL's (the settings
are stored, not acted on), which is why the channel's access mode defaults to "disabled".

Supported: 0 (set in progress), 1-4, 6, 7, 9, 14-16, 18, 20, 22 and 29; the paging, dial,
TAP and PPP parameters answer 80h (parameter not supported), as the spec allows.
"""

from __future__ import annotations

from pybmc.model.lan_params import auth_type_support
from pybmc.model.param_table import Lan, ParameterFamily, ParameterSpec, fixed

# Parameter 3: connection mode.
BASIC_MODE, PPP_MODE, TERMINAL_MODE = 0x01, 0x02, 0x04
DIRECT_CONNECT = 0x80  # bit 7: 1 direct connect, 0 modem connect
DEFAULT_CONNECTION_MODE = BASIC_MODE | DIRECT_CONNECT
# Parameter 7: IPMI messaging comm settings; byte 1 [7:6] flow control, [5] DTR hang-up.
FLOW_CONTROLS = {0: "none", 1: "RTS/CTS", 2: "XON/XOFF"}
BIT_RATES = {6: 9600, 7: 19200, 8: 38400, 9: 57600, 10: 115200}
DEFAULT_BIT_RATE = 10  # 115.2 kbps, like the SOL default
NUM_ALERT_DESTINATIONS = 0  # parameter 16: no serial/modem paging destinations
NUM_DIAL_STRINGS = 0
NUM_ALERT_IP_ADDRESSES = 0


def _default_auth_enables(lan: Lan, _selector: int) -> bytes:
    return bytes([auth_type_support(lan)] * 5)


def _check_auth_enables(lan: Lan, data: bytes) -> str | None:
    extra = 0
    for byte in data:
        extra |= byte & ~auth_type_support(lan) & 0xFF
    return f"auth type bits {extra:#04x} are not supported" if extra else None


def _check_connection_mode(_lan: Lan, data: bytes) -> str | None:
    return "reserved bits set" if data[0] & 0x78 else None


def _check_inactivity_timeout(_lan: Lan, data: bytes) -> str | None:
    return "reserved bits set" if data[0] & 0xF0 else None


def _check_session_termination(_lan: Lan, data: bytes) -> str | None:
    return "reserved bits set" if data[0] & 0xFC else None


def _check_comm_settings(_lan: Lan, data: bytes) -> str | None:
    if data[0] & 0x1F or data[1] & 0xF0:
        return "reserved bits set"
    if data[0] >> 6 not in FLOW_CONTROLS:
        return f"flow control {data[0] >> 6} is reserved"
    rate = data[1] & 0x0F
    return None if rate in BIT_RATES else f"bit rate code {rate:#04x} is reserved"


def _check_ring_time(_lan: Lan, data: bytes) -> str | None:
    return "reserved bits set" if data[0] & 0xC0 or data[1] & 0xF0 else None


def _check_terminal_mode(_lan: Lan, data: bytes) -> str | None:
    if data[0] & 0xD0:
        return "reserved bits set"
    if data[1] >> 4 > 5 or data[1] & 0x0F not in (1, 2):
        return "reserved newline sequence"
    return None


SERIAL_PARAMETERS = ParameterFamily("SERIAL", [
    ParameterSpec(1, "authentication type support", 0,
                  lambda lan, _s: bytes([auth_type_support(lan)]), writable=False),
    ParameterSpec(2, "authentication type enables", 5, _default_auth_enables,
                  _check_auth_enables),
    ParameterSpec(3, "connection mode", 1, fixed(bytes([DEFAULT_CONNECTION_MODE])),
                  _check_connection_mode),
    # [3:0] x 30 s; 0: no inactivity timeout (a direct connection stays up).
    ParameterSpec(4, "session inactivity timeout", 1, fixed(b"\x00"),
                  _check_inactivity_timeout),
    # [1] close on loss of DCD, [0] inactivity timeout enabled.
    ParameterSpec(6, "session termination", 1, fixed(b"\x02"), _check_session_termination),
    ParameterSpec(7, "IPMI messaging comm settings", 2,
                  fixed(bytes([0x00, DEFAULT_BIT_RATE])), _check_comm_settings),
    # Ring duration [5:0] and ring dead time [3:0], both x 500 ms.
    ParameterSpec(9, "modem ring time", 2, fixed(b"\x3f\x08"), _check_ring_time),
    ParameterSpec(14, "page blackout interval", 1, fixed(b"\x00")),  # minutes
    ParameterSpec(15, "community string", 18, fixed(b"public".ljust(18, b"\x00"))),
    ParameterSpec(16, "number of alert destinations", 0,
                  fixed(bytes([NUM_ALERT_DESTINATIONS])), writable=False),
    ParameterSpec(18, "call retry interval", 1, fixed(b"\x00")),  # seconds
    ParameterSpec(20, "number of dial strings", 0, fixed(bytes([NUM_DIAL_STRINGS])),
                  writable=False),
    ParameterSpec(22, "number of alert destination IP addresses", 0,
                  fixed(bytes([NUM_ALERT_IP_ADDRESSES])), writable=False),
    # Line editing and echo on, backspace-space-backspace delete, CR-LF out, CR in.
    ParameterSpec(29, "terminal mode configuration", 2, fixed(b"\x26\x11"),
                  _check_terminal_mode),
], lambda lan: lan.state.serial)
