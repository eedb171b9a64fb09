"""What the fuzzer sends: byte mutations, request generators and the guard that keeps the BMC
usable for the legitimate clients while every command of the table is fuzzed.

Every generator takes a `random.Random`, so one seed gives one run, byte for byte.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass

from bench import ipmiclient as ic

INTERESTING = (0x00, 0x01, 0x02, 0x07, 0x0E, 0x0F, 0x10, 0x3F, 0x40, 0x7F, 0x80, 0xC0, 0xFE,
               0xFF)

# User IDs the harness logs in with (legit, fuzz, fuzzop, victim); user-management commands
# fuzzed in a session are steered to other IDs so they cannot lock the harness out.
PROTECTED_USER_IDS = frozenset({2, 3, 4, 5})
# LAN parameters that would take the BMC away from the clients: auth type enables, the IP
# address and its source (the BMC moves to a new address), cipher suite privileges, lockout.
PROTECTED_LAN_PARAMETERS = frozenset({2, 3, 4, 24, 26})
SAFE_LAN_PARAMETERS = (0, 1, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                       22, 23, 25, 27, 0x60, 0xC0, 0xFF)
LAN_CHANNELS = frozenset({0x01, 0x0E})


def mutate(rng: random.Random, data: bytes, rounds: int | None = None) -> bytes:
    """1-4 random edits: bit flips, interesting bytes, inserts, deletes, cuts, repeats."""
    out = bytearray(data)
    for _ in range(rounds or rng.randint(1, 4)):
        op = rng.randrange(8)
        if op == 0 and out:
            i = rng.randrange(len(out))
            out[i] ^= 1 << rng.randrange(8)
        elif op == 1 and out:
            out[rng.randrange(len(out))] = rng.choice(INTERESTING)
        elif op == 2 and out:
            out[rng.randrange(len(out))] = rng.randrange(256)
        elif op == 3:
            i = rng.randint(0, len(out))
            out[i:i] = rng.randbytes(rng.randint(1, 8))
        elif op == 4 and out:
            i = rng.randrange(len(out))
            del out[i:i + rng.randint(1, 8)]
        elif op == 5:
            del out[rng.randint(0, len(out)):]
        elif op == 6 and out:
            i = rng.randrange(len(out))
            out[i:i] = out[i:i + rng.randint(1, 16)] * rng.randint(1, 4)
        else:
            out += rng.randbytes(rng.randint(1, 32))
    return bytes(out[:1400])


def fuzz_bytes(rng: random.Random, low: int = 0, high: int = 40) -> bytes:
    """Short data, biased towards the values handlers branch on."""
    n = rng.randint(low, high)
    out = bytearray(rng.randbytes(n))
    for _ in range(rng.randint(0, (n + 1) // 2) if n else 0):
        out[rng.randrange(n)] = rng.choice(INTERESTING)
    return bytes(out)


@dataclass(frozen=True)
class CommandSpec:
    netfn: int
    cmd: int
    length: int | tuple[int, int] | None


def command_specs() -> list[CommandSpec]:
    """Every (netfn, cmd) the BMC's dispatcher knows, with its request length rule."""
    from pybmc.core.bmc import shared_dispatcher

    return [CommandSpec(c.netfn, c.cmd, c.length)
            for c in shared_dispatcher().commands.values()]


def request_data(rng: random.Random, spec: CommandSpec | None) -> bytes:
    """Data of a length the command accepts most of the time, of any length sometimes."""
    if spec is None or spec.length is None or rng.random() < 0.15:
        return fuzz_bytes(rng, 0, 48)
    if isinstance(spec.length, int):
        return fuzz_bytes(rng, spec.length, spec.length)
    low, high = spec.length
    return fuzz_bytes(rng, low, min(high, low + 40))


def guard(rng: random.Random, netfn: int, cmd: int, data: bytes, own_sid: int) -> bytes:
    """Steer the few requests that would lock the harness and its legitimate clients out
    (their users, the LAN channel's access and auth settings, other sessions) to harmless
    targets; everything else goes as generated."""
    out = bytearray(data)

    def steer_user(index: int) -> None:
        if len(out) > index and out[index] & 0x3F in PROTECTED_USER_IDS:
            out[index] = (out[index] & 0xC0) | rng.choice((0, 1, 6, 9, 15, 16, 17, 0x3F))

    if netfn == 0x06:
        if cmd in (0x45, 0x47):  # Set User Name / Password: user ID in byte 1
            steer_user(0)
        elif cmd in (0x43, 0x4C):  # Set User Access / Payload Access: user ID in byte 2
            steer_user(1)
        elif cmd == 0x40 and len(out) >= 3 and out[0] & 0x0F in LAN_CHANNELS:
            out[1] = (out[1] & 0xC0) | 0x02  # LAN stays "always available", auth on
            out[2] = (out[2] & 0xC0) | 0x04  # and its privilege limit administrator
        elif cmd == 0x3C and len(out) >= 4:  # Close Session: only our own, or nobody's
            out[0:4] = ic.le32(own_sid if rng.random() < 0.3 else rng.getrandbits(32) | 1)
            del out[4:]
    elif netfn == 0x0C and cmd == 0x01 and len(out) >= 2 and out[1] in PROTECTED_LAN_PARAMETERS:
        out[1] = rng.choice(SAFE_LAN_PARAMETERS)
    return bytes(out)


# ---------------------------------------------------------------------- session-less
GET_AUTH_CAPS_V15 = (0x06, 0x38, bytes([0x0E, 0x04]))
GET_AUTH_CAPS_V20 = (0x06, 0x38, bytes([0x8E, 0x04]))
GET_CIPHER_SUITES = (0x06, 0x54, bytes([0x0E, 0x00, 0x80]))


def sessionless_datagram(rng: random.Random, specs: list[CommandSpec]) -> bytes:
    """One session-less datagram: pings, auth caps, cipher suites, challenges, headers."""
    kind = rng.randrange(12)
    seq = rng.randrange(64)
    if kind == 0:
        return ic.ASF_PING if rng.random() < 0.5 else mutate(rng, ic.ASF_PING)
    if kind in (1, 2):
        netfn, cmd, data = rng.choice((GET_AUTH_CAPS_V15, GET_AUTH_CAPS_V20, GET_CIPHER_SUITES))
        if rng.random() < 0.5:
            data = mutate(rng, data)
        message = ic.ipmi_request(netfn, cmd, data, seq)
        return ic.v15_packet(message) if kind == 1 else ic.rmcpplus(ic.PT_IPMI, 0, 0, message)
    if kind == 3:  # Get Session Challenge with odd auth types and names
        data = bytes([rng.choice((0, 1, 2, 4, 5, 6, 0xFF))]) + fuzz_bytes(rng, 0, 20)
        return ic.v15_packet(ic.ipmi_request(0x06, 0x39, data, seq))
    if kind == 4:  # any command outside a session, both formats
        spec = rng.choice(specs)
        message = ic.ipmi_request(spec.netfn, spec.cmd, request_data(rng, spec), seq)
        if rng.random() < 0.5:
            return ic.v15_packet(message)
        return ic.rmcpplus(ic.PT_IPMI, 0, 0, message)
    if kind == 5:  # a valid envelope around a mutated IPMI message
        message = mutate(rng, ic.ipmi_request(0x06, 0x38, GET_AUTH_CAPS_V20[2], seq))
        return ic.v15_packet(message[:255]) if rng.random() < 0.5 else \
            ic.rmcpplus(ic.PT_IPMI, 0, 0, message)
    if kind == 6:  # RMCP header fields: version, sequence, class, ack bit
        head = bytes([rng.choice((6, 0, 7, 0xFF)), rng.randrange(256),
                      rng.choice((0xFF, 0, 1, rng.randrange(256))),
                      rng.choice((6, 7, 0x86, 0x87, 8, 0x1F, rng.randrange(256)))])
        return head + fuzz_bytes(rng, 0, 40)
    if kind == 7:  # IPMI 1.5 headers: auth types, sessions nobody has, lengths
        head = (bytes([rng.choice((0, 1, 2, 4, 5, 0x0F))]) + ic.le32(rng.getrandbits(32))
                + ic.le32(rng.choice((0, rng.getrandbits(32)))))
        return ic.RMCP_IPMI + head + fuzz_bytes(rng, 0, 60)
    if kind == 8:  # RMCP+ headers: payload types, flags, sessions, OEM, lengths
        flags = rng.choice((0, 0x40, 0x80, 0xC0))
        payload_type = rng.choice((0, 1, 2, 0x10, 0x12, 0x14, 0x20, 0x3F))
        body = fuzz_bytes(rng, 0, 60)
        packet = ic.rmcpplus(payload_type, rng.choice((0, rng.getrandbits(32))),
                             rng.getrandbits(32), body, flags)
        return mutate(rng, packet) if rng.random() < 0.4 else packet
    if kind == 9:  # a datagram cut anywhere
        message = ic.ipmi_request(0x06, 0x38, GET_AUTH_CAPS_V20[2], seq)
        packet = ic.rmcpplus(ic.PT_IPMI, 0, 0, message)
        return packet[:rng.randrange(len(packet))]
    if kind == 10:  # length fields that lie
        message = ic.ipmi_request(0x06, 0x38, GET_AUTH_CAPS_V15[2], seq)
        packet = bytearray(ic.v15_packet(message))
        packet[13] = rng.randrange(256)
        return bytes(packet)
    return rng.randbytes(rng.randint(0, 200))


# ---------------------------------------------------------------------- SOL
def sol_packet(rng: random.Random, bmc_seq: int, bmc_len: int) -> bytes:
    """A console SOL packet: seq/ack/count/control bits mostly plausible, sometimes not."""
    if rng.random() < 0.3 and bmc_seq:  # a proper acknowledgement of the BMC's packet
        accepted = bmc_len if rng.random() < 0.7 else rng.randrange(256)
        flags = 0x40 if rng.random() < 0.1 else 0
        return bytes([0, bmc_seq, accepted & 0xFF, flags])
    seq = rng.choice((0, rng.randint(1, 15), rng.randrange(256)))
    ack = rng.choice((0, bmc_seq, rng.randrange(256)))
    count = rng.randrange(256)
    flags = rng.choice((0, 0x08, 0x10, 0x20, 0x40, 0x01, 0x02, 0x04, rng.randrange(256)))
    data = fuzz_bytes(rng, 0, 40) if rng.random() < 0.9 else rng.randbytes(rng.randint(0, 300))
    packet = bytes([seq, ack, count, flags]) + data
    return packet if rng.random() < 0.85 else packet[:rng.randrange(5)]


def activate_sol_data(rng: random.Random) -> bytes:
    """Activate Payload (SOL, instance 1): encryption+authentication as the suite gives."""
    if rng.random() < 0.8:
        return bytes([0x01, 0x01, 0xC0, 0, 0, 0])
    return mutate(rng, bytes([0x01, 0x01, 0xC0, 0, 0, 0]))


def v15_activate_data(challenge: bytes, outbound: int, privilege: int = 4) -> bytes:
    return bytes([ic.AUTHTYPE_MD5, privilege]) + challenge + struct.pack("<I", outbound)
