"""Run one pyghmi client call and print its result (used by the conformance suite).

    python -m conformance.pyghmi_client HOST PORT USER PASSWORD ACTION [ARGS...]

It runs in a child process because pyghmi keeps session state in module globals and spawns its
own I/O thread; a fresh process per call keeps scenarios independent and killable. The output is
a stable, sorted rendering of the result; an exception prints `error: <message>` and exits 1.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

Action = Callable[[Any, list[str]], Any]


def _raw(ipmi: Any, args: list[str]) -> Any:
    netfn, command, *data = (int(a, 0) for a in args)
    response = ipmi.xraw_command(netfn=netfn, command=command, data=bytes(data))
    return bytes(response["data"]).hex(" ")


def _power(ipmi: Any, args: list[str]) -> Any:
    if args:
        return ipmi.set_power(args[0], wait=len(args) > 1 and args[1] == "wait")
    return ipmi.get_power()


def _bootdev(ipmi: Any, args: list[str]) -> Any:
    if args:
        ipmi.set_bootdev(args[0], persist="persist" in args[1:], uefiboot="uefi" in args[1:])
    return ipmi.get_bootdev()


def _sensors(ipmi: Any, args: list[str]) -> Any:
    """(name, type, units, value) of every sensor, or of the ones named in `args`."""
    return sorted((r.name, r.type, r.units, r.value) for r in ipmi.get_sensor_data()
                  if not args or r.name in args)


def _inventory(ipmi: Any, args: list[str]) -> Any:
    return {name: data for name, data in ipmi.get_inventory() if name == "System"}


def _net(ipmi: Any, args: list[str]) -> Any:
    return ipmi.get_net_configuration()


def _users(ipmi: Any, args: list[str]) -> Any:
    users = ipmi.get_users()
    return {uid: info for uid, info in users.items() if info.get("name")}


def _event_log(ipmi: Any, args: list[str]) -> Any:
    return len(list(ipmi.get_event_log()))


ACTIONS: dict[str, Action] = {
    "raw": _raw,
    "power": _power,
    "bootdev": _bootdev,
    "sensors": _sensors,
    "inventory": _inventory,
    "net": _net,
    "users": _users,
    "event_log": _event_log,
    "channel_access": lambda ipmi, args: ipmi.get_channel_access(int(args[0])),
    "channel_info": lambda ipmi, args: ipmi.get_channel_info(int(args[0])),
}


def render(value: Any) -> str:
    return json.dumps(value, sort_keys=True, indent=1, default=repr)


def main(argv: list[str]) -> int:
    if len(argv) < 5 or argv[4] not in ACTIONS:
        print(f"usage: HOST PORT USER PASSWORD {{{','.join(ACTIONS)}}} [ARGS...]",
              file=sys.stderr)
        return 2
    host, port, user, password, action, *args = argv
    try:
        from pyghmi.ipmi import command

        ipmi = command.Command(bmc=host, userid=user, password=password, port=int(port),
                               keepalive=False)
        try:
            print(render(ACTIONS[action](ipmi, args)))
        finally:
            ipmi.ipmi_session.logout()
    except Exception as err:
        print(f"error: {err}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
