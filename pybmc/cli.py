"""The `pybmc` command line: one typer parser for every command."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from pybmc import __version__
from pybmc.cli_serve import ServeOptions, exec_serve
from pybmc.config.bmc import BmcConfig, ConfigError
from pybmc.config.sources import ConfigSources, load_configs

app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode=None,  # help text is plain: "[bmc] name" stays as written
    context_settings={"help_option_names": ["-h", "--help"]},
    help="pybmc: IPMI BMCs for QEMU virtual machines (and simulated ones).",
)

LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("text", "json")


def _add_cluster_commands() -> None:
    from pybmc.cli_cluster import cluster_app

    app.add_typer(cluster_app, name="cluster")


_add_cluster_commands()


def _add_fleet_commands() -> None:
    from pybmc.cli_fleet import register

    register(app)


_add_fleet_commands()


def _add_libvirt_commands() -> None:
    from pybmc.cli_libvirt import libvirt_app

    app.add_typer(libvirt_app, name="libvirt")


_add_libvirt_commands()


def _fail(message: str, status: int = 2) -> typer.Exit:
    typer.echo(f"pybmc: {message}", err=True)
    return typer.Exit(status)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"pybmc {__version__}")
        raise typer.Exit(0)


@app.callback()
def _options(
    version: Annotated[bool, typer.Option(
        "--version", callback=_show_version, is_eager=True,
        help="Print the version and exit.")] = False,
) -> None:
    """pybmc: IPMI BMCs for QEMU virtual machines (and simulated ones)."""


def _one_of(choices: tuple[str, ...], what: str) -> Callable[[str], str]:
    """A typer callback refusing anything but `choices` (case-insensitive)."""
    def check(value: str) -> str:
        if value.lower() not in choices:
            raise typer.BadParameter(f"unknown {what} {value!r}: one of {', '.join(choices)}")
        return value.lower()
    return check


def _describe(config: BmcConfig) -> str:
    users = ", ".join(f"{u.name} ({u.privilege.name.lower()})" for u in config.users) or "none"
    suites = ",".join(str(s) for s in config.security.cipher_suites)
    return (f"{config.name}: {config.address}:{config.port}, power {config.power.backend}, "
            f"users {users}, cipher suites {suites}, state in {config.state_dir}"
            + ("" if config.enabled else " (stopped: [bmc] enabled = false)"))


def _problems(config: BmcConfig) -> list[str]:
    """What would stop this BMC from serving here, though its file is valid."""
    from pybmc.edge.startup import address_is_local, state_dir_problem

    problems = []
    if not address_is_local(config.address):
        problems.append(f"{config.source}: [bmc] address: {config.address} is on no local "
                        f"interface (add it to one, or use a 127.x.y.z address)")
    why = state_dir_problem(config.state_dir)
    if why is not None:
        problems.append(f"{config.source}: [bmc] state_dir: {config.state_dir} cannot be "
                        f"written ({why})")
    return problems


@app.command()
def serve(
    files: Annotated[list[Path] | None, typer.Argument(
        help="BMC TOML files, one BMC each (as check-config takes them).",
        show_default=False)] = None,
    config: Annotated[list[Path] | None, typer.Option(
        "--config", "-c", help="A BMC's TOML file; repeat to serve several BMCs.")] = None,
    config_dir: Annotated[Path | None, typer.Option(
        help="Serve every *.toml file in this directory.")] = None,
    address: Annotated[str | None, typer.Option(
        help="Address of the embedded default BMC (only without config files). "
             "[default: 127.0.0.1]", show_default=False)] = None,
    port: Annotated[int | None, typer.Option(
        help="UDP port of the embedded default BMC (only without config files). "
             "[default: 623]", show_default=False)] = None,
    log_level: Annotated[str, typer.Option(
        callback=_one_of(LOG_LEVELS, "log level"),
        help="debug, info, warning or error.")] = "info",
    log_format: Annotated[str, typer.Option(
        callback=_one_of(LOG_FORMATS, "log format"),
        help="text, or json: one JSON object per line (time, level, bmc, message, peer).")
    ] = "text",
    log_file: Annotated[Path | None, typer.Option(
        help="Append log lines to this file instead of stderr.")] = None,
    reset_state: Annotated[bool, typer.Option(
        help="Forget what clients changed; start from the config alone.")] = False,
    stop_vms_on_exit: Annotated[bool, typer.Option(
        help="Power off the VMs when pybmc exits (default: leave them running).")] = False,
    control: Annotated[Path | None, typer.Option(
        help="The control socket for pybmc add/list/... [default: <run dir>/control.sock "
             "with --config-dir]", show_default=False)] = None,
) -> None:
    """Serve one or more BMCs until interrupted (pybmc serve cn1.toml cn2.toml).

    Without config files: one simulated BMC on --address/--port, with its credentials printed.
    """
    paths = [*(files or []), *(config or [])]
    if (paths or config_dir is not None) and (address is not None or port is not None):
        raise _fail("--address and --port are for the embedded default BMC only; with config "
                    "files, set [bmc] address and port in each file")
    exec_serve(ServeOptions(
        files=tuple(str(p) for p in paths),
        config_dir=str(config_dir) if config_dir is not None else None,
        address=address or "127.0.0.1", port=623 if port is None else port,
        log_level=log_level, log_format=log_format,
        log_file=str(log_file) if log_file is not None else None,
        reset_state=reset_state, stop_vms_on_exit=stop_vms_on_exit,
        control=str(control) if control is not None else None))


@app.command("check-config")
def check_config(
    files: Annotated[list[Path] | None, typer.Argument(
        help="TOML files to validate.", show_default=False)] = None,
    config_dir: Annotated[Path | None, typer.Option(
        help="Also validate every *.toml file in this directory.")] = None,
) -> None:
    """Validate config files and print what would be served; report addresses on no local
    interface and state dirs that cannot be written."""
    if not files and config_dir is None:
        raise _fail("give config files, or --config-dir")
    try:
        configs = ConfigSources(tuple(files or ()), config_dir).load_all()
    except ConfigError as err:
        raise _fail(str(err)) from None
    problems = []
    for config in configs:
        typer.echo(_describe(config))
        problems += _problems(config)
    for problem in problems:
        typer.echo(f"pybmc: {problem}", err=True)
    if problems:
        raise typer.Exit(1)


@app.command()
def console(
    name: Annotated[str, typer.Argument(help="The BMC's name ([bmc] name).")],
    config: Annotated[list[Path], typer.Option(
        "--config", "-c", help="The TOML file(s) the running pybmc serve was given.")],
) -> None:
    """Attach this terminal to a running BMC's guest console (shared with SOL)."""
    from pybmc.config.paths import console_socket
    from pybmc.edge.terminal import attach

    try:
        configs = load_configs(config)
    except ConfigError as err:
        raise _fail(str(err)) from None
    chosen = [c for c in configs if c.name == name]
    if not chosen:
        raise _fail(f"no BMC named {name!r} in {', '.join(map(str, config))}")
    raise typer.Exit(attach(console_socket(chosen[0])))


@app.command("import-lanconf")
def import_lanconf(
    lan_conf: Annotated[Path, typer.Argument(help="An ipmi_sim lan.conf file.")],
    emu: Annotated[Path | None, typer.Option(
        "--emu", help="The matching .emu command file (identity, sensors, SEL, FRU).")] = None,
) -> None:
    """Translate an ipmi_sim lan.conf (and .emu) into pybmc TOML on stdout."""
    from pybmc.config.lanconf import import_lanconf_command

    raise typer.Exit(import_lanconf_command(lan_conf, emu))


@app.command("systemd-unit")
def systemd_unit() -> None:
    """Print a systemd unit serving /etc/pybmc with this pybmc (see docs/operations.md)."""
    from pybmc.data import systemd_unit as unit_text

    typer.echo(unit_text(), nl=False)


@app.command()
def version() -> None:
    """Print the version (as --version does)."""
    typer.echo(f"pybmc {__version__}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
