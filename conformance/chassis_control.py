"""ipmi_sim's `chassis_control` program for the conformance runs (openipmi.md §6.4).

Without one, ipmi_sim answers Chassis Control and boot-device options with 0xCC, which would make
every power and boot comparison a foregone difference. This keeps a simulated machine's power
state and boot device in a small JSON file, as pybmc's simulated backend keeps them in memory.

    chassis_control.py STATE get power [boot]          prints power:<0|1> / boot:<device>
    chassis_control.py STATE set power "1" [boot "pxe" ...]
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

DEVICES = ("none", "pxe", "default", "cdrom", "bios")


def load(path: str) -> dict[str, object]:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {"power": 0, "boot": "none"}


def save(path: str, state: dict[str, object]) -> None:
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(state, handle)
    os.replace(tmp, path)


def get(state: dict[str, object], names: list[str]) -> int:
    for name in names:
        if name not in ("power", "boot"):
            return 1
        print(f"{name}:{state[name]}")
    return 0


def apply(state: dict[str, object], name: str, value: str) -> bool:
    """One `set` pair; False for anything this machine cannot do."""
    if name == "power":
        state["power"] = 1 if value.strip() == "1" else 0
    elif name == "shutdown":
        state["power"] = 0  # a guest that obeys the soft-off request at once
    elif name == "reset":
        pass  # the machine stays on; nothing to remember
    elif name == "boot":
        if value not in DEVICES:
            return False
        state["boot"] = value
    elif name != "identify":
        return False
    return True


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        return 2
    path, verb, rest = argv[0], argv[1], argv[2:]
    state = load(path)
    if verb == "get":
        return get(state, rest)
    if verb != "set" or len(rest) % 2:
        return 1
    for name, value in zip(rest[::2], rest[1::2], strict=True):
        if not apply(state, name, value):
            return 1
    save(path, state)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
