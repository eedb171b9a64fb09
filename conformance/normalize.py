"""Make two servers' client outputs comparable: remove what legitimately differs per run.

What is replaced, and why:
- the server's own address (the two servers listen on different loopback addresses);
- dates and times (SEL/SDR timestamps, clocks: ipmi_sim's SEL clock starts at 1970);
- session IDs, handles and counts (other scenarios run in parallel and hold sessions);
- client-side temporary file names and Python object addresses.
Everything else, including completion-code messages, is compared as printed.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Normaliser = Callable[[str], str]

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b\d{1,2}/\d{1,2}/\d{2,4}\b"), "<DATE>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}\b"), "<DATE>"),
    # Not inside a MAC address (52:54:00:...): no ':' or hex digit on either side.
    (re.compile(r"(?<![:0-9a-fA-F])\d{1,2}:\d{2}:\d{2}(\.\d+)?(?![:0-9a-fA-F])"), "<TIME>"),
    # ipmitool prints a SEL time before the clock was set as "Pre-Init  |0000001148|".
    (re.compile(r"Pre-Init\s*\|\s*\d+\s*\|"), "<DATE> | <TIME> |"),
    # ipmitool probes PICMG HPM.x capabilities after logging in below ADMINISTRATOR and prints
    # the completion code; that probe is the client's business, not the scenario's.
    (re.compile(r"(?m)^Get HPM\.x Capabilities request failed.*\n?"), ""),
    (re.compile(r"(?im)^(\s*active session count\s*:\s*)\d+"), r"\g<1><N>"),
    (re.compile(r"(?im)^(\s*(session handle|session id|console port|console ip|"
                r"session sequence number|active sessions?)\s*:\s*).*$"), r"\g<1><SESSION>"),
    (re.compile(r'(?m)("active_session_count":\s*)\d+'), r"\g<1><N>"),
    (re.compile(r"0x[0-9a-f]{6,}\b"), "<ADDR>"),
    # Table columns padded to the longest name: the other server may list longer names.
    (re.compile(r"[ \t]*\|[ \t]*"), " | "),
    (re.compile(r"[ \t]+$", re.MULTILINE), ""),
)


def normalise(text: str, address: str) -> str:
    text = text.replace(address, "<BMC>")
    # The address as raw bytes too (LAN parameter 3 in an `ipmitool raw` dump).
    text = re.sub(r"\b" + " ".join(f"{int(o):02x}" for o in address.split(".")) + r"\b",
                  "<BMC>", text)
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text.strip("\n")


# ---------------------------------------------------------------------- per-scenario helpers
def drop_lines(*patterns: str) -> Normaliser:
    """Remove lines matching any of the regular expressions (output a scenario does not judge)."""
    compiled = [re.compile(p) for p in patterns]

    def apply(text: str) -> str:
        return "\n".join(line for line in text.splitlines()
                         if not any(p.search(line) for p in compiled))
    return apply


def keep_lines(*patterns: str) -> Normaliser:
    """Keep only lines matching one of the regular expressions (the part a scenario judges)."""
    compiled = [re.compile(p) for p in patterns]

    def apply(text: str) -> str:
        return "\n".join(line for line in text.splitlines()
                         if any(p.search(line) for p in compiled))
    return apply


def first_bytes(count: int) -> Normaliser:
    """Only the first `count` bytes of an `ipmitool raw` hex dump (the rest is free-form)."""
    def apply(text: str) -> str:
        tokens = text.split()
        if tokens and all(re.fullmatch(r"[0-9a-f]{2}", t) for t in tokens):
            return " ".join(tokens[:count])
        return text
    return apply
