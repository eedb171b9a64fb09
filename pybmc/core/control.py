"""The control socket's protocol: one JSON request in, a decision or a JSON response out.

Sans-IO: `plan(request, fleet)` reads a snapshot of the fleet (every BMC's config, from the
config files, and the running BMCs) and answers at once (`list`, `show`, refusals) or names
the one `Action` the edge must carry out (start, stop, add, delete a BMC); `done(action,
fleet)` phrases the answer once it is carried out. The edge (pybmc.edge.control) owns the
socket, the files and the running set. One request and one response per line:

    {"op": "list"}                       -> {"ok": true, "bmcs": [{...}, ...]}
    {"op": "show", "name": "cn1"}        -> {"ok": true, "bmc": {...}}
    {"op": "add", "config": {TOML tables}} -> {"ok": true, "bmc": {...}}
    {"op": "start" | "stop" | "delete", "name": "cn1"} -> {"ok": true, "bmc": {...}}
    anything refused                     -> {"ok": false, "error": "one line"}

Passwords go in (an added BMC's `[[users]]`) and never come out.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pybmc.config.bmc import BmcConfig, ConfigError, parse_config
from pybmc.config.platform import check_platform_config
from pybmc.core.bmc import Bmc

MAX_REQUEST_BYTES = 256 * 1024  # a BMC config with its sensors fits many times over
Response = dict[str, Any]


class RequestError(Exception):
    """A request that is not one: bad JSON, an unknown op, a missing name."""


@dataclass(frozen=True)
class Request:
    op: str
    name: str = ""
    config: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Fleet:
    """What a request is decided on: every BMC the files describe, and who is running."""

    configs: tuple[BmcConfig, ...]  # every file's config, stopped ones included
    running: Mapping[str, Bmc]  # by name
    config_dir: Path | None  # where `add` writes; None: serve has no --config-dir
    load_error: str = ""  # the files do not load now: only what runs is known

    def config(self, name: str) -> BmcConfig | None:
        for config in self.configs:
            if config.name == name:
                return config
        bmc = self.running.get(name)
        return bmc.config if bmc is not None else None


@dataclass(frozen=True)
class Action:
    """What the edge does for a request: `kind` on the BMC of `config`, whose file is `path`.

    add: start `config` and write `data` to `path`; start: mark `path` enabled and start
    `config`; stop: mark `path` stopped and stop the BMC if it runs; delete: stop it if it
    runs and remove `path`.
    """

    kind: str
    config: BmcConfig
    path: Path
    running: bool
    data: Mapping[str, Any] = field(default_factory=dict)


def parse_request(line: bytes) -> Request:
    """One line of the socket as a Request; RequestError with the reason otherwise."""
    if len(line) > MAX_REQUEST_BYTES:
        raise RequestError(f"request longer than {MAX_REQUEST_BYTES} bytes")
    try:
        data = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        raise RequestError("not a JSON object") from None
    if not isinstance(data, dict):
        raise RequestError("not a JSON object")
    op = data.get("op")
    if op not in OPS:
        raise RequestError(f"unknown op {op!r}: one of {', '.join(OPS)}")
    name = data.get("name", "")
    if not isinstance(name, str) or (OPS[op].needs_name and not name):
        raise RequestError(f"{op}: needs a BMC name")
    config = data.get("config", {})
    if not isinstance(config, dict) or (op == "add" and not config):
        raise RequestError(f"{op}: needs a config (the BMC's TOML tables as a JSON object)")
    return Request(op, name, config)


def encode(response: Response) -> bytes:
    return json.dumps(response, separators=(",", ":")).encode() + b"\n"


def error(message: str) -> Response:
    return {"ok": False, "error": message}


def bmc_entry(config: BmcConfig, bmc: Bmc | None, fleet: Fleet) -> Response:
    """One BMC as `list` and `show` print it: what it is and how it is doing."""
    state = "running" if bmc is not None else ("stopped" if not config.enabled else "failed")
    entry: Response = {
        "name": config.name, "state": state, "address": config.address,
        "port": config.port, "backend": config.power.backend,
        "power": None, "sessions": 0, "sol": None,
        "users": [user.name for user in config.users],
        "file": config.source, "managed": _managed(config, fleet),
        "state_dir": str(config.state_dir),
    }
    if bmc is not None:
        entry["address"] = bmc.lan.address().ip or config.address  # moved by `lan set`
        entry["power"] = "on" if bmc.power.is_on() else "off"
        sessions = bmc.sessions.sessions
        entry["sessions"] = len(sessions)
        active = bmc.sol.active
        if active is not None:
            session = active.session
            user = getattr(session, "user_name", b"")
            remote = getattr(session, "remote", ("", 0))
            entry["sol"] = (f"{user.decode(errors='replace') if isinstance(user, bytes) else user}"
                            f"@{remote[0]}:{remote[1]}")
    return entry


def _managed(config: BmcConfig, fleet: Fleet) -> bool:
    """True when the BMC's file is in serve's --config-dir (which start/stop/delete edit)."""
    if fleet.config_dir is None or config.source == "<embedded>":
        return False
    return Path(config.source).parent.resolve() == fleet.config_dir.resolve()


# ---------------------------------------------------------------------- decisions
@dataclass(frozen=True)
class Op:
    needs_name: bool
    decide: Callable[[Request, Fleet], Response | Action]


def plan(request: Request, fleet: Fleet) -> Response | Action:
    """Answer the request, or say what the edge must do for it."""
    return OPS[request.op].decide(request, fleet)


def done(action: Action, fleet: Fleet) -> Response:
    """The answer once `action` was carried out (`fleet` as it is afterwards)."""
    if action.kind == "delete":
        return {"ok": True, "deleted": action.config.name, "file": str(action.path)}
    config = fleet.config(action.config.name) or action.config
    return {"ok": True, "bmc": bmc_entry(config, fleet.running.get(config.name), fleet)}


def _list(request: Request, fleet: Fleet) -> Response:
    names = [c.name for c in fleet.configs]
    names += sorted(name for name in fleet.running if name not in names)
    bmcs = []
    for name in names:
        config = fleet.config(name)
        if config is not None:
            bmcs.append(bmc_entry(config, fleet.running.get(name), fleet))
    response: Response = {"ok": True, "bmcs": bmcs}
    if fleet.load_error:
        response["warning"] = f"the config files do not load: {fleet.load_error}"
    return response


def _known(request: Request, fleet: Fleet) -> BmcConfig | Response:
    config = fleet.config(request.name)
    if config is None:
        return error(f"no BMC named {request.name!r}")
    return config


def _show(request: Request, fleet: Fleet) -> Response:
    config = _known(request, fleet)
    if not isinstance(config, BmcConfig):
        return config
    return {"ok": True, "bmc": bmc_entry(config, fleet.running.get(config.name), fleet)}


def _editable(request: Request, fleet: Fleet) -> BmcConfig | Response:
    """The BMC's config when its file is one start/stop/delete may edit."""
    if fleet.load_error:
        return error(f"the config files do not load, fix them first: {fleet.load_error}")
    config = _known(request, fleet)
    if not isinstance(config, BmcConfig):
        return config
    if not _managed(config, fleet):
        where = ("no file (the embedded default BMC)" if config.source == "<embedded>"
                 else f"{config.source}, given on serve's command line")
        return error(f"{config.name} comes from {where}; pybmc {request.op} edits only the "
                     f"files of serve's --config-dir")
    return config


def _enabling(enabled: bool) -> Callable[[Request, Fleet], Response | Action]:
    """start (enabled) and stop (not): the BMC's file gets `[bmc] enabled` so."""
    verb = "start" if enabled else "stop"

    def handle(request: Request, fleet: Fleet) -> Response | Action:
        config = _editable(request, fleet)
        if not isinstance(config, BmcConfig):
            return config
        return Action(verb, replace(config, enabled=enabled), Path(config.source),
                      config.name in fleet.running)

    return handle


def _delete(request: Request, fleet: Fleet) -> Response | Action:
    config = _editable(request, fleet)
    if not isinstance(config, BmcConfig):
        return config
    return Action("delete", config, Path(config.source), config.name in fleet.running)


def _add(request: Request, fleet: Fleet) -> Response | Action:
    if fleet.config_dir is None:
        return error("this pybmc serve has no --config-dir to write added BMCs into; "
                     "restart it with --config-dir DIR")
    if fleet.load_error:
        return error(f"the config files do not load, fix them first: {fleet.load_error}")
    data = dict(request.config)
    bmc_table = data.get("bmc")
    name = bmc_table.get("name") if isinstance(bmc_table, dict) else None
    if not isinstance(name, str) or not name:
        return error("add: [bmc] name is required")
    path = fleet.config_dir / f"{name}.toml"
    try:
        config = parse_config(data, str(path), base_dir=fleet.config_dir)
        check_platform_config(config)
    except ConfigError as err:
        return error(str(err))
    clash = collision(config, fleet)
    if clash:
        return error(clash)
    return Action("add", config, path, False, data)


def collision(new: BmcConfig, fleet: Fleet) -> str:
    """Why `new` cannot join the fleet (its name, address:port or state dir is taken), or ''."""
    filed = {c.name for c in fleet.configs}
    others = list(fleet.configs) + [b.config for n, b in fleet.running.items()
                                    if n not in filed]
    new_state_dir = new.state_dir.absolute()
    for other in others:
        if other.name == new.name:
            return f"a BMC named {new.name!r} exists already ({other.source})"
        if (other.address, other.port) == (new.address, new.port):
            return (f"{new.address}:{new.port} is the address of {other.name} "
                    f"({other.source}); give another --address or --port")
        if other.state_dir.absolute() == new_state_dir:
            return f"state dir {new.state_dir} is {other.name}'s ({other.source})"
    return ""


OPS: dict[str, Op] = {
    "list": Op(False, _list),
    "show": Op(True, _show),
    "add": Op(False, _add),
    "start": Op(True, _enabling(True)),
    "stop": Op(True, _enabling(False)),
    "delete": Op(True, _delete),
}
