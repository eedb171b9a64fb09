"""`pybmc serve` once its command line is parsed: load the BMCs, lock, bind and serve.

`pybmc serve` parses its options with typer (pybmc.cli), then replaces itself (same PID) by
`python -m pybmc.cli_serve '<options as JSON>'`: typer converts parameters through pydantic,
which would otherwise stay resident for the server's whole life (10 MB of a 36 MB process).
Nothing here parses a user's command line.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import secrets
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from pybmc.config.bmc import BmcConfig, ConfigError, default_state_dir, parse_config
from pybmc.config.sources import ConfigSources

DEFAULT_NAME = "pybmc"


@dataclass(frozen=True)
class ServeOptions:
    """What `pybmc serve` was asked to do (every option of the command, already checked)."""

    files: tuple[str, ...] = ()
    config_dir: str | None = None
    address: str = "127.0.0.1"
    port: int = 623
    log_level: str = "info"
    log_format: str = "text"
    log_file: str | None = None
    reset_state: bool = False
    stop_vms_on_exit: bool = False
    control: str | None = None  # the control socket's path; None: the default (see below)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServeOptions:
        data = json.loads(text)
        data["files"] = tuple(data.get("files", ()))
        return cls(**data)

    def sources(self) -> ConfigSources | None:
        if not self.files and self.config_dir is None:
            return None
        return ConfigSources(tuple(Path(f) for f in self.files),
                             Path(self.config_dir) if self.config_dir is not None else None,
                             allow_empty=self.config_dir is not None)

    def control_socket(self) -> tuple[Path | None, bool]:
        """Where the control socket goes, and whether failing to create it fails the start:
        --control PATH (required), else the run directory's control.sock for a serve with
        --config-dir (the fleet `pybmc add` writes to; a second such serve goes without)."""
        if self.control:
            return Path(self.control), True
        if self.config_dir is None:
            return None, False
        from pybmc.config.paths import control_socket

        try:
            return control_socket(), False
        except OSError as err:  # an unsafe run directory: said once, serve goes on
            _say(f"no control socket: {err}")
            return None, False


def exec_serve(options: ServeOptions) -> None:
    """Become the server process (same PID, same stdio), without typer and pydantic loaded."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "pybmc.cli_serve", options.to_json()])


def _default_password(state_dir: Path) -> str:
    """Make up a password once and keep it (mode 0600 from creation), so the printed
    credentials stay true; ConfigError (one line) when the state location is unusable."""
    path = state_dir / "default-password"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    except OSError as err:
        raise _unusable(path, err) from None
    password = secrets.token_urlsafe(9)[:12]
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(password + "\n")
    except OSError as err:
        raise _unusable(path, err) from None
    return password


def _unusable(path: Path, err: OSError) -> ConfigError:
    return ConfigError(f"cannot keep the default BMC's password in {path}: "
                       f"{err.strerror or err}; set XDG_STATE_HOME to a writable directory, "
                       "or serve a config file")


def embedded_state_dir(address: str, port: int) -> Path:
    """The default BMC's own state directory per address (and port): two of them never share."""
    return default_state_dir(f"{DEFAULT_NAME}-{address}" + ("" if port == 623 else f"-{port}"))


def embedded_config(address: str, port: int) -> BmcConfig:
    """One simulated BMC that needs no file and no QEMU."""
    state_dir = embedded_state_dir(address, port)
    password = _default_password(state_dir)
    return parse_config(
        {
            "bmc": {"name": DEFAULT_NAME, "address": address, "port": port,
                    "state_dir": str(state_dir)},
            "users": [{"name": "admin", "password": password, "privilege": "administrator"}],
            "power": {"backend": "simulated"},
        }
    )


def _say(message: str) -> None:
    print(f"pybmc: {message}", file=sys.stderr, flush=True)


def serve(options: ServeOptions) -> int:
    """Serve until SIGINT/SIGTERM; the exit status."""
    try:
        return _serve_sync(options)
    finally:
        gc.enable()  # disabled while starting (see below), whatever ended it


def _serve_sync(options: ServeOptions) -> int:
    from pybmc.edge.logs import setup_logging
    from pybmc.edge.startup import StartError

    try:
        setup_logging(options.log_level, options.log_format,
                      Path(options.log_file) if options.log_file else None)
    except OSError as err:
        _say(f"cannot write the log file {options.log_file}: {err.strerror or err}")
        return 2
    sources = options.sources()
    # Loading and starting a fleet makes objects that live as long as the process: the cycle
    # collector, walking them again and again as they pile up, would be a tenth of the start.
    # It runs again once every BMC is started (Server.run_until_stopped's after_start).
    gc.disable()
    try:
        configs = (sources.load() if sources is not None
                   else [embedded_config(options.address, options.port)])
    except ConfigError as err:
        _say(str(err))
        return 2
    if sources is None:
        only = configs[0]
        user = only.users[0]
        _say(f"serving a simulated BMC on {only.address}:{only.port}\n"
             f"pybmc: user {user.name!r}, password {user.password!r}\n"
             f"pybmc: try: ipmitool -I lanplus -H {only.address}"
             f"{'' if only.port == 623 else f' -p {only.port}'}"
             f" -U {user.name} -P {user.password} chassis status")
    try:
        asyncio.run(_serve(configs, options, sources))
    except StartError as err:
        _say(str(err))
        return 1
    except OSError as err:
        _say(f"cannot serve: {err}")
        return 1
    except KeyboardInterrupt:
        pass
    return 0


async def _serve(configs: list[BmcConfig], options: ServeOptions,
                 sources: ConfigSources | None) -> None:
    from pybmc.edge.assembly import open_runtime
    from pybmc.edge.logs import bmc_context
    from pybmc.edge.server import Server

    runtimes = []
    # A fleet's BMCs whose state_dir does not exist yet take their lock (and make the dir)
    # after all of them answer, before their first write: ~2 ms of file system work each.
    defer_lock = len(configs) > 1
    for config in configs:
        with bmc_context(config.name):  # what loading its state logs names it
            runtimes.append(open_runtime(config, reset_state=options.reset_state,
                                         defer_lock=defer_lock))
    control, required = options.control_socket()
    server = Server(runtimes, stop_vms_on_exit=options.stop_vms_on_exit, sources=sources,
                    control=control, control_required=required)
    await server.run_until_stopped(after_start=_collect_from_now_on)


def _collect_from_now_on() -> None:
    """What exists once every BMC started (modules, configs, BMCs, sockets) lives as long as
    the process: keep the cycle collector from walking it again in every full collection
    (each a pause of ~10 ms), and let it run from now on."""
    gc.freeze()
    gc.enable()


def main() -> None:
    if len(sys.argv) != 2:
        _say("pybmc.cli_serve is run by `pybmc serve`; see `pybmc serve --help`")
        sys.exit(2)
    try:
        sys.exit(serve(ServeOptions.from_json(sys.argv[1])))
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
