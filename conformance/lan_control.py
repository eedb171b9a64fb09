"""ipmi_sim's `lan_config_program` for the conformance runs (openipmi.md §8).

Without one, ipmi_sim's IP address, MAC and gateway parameters read as zeros while pybmc reports
its configured address; with this one both start from the same profile values. Values live in a
JSON file that refsim.py seeds.

    lan_control.py STATE get ip_addr subnet_mask ...    prints one `parm:value` line each
    lan_control.py STATE set ip_addr "10.0.0.2" ...     stores the values
    lan_control.py STATE check ip_addr_src "static"     exit 0 when acceptable
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

SOURCES = ("unknown", "static", "dhcp", "bios", "other")


def load(path: str) -> dict[str, str]:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


def save(path: str, state: dict[str, str]) -> None:
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(state, handle)
    os.replace(tmp, path)


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        return 2
    path, verb, rest = argv[0], argv[1], argv[2:]
    state = load(path)
    if verb == "get":
        for name in rest:
            if name not in state:
                return 1
            print(f"{name}:{state[name]}")
        return 0
    if len(rest) % 2:
        return 1
    pairs = list(zip(rest[::2], rest[1::2], strict=True))
    if verb == "check":
        return 0 if all(n != "ip_addr_src" or v in SOURCES for n, v in pairs) else 1
    if verb != "set":
        return 1
    state.update(pairs)
    save(path, state)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
