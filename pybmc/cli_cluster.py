"""The `pybmc cluster` commands: a whole virtual cluster from one file."""

from __future__ import annotations

import logging
import signal
import time
from pathlib import Path
from typing import Annotated

import typer

from pybmc.config.bmc import ConfigError

cluster_app = typer.Typer(no_args_is_help=True, help=(
    "A virtual cluster from one file: bridge, BMC addresses, QEMU nodes, PXE, inventory."))

FileArgument = Annotated[Path, typer.Argument(help="The cluster's TOML file.")]


def _fail(message: str, status: int = 2) -> typer.Exit:
    typer.echo(f"pybmc cluster: {message}", err=True)
    return typer.Exit(status)


def _load(path: Path):  # -> ClusterSpec
    from pybmc.cluster.spec import load_cluster

    try:
        return load_cluster(path)
    except ConfigError as err:
        raise _fail(str(err)) from None


@cluster_app.command()
def init() -> None:
    """Print a commented example cluster file (the two-node xCAT lab)."""
    from pybmc.cluster.example import EXAMPLE

    typer.echo(EXAMPLE, nl=False)


@cluster_app.command()
def up(
    file: FileArgument,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for every BMC.")] = 60.0,
    foreground: Annotated[bool, typer.Option(
        help="Stay attached; Ctrl-C takes the cluster down.")] = False,
) -> None:
    """Create the network, disks, DHCP/PXE and BMCs; return once every BMC answers."""
    from pybmc.cluster import lab

    spec = _load(file)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        lab.require_root()
        record = lab.up(spec, timeout)
    except (ConfigError, lab.ClusterError, lab.netlink.NetlinkUnavailable) as err:
        raise _fail(str(err), 1) from None
    where = f" in namespace {spec.netns}" if spec.netns else ""
    typer.echo(f"cluster {spec.name}: {len(spec.nodes)} BMCs answer on {spec.network.bridge}"
               f"{where}; state in {spec.state_dir}")
    if not foreground:
        return
    # SIGTERM (a service manager stopping us) takes the cluster down like Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        while record.process("serve") is not None:
            time.sleep(0.5)
        typer.echo(f"cluster {spec.name}: pybmc serve exited; taking the cluster down", err=True)
    except KeyboardInterrupt:
        pass
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # down runs to its end
    down(file)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@cluster_app.command()
def down(file: FileArgument) -> None:
    """Stop and remove everything `up` created (and nothing else); safe to repeat."""
    from pybmc.cluster import lab

    spec = _load(file)
    try:
        lab.require_root()
        removed = lab.down(spec)
    except (ConfigError, lab.ClusterError, lab.netlink.NetlinkUnavailable) as err:
        raise _fail(str(err), 1) from None
    for item in removed:
        typer.echo(f"removed {item}")
    typer.echo(f"cluster {spec.name}: down")


@cluster_app.command()
def status(
    file: FileArgument,
    json_output: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
) -> None:
    """Power, current BMC address, MAC, SOL in use and uptime of every node."""
    from pybmc.cluster import status as cluster_status
    from pybmc.cluster.lab import control_socket_path, run_dir
    from pybmc.cluster.record import Record

    spec = _load(file)
    serving = Record.load(run_dir(spec)).process("serve") is not None
    statuses = cluster_status.node_statuses(
        spec, control_socket_path(spec) if serving else None)
    render = cluster_status.status_json if json_output else cluster_status.status_table
    typer.echo(render(statuses, serving), nl=False)


@cluster_app.command()
def export(
    file: FileArgument,
    fmt: Annotated[str, typer.Option(
        "--format", "-f", help="xcat, ironic, ironic-redfish, warewulf, hosts or csv.")] = "xcat",
) -> None:
    """Print the inventory for a cluster manager (BMC addresses as they are now)."""
    from pybmc.cluster.export import EXPORTERS
    from pybmc.cluster.export import export as render
    from pybmc.cluster.status import current_addresses

    if fmt not in EXPORTERS:
        raise _fail(f"--format must be one of {', '.join(EXPORTERS)}; got {fmt!r}")
    spec = _load(file)
    typer.echo(render(spec, fmt, current_addresses(spec)), nl=False)


@cluster_app.command()
def console(
    file: FileArgument,
    node: Annotated[str, typer.Argument(help="The node's name.")],
) -> None:
    """Attach this terminal to a node's serial console (shared with SOL)."""
    from pybmc.cluster.status import bmc_config_of
    from pybmc.config.paths import console_socket
    from pybmc.edge.terminal import attach

    spec = _load(file)
    try:
        config = bmc_config_of(spec, spec.node(node))
    except ConfigError as err:
        raise _fail(str(err)) from None
    if config is None:
        raise _fail(f"{node}: no BMC config yet; run `pybmc cluster up {file}` first", 1)
    raise typer.Exit(attach(console_socket(config)))
