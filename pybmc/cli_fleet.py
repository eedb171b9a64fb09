"""The fleet commands: pybmc add/list/show/start/stop/delete talk to a running serve's
control socket; import-vbmc turns VirtualBMC's per-domain configs into TOML files.

Verbs and flags follow VirtualBMC's `vbmc` one to one where it has them (docs/fleet.md).
"""

from __future__ import annotations

import json
import shlex
import socket
from pathlib import Path
from typing import Annotated, Any

import typer

from pybmc.config.bmc import ConfigError, parse_config

ControlOption = Annotated[Path | None, typer.Option(
    "--control", help="The serve's control socket [default: <run dir>/control.sock].",
    show_default=False)]
JsonOption = Annotated[bool, typer.Option("--json", help="JSON instead of a table.")]
NamesArgument = Annotated[list[str], typer.Argument(help="BMC names ([bmc] name).")]
TIMEOUT = 120.0  # a start waits for its BMC's power backend (a QEMU launch)


def _fail(message: str, status: int = 2) -> typer.Exit:
    typer.echo(f"pybmc: {message}", err=True)
    return typer.Exit(status)


def _socket_path(control: Path | None) -> Path:
    if control is not None:
        return control
    from pybmc.config.paths import control_socket

    try:
        return control_socket()
    except OSError as err:
        raise _fail(str(err), 1) from None


def ask(control: Path | None, request: dict[str, Any]) -> dict[str, Any]:
    """Send one request to the control socket and return its response."""
    path = _socket_path(control)
    _check_owner(path)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(TIMEOUT)
            sock.connect(str(path))
            sock.sendall(json.dumps(request).encode() + b"\n")
            with sock.makefile("rb") as stream:
                line = stream.readline()
    except FileNotFoundError:
        raise _fail(f"no pybmc serve listens on {path} (start `pybmc serve --config-dir DIR`, "
                    f"or give its --control path)", 1) from None
    except OSError as err:
        raise _fail(f"cannot reach pybmc serve at {path}: {err.strerror or err}", 1) from None
    try:
        response = json.loads(line)
    except ValueError:
        raise _fail(f"pybmc serve at {path} closed the connection without an answer", 1) from None
    if not isinstance(response, dict):
        raise _fail(f"pybmc serve at {path} sent something else than a response", 1)
    return response


def _check_owner(path: Path) -> None:
    """Requests carry passwords: send them only to a socket of ours (or root's)."""
    import os

    try:
        owner = os.lstat(path).st_uid
    except OSError:
        return  # connect() says what is wrong
    if owner not in (os.getuid(), 0):
        raise _fail(f"{path} belongs to uid {owner}, not to us (uid {os.getuid()}): not a "
                    f"control socket of ours", 1)


def _checked(response: dict[str, Any]) -> dict[str, Any]:
    if not response.get("ok"):
        raise _fail(str(response.get("error", "refused")), 1)
    return response


# ---------------------------------------------------------------------- output
COLUMNS = (("NAME", "name"), ("STATE", "state"), ("ADDRESS", "endpoint"),
           ("BACKEND", "backend"), ("POWER", "power"), ("SESSIONS", "sessions"), ("SOL", "sol"))


def _cell(entry: dict[str, Any], key: str) -> str:
    if key == "endpoint":
        return f"{entry['address']}:{entry['port']}"
    value = entry.get(key)
    return "-" if value is None else str(value)


def table(entries: list[dict[str, Any]]) -> str:
    rows = [[title for title, _ in COLUMNS]]
    rows += [[_cell(entry, key) for _, key in COLUMNS] for entry in entries]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return "".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
                   .rstrip() + "\n" for row in rows)


def details(entry: dict[str, Any]) -> str:
    keys = ("name", "state", "address", "port", "backend", "power", "sessions", "sol",
            "users", "file", "state_dir")
    lines = []
    for key in keys:
        value = entry.get(key)
        if isinstance(value, list):
            value = ", ".join(value) or "-"
        lines.append(f"{key:<10} {'-' if value is None else value}")
    return "\n".join(lines) + "\n"


def _print_bmc(response: dict[str, Any], json_output: bool) -> None:
    if json_output:
        typer.echo(json.dumps(response["bmc"], indent=2))
    else:
        typer.echo(details(response["bmc"]), nl=False)


# ---------------------------------------------------------------------- add
def check_address(address: str) -> str:
    """pybmc serves each BMC on one IPv4 address; say so for VirtualBMC's `::` and the like."""
    import ipaddress

    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        raise _fail(f"--address: not an IP address: {address!r}") from None
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        raise _fail(f"--address {address!r}: IPv6 is not supported for serving yet; pybmc serves "
                    f"each BMC on one IPv4 address: give one (127.0.0.1, or an address of "
                    f"this host)")
    if parsed.is_unspecified:
        raise _fail(f"--address {address}: pybmc serves each BMC on one address of its own, "
                    f"not on every address: give one (127.0.0.1, or an address of this host)")
    return str(parsed)


def bmc_tables(name: str, address: str, port: int, username: str, password: str,
               backend: dict[str, Any]) -> dict[str, Any]:
    """The TOML tables of an added BMC: one administrator, the backend's tables."""
    return {
        "bmc": {"name": name, "address": address, "port": port},
        "users": [{"name": username, "password": password, "privilege": "administrator"}],
        **backend,
    }


def backend_tables(name: str, libvirt_domain: str | None, libvirt_uri: str | None,
                   qemu: str | None, simulated: bool) -> dict[str, Any]:
    chosen = [flag for flag, given in (("--libvirt-domain", libvirt_domain is not None),
                                       ("--qemu", qemu is not None),
                                       ("--simulated", simulated)) if given]
    if len(chosen) > 1:
        raise _fail("give one of --libvirt-domain, --qemu, --simulated; "
                    f"not {' and '.join(chosen)}")
    if simulated:
        return {"power": {"backend": "simulated"}}
    if qemu is not None:
        try:
            args = shlex.split(qemu)
        except ValueError as err:
            raise _fail(f"--qemu: {err}") from None
        return {"power": {"backend": "qemu"}, "qemu": {"args": args}}
    # No backend flag: the VirtualBMC meaning, NAME is a libvirt domain.
    libvirt: dict[str, Any] = {"domain": libvirt_domain or name}
    if libvirt_uri:
        libvirt["uri"] = libvirt_uri
    return {"power": {"backend": "libvirt"}, "libvirt": libvirt}


def add(
    name: Annotated[str, typer.Argument(help="The BMC's name (VirtualBMC: the domain).")],
    address: Annotated[str, typer.Option(help="The BMC's IPv4 address.")],
    username: Annotated[str, typer.Option(help="The administrator's user name.")],
    password: Annotated[str, typer.Option(help="The administrator's password.")],
    port: Annotated[int, typer.Option(help="UDP port.", min=1, max=65535)] = 623,
    libvirt_domain: Annotated[str | None, typer.Option(
        help="Power a libvirt domain [default: NAME, as VirtualBMC].", show_default=False)
    ] = None,
    libvirt_uri: Annotated[str | None, typer.Option(
        help="libvirt URI (qemu:///system, qemu+ssh://host/system).", show_default=False)
    ] = None,
    qemu: Annotated[str | None, typer.Option(
        help="Launch QEMU with these arguments (one string, split as a shell would).",
        show_default=False)] = None,
    simulated: Annotated[bool, typer.Option(help="A simulated machine.")] = False,
    control: ControlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Add a BMC to the running serve (written to its --config-dir) and start it."""
    address = check_address(address)
    tables = bmc_tables(name, address, port, username, password,
                        backend_tables(name, libvirt_domain, libvirt_uri, qemu, simulated))
    _print_bmc(_checked(ask(control, {"op": "add", "config": tables})), json_output)


def list_bmcs(control: ControlOption = None, json_output: JsonOption = False) -> None:
    """Every BMC of the running serve: address, backend, power, sessions, SOL."""
    response = _checked(ask(control, {"op": "list"}))
    if "warning" in response:
        typer.echo(f"pybmc: {response['warning']}", err=True)
    if json_output:
        typer.echo(json.dumps(response["bmcs"], indent=2))
    else:
        typer.echo(table(response["bmcs"]), nl=False)


def show(
    name: Annotated[str, typer.Argument(help="The BMC's name.")],
    control: ControlOption = None,
    json_output: JsonOption = False,
) -> None:
    """One BMC in detail."""
    _print_bmc(_checked(ask(control, {"op": "show", "name": name})), json_output)


def _each(op: str, names: list[str], control: Path | None, json_output: bool) -> None:
    """Run `op` for every name (as vbmc does), report each; exit 1 if any failed."""
    failed = False
    results = []
    for name in names:
        response = ask(control, {"op": op, "name": name})
        if not response.get("ok"):
            failed = True
            typer.echo(f"pybmc: {response.get('error', 'refused')}", err=True)
            continue
        results.append(response)
        if not json_output:
            state = response["bmc"]["state"] if "bmc" in response else "deleted"
            typer.echo(f"{name}: {state}")
    if json_output:
        typer.echo(json.dumps([r.get("bmc", {"name": r.get("deleted"), "state": "deleted"})
                               for r in results], indent=2))
    if failed:
        raise typer.Exit(1)


def start(names: NamesArgument, control: ControlOption = None,
          json_output: JsonOption = False) -> None:
    """Start stopped BMCs (and keep them started after a restart of serve)."""
    _each("start", names, control, json_output)


def stop(names: NamesArgument, control: ControlOption = None,
         json_output: JsonOption = False) -> None:
    """Stop BMCs, leaving their VMs running (they stay stopped after a restart of serve)."""
    _each("stop", names, control, json_output)


def delete(names: NamesArgument, control: ControlOption = None,
           json_output: JsonOption = False) -> None:
    """Stop BMCs and remove their files from --config-dir (their state dirs stay)."""
    _each("delete", names, control, json_output)


def import_vbmc(
    directory: Annotated[Path, typer.Argument(
        help="VirtualBMC's config directory (~/.vbmc): one <domain>/config per BMC.")],
    config_dir: Annotated[Path, typer.Option(
        help="Write one <domain>.toml per BMC here (serve's --config-dir).")],
    address: Annotated[str | None, typer.Option(
        help="IPv4 address for BMCs VirtualBMC served on every address (::, 0.0.0.0).",
        show_default=False)] = None,
    simulated: Annotated[bool, typer.Option(
        help="Import as simulated BMCs (their addresses and users, no libvirt).")] = False,
    json_output: JsonOption = False,
) -> None:
    """Turn VirtualBMC's per-domain configs into pybmc TOML files (then reload serve)."""
    from pybmc.config.vbmc import VbmcError, read_vbmc_dir, vbmc_tables
    from pybmc.edge.control import toml_text, write_new_file

    if address is not None:
        address = check_address(address)
    try:
        entries = read_vbmc_dir(directory)
        tables = [vbmc_tables(entry, address, simulated) for entry in entries]
    except VbmcError as err:
        raise _fail(str(err)) from None
    if not config_dir.is_dir():
        raise _fail(f"--config-dir {config_dir}: not a directory")
    written = []
    for entry, data in zip(entries, tables, strict=True):
        path = config_dir / f"{data['bmc']['name']}.toml"
        try:
            parse_config(data, str(path), base_dir=config_dir)
        except ConfigError as err:
            raise _fail(f"{entry.source}: {err}") from None
        if path.exists():
            raise _fail(f"{path} exists already; nothing imported")
        written.append((path, data))
    for path, data in written:
        write_new_file(path, f"# imported from VirtualBMC ({directory})\n" + toml_text(data))
    if json_output:
        typer.echo(json.dumps([{"name": d["bmc"]["name"], "file": str(p),
                                "enabled": d["bmc"].get("enabled", True)}
                               for p, d in written], indent=2))
    else:
        for path, data in written:
            stopped = "" if data["bmc"].get("enabled", True) else " (stopped, as in VirtualBMC)"
            typer.echo(f"{data['bmc']['name']}: {path}{stopped}")
        typer.echo("reload serve to start them: systemctl reload pybmc, or kill -HUP its PID")


def register(app: typer.Typer) -> None:
    """Add the fleet commands to the `pybmc` command line."""
    app.command()(add)
    app.command("list")(list_bmcs)
    app.command()(show)
    app.command()(start)
    app.command()(stop)
    app.command()(delete)
    app.command("import-vbmc")(import_vbmc)
