"""The `pybmc` command line."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import secrets
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from pybmc import __version__
from pybmc.config.bmc import BmcConfig, ConfigError, default_state_dir, load_config, parse_config

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="pybmc: IPMI BMCs for QEMU virtual machines (and simulated ones).",
)
log = logging.getLogger("pybmc")

DEFAULT_NAME = "pybmc"


def _add_cluster_commands() -> None:
    from pybmc.cli_cluster import cluster_app

    app.add_typer(cluster_app, name="cluster")


_add_cluster_commands()


def _fail(message: str, status: int = 2) -> typer.Exit:
    typer.echo(f"pybmc: {message}", err=True)
    return typer.Exit(status)


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _default_password(state_dir: Path) -> str:
    """Make up a password once and keep it, so the printed credentials stay true."""
    path = state_dir / "default-password"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    from pybmc.model.state import create_private_file

    password = secrets.token_urlsafe(9)[:12]
    state_dir.mkdir(parents=True, exist_ok=True)
    if not create_private_file(path, password + "\n"):  # 0600 from creation
        return path.read_text().strip()  # another process made it first
    return password


def embedded_config(address: str, port: int) -> BmcConfig:
    """One simulated BMC that needs no file and no QEMU."""
    state_dir = default_state_dir(DEFAULT_NAME)
    password = _default_password(state_dir)
    return parse_config(
        {
            "bmc": {"name": DEFAULT_NAME, "address": address, "port": port,
                    "state_dir": str(state_dir)},
            "users": [{"name": "admin", "password": password, "privilege": "administrator"}],
            "power": {"backend": "simulated"},
        }
    )


def load_configs(paths: list[Path]) -> list[BmcConfig]:
    """Load every file and check that names and addresses do not collide."""
    from pybmc.config.platform import check_platform_config

    configs = [load_config(path) for path in paths]
    for config in configs:
        check_platform_config(config)
    names: dict[str, str] = {}
    endpoints: dict[tuple[str, int], str] = {}
    for config in configs:
        if config.name in names:
            raise ConfigError(f"{config.source}: [bmc] name: {config.name!r} is also used "
                              f"in {names[config.name]}")
        names[config.name] = config.source
        key = (config.address, config.port)
        if key in endpoints:
            raise ConfigError(f"{config.source}: [bmc] address: {config.address}:{config.port} "
                              f"is also used in {endpoints[key]}")
        endpoints[key] = config.source
    return configs


def _describe(config: BmcConfig) -> str:
    users = ", ".join(f"{u.name} ({u.privilege.name.lower()})" for u in config.users) or "none"
    suites = ",".join(str(s) for s in config.security.cipher_suites)
    return (f"{config.name}: {config.address}:{config.port}, power {config.power.backend}, "
            f"users {users}, cipher suites {suites}, state in {config.state_dir}")


@app.command()
def serve(
    config: Annotated[list[Path] | None, typer.Option(
        "--config", "-c", help="A BMC's TOML file; repeat to serve several BMCs.")] = None,
    address: Annotated[str, typer.Option(
        help="Address of the embedded default BMC (without --config).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="UDP port of the embedded default BMC.")] = 623,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    reset_state: Annotated[bool, typer.Option(
        help="Forget what clients changed; start from the config alone.")] = False,
    stop_vms_on_exit: Annotated[bool, typer.Option(
        help="Power off the VMs when pybmc exits (default: leave them running).")] = False,
) -> None:
    """Serve one or more BMCs until interrupted."""
    _setup_logging(log_level)
    try:
        configs = load_configs(config) if config else [embedded_config(address, port)]
    except ConfigError as err:
        raise _fail(str(err)) from None
    if not config:
        only = configs[0]
        user = only.users[0]
        typer.echo(f"pybmc: serving a simulated BMC on {only.address}:{only.port}\n"
                   f"pybmc: user {user.name!r}, password {user.password!r}\n"
                   f"pybmc: try: ipmitool -I lanplus -H {only.address}"
                   f"{'' if only.port == 623 else f' -p {only.port}'}"
                   f" -U {user.name} -P {user.password} chassis status", err=True)
    try:
        asyncio.run(_serve(configs, reset_state, stop_vms_on_exit))
    except OSError as err:
        raise _fail(f"cannot serve: {err}", 1) from None
    except KeyboardInterrupt:
        pass


async def _serve(configs: list[BmcConfig], reset_state: bool, stop_vms_on_exit: bool) -> None:
    from pybmc.edge.assembly import BmcRuntime
    from pybmc.edge.server import Server

    runtimes = [BmcRuntime(config, reset_state=reset_state) for config in configs]
    server = Server(runtimes, stop_vms_on_exit=stop_vms_on_exit)
    # What exists now (modules, configs, BMCs) lives as long as the process: keep the cycle
    # collector from walking it again in every full collection, each a pause of ~10 ms.
    gc.freeze()
    await server.run_until_stopped()


@app.command("check-config")
def check_config(
    files: Annotated[list[Path], typer.Argument(help="TOML files to validate.")],
) -> None:
    """Validate config files and print what would be served."""
    try:
        configs = load_configs(files)
    except ConfigError as err:
        raise _fail(str(err)) from None
    for config in configs:
        typer.echo(_describe(config))


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


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(f"pybmc {__version__}")


# `serve` spelled plainly is parsed here rather than by typer: typer converts every parameter
# through pydantic, which would stay resident (~13 MB) for the whole life of the server.
# Anything else (--help, a typo, -cFILE, a repeated option, odd values) goes to typer as before,
# so help and error messages are typer's own.
_SERVE_VALUE_OPTIONS = {"--config": "config", "-c": "config", "--address": "address",
                        "--port": "port", "--log-level": "log_level"}
_SERVE_FLAGS = {"--reset-state": ("reset_state", True), "--no-reset-state": ("reset_state", False),
                "--stop-vms-on-exit": ("stop_vms_on_exit", True),
                "--no-stop-vms-on-exit": ("stop_vms_on_exit", False)}


def plain_serve_arguments(argv: list[str]) -> dict[str, Any] | None:
    """serve()'s keyword arguments for `serve [plain options]`, or None: let typer parse it."""
    if not argv or argv[0] != "serve":
        return None
    if any(name.startswith("_") and name.endswith("_COMPLETE") for name in os.environ):
        return None  # a shell-completion request: typer answers those
    arguments: dict[str, Any] = {}
    configs: list[Path] = []
    words = argv[1:]
    while words:
        word = words.pop(0)
        if word in _SERVE_FLAGS:
            name, flag = _SERVE_FLAGS[word]
            if name in arguments:
                return None
            arguments[name] = flag
            continue
        option, equals, value = word.partition("=")
        if option not in _SERVE_VALUE_OPTIONS or (equals and option == "-c"):
            return None
        if not equals:
            if not words:
                return None
            value = words.pop(0)
        name = _SERVE_VALUE_OPTIONS[option]
        if not value or value.startswith("-") or (name != "config" and name in arguments):
            return None
        if name == "config":
            configs.append(Path(value))
        elif name == "port":
            if not (value.isascii() and value.isdigit()):
                return None
            arguments["port"] = int(value)
        else:
            arguments[name] = value
    if configs:
        arguments["config"] = configs
    return arguments


def main() -> None:
    arguments = plain_serve_arguments(sys.argv[1:])
    if arguments is None:
        app()
        return
    # The exit statuses typer's standalone mode gives a command.
    try:
        serve(**arguments)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(0)


if __name__ == "__main__":
    main()
