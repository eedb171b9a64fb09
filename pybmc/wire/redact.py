"""Request and response bytes as log lines show them: hex, with password and key bytes redacted.

Every log line that prints IPMI request or response data goes through `redact_request` /
`redact_response` (and RMCP+ login payloads through `redact_payload`), so a debug log never
holds a password, a K_G key or an SNMP community string. `SECRET_REQUEST_FIELDS` and
`SECRET_RESPONSE_FIELDS` say, per (netfn, cmd), which bytes are secret; a command that wraps
another one (Send Message, Get Message) is redacted through the message it carries.
"""

from __future__ import annotations

from collections.abc import Callable

Spans = list[tuple[int, int]]  # [start, end) byte ranges of the data that are secret
# (data) -> spans for a request; (request data, response with completion code) -> spans.
RequestRule = Callable[[bytes], Spans]
ResponseRule = Callable[[bytes, bytes], Spans]

APP = 0x06
TRANSPORT = 0x0C
LAN_COMMUNITY_STRING = 16  # LAN configuration parameter 16, the SNMP trap community
SERIAL_COMMUNITY_STRING = 15  # Serial/Modem configuration parameter 15, the same for paging
IPMB_REQUEST_HEADER = 6  # rsSA, netfn/rsLUN, checksum, rqSA, rqSeq/rqLUN, cmd
IPMB_RESPONSE_HEADER = 5  # Get Message drops rqSA: netfn/rqLUN, checksum, rsSA, rqSeq, cmd


def _from(start: int) -> RequestRule:
    return lambda data: [(start, len(data))]


def _parameter_set(secret: int) -> RequestRule:
    # channel, parameter, value...
    return lambda data: [(2, len(data))] if len(data) > 1 and data[1] == secret else []


def _send_message(data: bytes) -> Spans:
    # channel, then an IPMB request whose own data is redacted by its own rule.
    if len(data) < 1 + IPMB_REQUEST_HEADER + 1:
        return []
    start = 1 + IPMB_REQUEST_HEADER
    inner = data[start:-1]
    return [(start + a, start + b) for a, b in request_spans(data[2] >> 2, data[start - 1],
                                                              inner)]


SECRET_REQUEST_FIELDS: dict[tuple[int, int], RequestRule] = {
    (APP, 0x47): _from(2),  # Set User Password: user id, operation, password
    (APP, 0x56): _from(3),  # Set Channel Security Keys: channel, operation, key id, key (K_G)
    (APP, 0x3A): lambda data: [(2, min(18, len(data)))],  # Activate Session: the challenge
    (APP, 0x34): _send_message,
    (TRANSPORT, 0x01): _parameter_set(LAN_COMMUNITY_STRING),  # Set LAN Configuration
    (TRANSPORT, 0x10): _parameter_set(SERIAL_COMMUNITY_STRING),  # Set Serial/Modem Config
}


def _get_parameter(secret: int) -> ResponseRule:
    # cc, revision, value...; without the request (a bridged reply) every value is hidden.
    def rule(request: bytes, response: bytes) -> Spans:
        if len(request) > 1 and request[1] != secret:
            return []
        return [(2, len(response))]
    return rule


def _get_message(request: bytes, response: bytes) -> Spans:
    # cc, channel, then a bridged response of a request we never saw: keep only its header.
    start = 2 + IPMB_RESPONSE_HEADER
    return [(start, len(response))] if len(response) > start else []


SECRET_RESPONSE_FIELDS: dict[tuple[int, int], ResponseRule] = {
    (APP, 0x56): lambda request, response: [(2, len(response))],  # cc, lock status, key
    (APP, 0x39): lambda request, response: [(5, min(21, len(response)))],  # the challenge
    (APP, 0x33): _get_message,
    (TRANSPORT, 0x02): _get_parameter(LAN_COMMUNITY_STRING),  # Get LAN Configuration
    (TRANSPORT, 0x11): _get_parameter(SERIAL_COMMUNITY_STRING),  # Get Serial/Modem Config
}

# RMCP+ login messages (payload types 0x12-0x15): after tag, status/reserved and session ID,
# the random numbers and the password-keyed HMACs that offline guessing would start from.
RAKP_SECRET_FROM = {0x12: 8, 0x13: 8, 0x14: 8, 0x15: 8}


def request_spans(netfn: int, cmd: int, data: bytes) -> Spans:
    rule = SECRET_REQUEST_FIELDS.get((netfn & ~1, cmd))
    return _clip(rule(data), len(data)) if rule is not None else []


def response_spans(netfn: int, cmd: int, request: bytes, response: bytes) -> Spans:
    rule = SECRET_RESPONSE_FIELDS.get((netfn & ~1, cmd))
    return _clip(rule(request, response), len(response)) if rule is not None else []


def redact_request(netfn: int, cmd: int, data: bytes, start: int = 0) -> str:
    """`data[start:]` (of a request's data, after the command byte) as hex, its secrets
    redacted; `start` shows just a part (the value of a Set LAN Configuration Parameters)."""
    spans = [(a - start, b - start) for a, b in request_spans(netfn, cmd, data)]
    return render(data[start:], _clip(spans, len(data) - start))


def redact_response(netfn: int, cmd: int, request: bytes, response: bytes) -> str:
    """`response` (completion code + data) as hex, its secrets redacted; `request` is the
    request's data (some responses are secret only for some requests)."""
    return render(response, response_spans(netfn, cmd, request, response))


def redact_payload(payload_type: int, data: bytes) -> str:
    """An RMCP+ payload as hex; a RAKP message's randoms and auth codes redacted."""
    start = RAKP_SECRET_FROM.get(payload_type)
    return render(data, [] if start is None else _clip([(start, len(data))], len(data)))


def redact_ipmi15_packet(packet: bytes) -> str:
    """An RMCP datagram carrying an IPMI 1.5 session (class 7): its 16-byte auth code (the
    password itself for the "straight password" type) and its message's secrets redacted."""
    if len(packet) < 14 or packet[3] != 0x07 or (packet[4] & 0x3F) == 0x06:
        return packet.hex()
    spans: Spans = []
    header = 14
    if packet[4] & 0x0F:  # any auth type but none carries an auth code
        spans.append((13, 29))
        header = 30
    # header ends with the message length; the message is rsSA, netfn, chk, rqSA, seq, cmd...
    body = header + IPMB_REQUEST_HEADER
    if len(packet) > body:
        inner = packet[body:-1]
        spans += [(body + a, body + b) for a, b in
                  request_spans(packet[header + 1] >> 2, packet[body - 1], inner)]
    return render(packet, _clip(spans, len(packet)))


def _clip(spans: Spans, size: int) -> Spans:
    return [(max(0, a), min(b, size)) for a, b in spans if min(b, size) > max(0, a)]


def render(data: bytes, spans: Spans) -> str:
    """Hex of `data` with each span replaced by `<N bytes redacted>`."""
    out: list[str] = []
    position = 0
    for start, end in sorted(spans):
        if start < position:
            start = position
        if end <= start:
            continue
        out.append(data[position:start].hex())
        out.append(f"<{end - start} bytes redacted>")
        position = end
    out.append(data[position:].hex())
    return "".join(out)
