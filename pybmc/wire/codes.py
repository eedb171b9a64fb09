"""Numbers from the IPMI 2.0 specification that every layer shares."""

from __future__ import annotations

from enum import IntEnum


class NetFn(IntEnum):
    """Request network functions (responses use the value + 1)."""

    CHASSIS = 0x00
    BRIDGE = 0x02
    SENSOR_EVENT = 0x04
    APP = 0x06
    FIRMWARE = 0x08
    STORAGE = 0x0A
    TRANSPORT = 0x0C
    GROUP_EXTENSION = 0x2C
    OEM_GROUP = 0x2E


class Cc(IntEnum):
    """Completion codes (IPMI 2.0 table 5-2)."""

    OK = 0x00
    NODE_BUSY = 0xC0
    INVALID_COMMAND = 0xC1
    INVALID_FOR_LUN = 0xC2
    TIMEOUT = 0xC3
    OUT_OF_SPACE = 0xC4
    RESERVATION_CANCELLED = 0xC5
    REQUEST_DATA_TRUNCATED = 0xC6
    REQUEST_DATA_LENGTH_INVALID = 0xC7
    REQUEST_DATA_FIELD_LENGTH_EXCEEDED = 0xC8
    PARAMETER_OUT_OF_RANGE = 0xC9
    CANNOT_RETURN_REQUESTED_BYTES = 0xCA
    NOT_PRESENT = 0xCB
    INVALID_DATA_FIELD = 0xCC
    ILLEGAL_FOR_SENSOR = 0xCD
    RESPONSE_NOT_PROVIDED = 0xCE
    DUPLICATE_REQUEST = 0xCF
    SDR_IN_UPDATE_MODE = 0xD0
    FIRMWARE_IN_UPDATE_MODE = 0xD1
    INITIALIZATION_IN_PROGRESS = 0xD2
    DESTINATION_UNAVAILABLE = 0xD3
    INSUFFICIENT_PRIVILEGE = 0xD4
    NOT_SUPPORTED_IN_PRESENT_STATE = 0xD5
    PARAMETER_ILLEGAL = 0xD6
    UNSPECIFIED = 0xFF


class Privilege(IntEnum):
    """Privilege levels. NONE marks commands that need no session at all."""

    NONE = 0
    CALLBACK = 1
    USER = 2
    OPERATOR = 3
    ADMINISTRATOR = 4
    OEM = 5
    NO_ACCESS = 0x0F

    @classmethod
    def from_name(cls, name: str) -> Privilege:
        return cls[name.strip().upper()]


class AuthType(IntEnum):
    """IPMI 1.5 session authentication types, and the RMCP+ marker."""

    NONE = 0
    MD2 = 1
    MD5 = 2
    PASSWORD = 4
    OEM = 5
    RMCPPLUS = 6


class PayloadType(IntEnum):
    """RMCP+ payload types (IPMI 2.0 table 13-16)."""

    IPMI = 0x00
    SOL = 0x01
    OEM_EXPLICIT = 0x02
    OPEN_SESSION_REQUEST = 0x10
    OPEN_SESSION_RESPONSE = 0x11
    RAKP1 = 0x12
    RAKP2 = 0x13
    RAKP3 = 0x14
    RAKP4 = 0x15


class RmcpStatus(IntEnum):
    """RMCP+ and RAKP message status codes (IPMI 2.0 table 13-15)."""

    NO_ERRORS = 0x00
    INSUFFICIENT_RESOURCES = 0x01
    INVALID_SESSION_ID = 0x02
    INVALID_PAYLOAD_TYPE = 0x03
    INVALID_AUTHENTICATION_ALGORITHM = 0x04
    INVALID_INTEGRITY_ALGORITHM = 0x05
    NO_MATCHING_AUTHENTICATION_PAYLOAD = 0x06
    NO_MATCHING_INTEGRITY_PAYLOAD = 0x07
    INACTIVE_SESSION_ID = 0x08
    INVALID_ROLE = 0x09
    UNAUTHORIZED_ROLE = 0x0A
    INSUFFICIENT_RESOURCES_FOR_ROLE = 0x0B
    INVALID_NAME_LENGTH = 0x0C
    UNAUTHORIZED_NAME = 0x0D
    UNAUTHORIZED_GUID = 0x0E
    INVALID_INTEGRITY_CHECK_VALUE = 0x0F
    INVALID_CONFIDENTIALITY_ALGORITHM = 0x10
    NO_CIPHER_SUITE_MATCH = 0x11
    ILLEGAL_PARAMETER = 0x12


# The LAN channel every BMC serves, and the system interface channel the guest uses in-band.
LAN_CHANNEL = 1
SERIAL_CHANNEL = 2  # RS-232 serial/modem: settings stored, no IPMI messaging over it
SYSTEM_INTERFACE_CHANNEL = 0x0F
# "This channel": channel 0x0E in a request means the channel the request arrived on.
CURRENT_CHANNEL = 0x0E

BMC_SLAVE_ADDRESS = 0x20
