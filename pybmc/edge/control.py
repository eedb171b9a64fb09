"""The control socket of `pybmc serve`: a private unix socket carrying fleet requests.

One line of JSON in, one line out (pybmc.core.control decides); requests from every
connection and SIGHUP reloads run one at a time under the server's fleet lock, so two
`pybmc add` never race for an address. What a request changes is written to the BMC's file
in --config-dir, so a restarted serve serves the same fleet:

- add writes `<config-dir>/<name>.toml` (mode 0600: it holds passwords) once the BMC started;
- stop sets `[bmc] enabled = false` in its file, start removes that key again;
- delete removes the file (the state dir stays; a BMC added later under the name starts
  from its config alone).

The socket is created 0600 (pybmc.edge.unix_socket) in the private run directory; nothing
listens on the network.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from pybmc.config.bmc import BmcConfig, ConfigError, load_config
from pybmc.config.sources import ConfigSources
from pybmc.core import control
from pybmc.core.bmc import Bmc
from pybmc.edge.logs import bmc_context
from pybmc.edge.startup import StartError
from pybmc.edge.unix_socket import bind_private, remove_stale_socket

log = logging.getLogger("pybmc.control")


class Running(Protocol):
    """One running BMC as the server holds it (pybmc.edge.assembly.BmcRuntime)."""

    name: str
    bmc: Bmc


class Fleet(Protocol):
    """What the control socket needs of the server (pybmc.edge.server.Server)."""

    fleet_lock: asyncio.Lock

    @property
    def runtimes(self) -> Sequence[Running]: ...

    async def add_bmc(self, config: BmcConfig, reset_state: bool = False) -> None: ...

    async def remove_bmc(self, name: str) -> None: ...


class ControlServer:
    """Serves the control socket at `path` for one Server."""

    def __init__(self, server: Fleet, sources: ConfigSources | None, path: Path) -> None:
        self.server = server
        self.sources = sources
        self.path = path
        self._listener: asyncio.Server | None = None
        self._clients: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Listen; OSError when the path is taken by a live listener or is not a socket."""
        remove_stale_socket(self.path)
        try:
            sock = bind_private(self.path)
        except OSError as err:  # a missing directory, a path over 107 bytes...
            raise OSError(f"{self.path}: {err.strerror or err}") from None
        self._listener = await asyncio.start_unix_server(
            self._client, sock=sock, limit=control.MAX_REQUEST_BYTES + 1)
        log.info("control socket on %s", self.path)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
            for task in list(self._clients):
                task.cancel()
            await asyncio.gather(*self._clients, return_exceptions=True)
            await self._listener.wait_closed()
            self._listener = None
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._clients.add(task)
        try:
            while True:
                try:
                    line = await reader.readline()
                except (ValueError, asyncio.LimitOverrunError):  # longer than the limit
                    writer.write(control.encode(control.error("request too long")))
                    break
                if not line:
                    break
                writer.write(control.encode(await self.handle(line)))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            if task is not None:
                self._clients.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def handle(self, line: bytes) -> control.Response:
        """One request, start to end, under the fleet lock."""
        try:
            request = control.parse_request(line)
        except control.RequestError as err:
            log.info("control: refused a request: %s", err)
            return control.error(str(err))
        async with self.server.fleet_lock:
            # An add is decided on the files as last read (new and removed files seen, each
            # other file not looked at again): its cost does not grow with the fleet.
            fleet = self.fleet(recheck_files=request.op != "add")
            decision = control.plan(request, fleet)
            if isinstance(decision, dict):
                if not decision.get("ok"):
                    log.info("control: %s %s refused: %s", request.op,
                             request.name or _named(request), decision["error"])
                return decision
            try:
                with bmc_context(decision.config.name):
                    await ACTIONS[decision.kind](self, decision)
            except (OSError, ConfigError, StartError) as err:
                log.error("%s: %s failed: %s", decision.config.name, decision.kind, err)
                return control.error(f"{decision.config.name}: {decision.kind} failed: {err}")
            except Exception as err:  # a start failing in the backend, say: one line back
                log.error("%s: %s failed: %s", decision.config.name, decision.kind, err)
                log.debug("%s: %s failure", decision.config.name, decision.kind, exc_info=True)
                return control.error(f"{decision.config.name}: {decision.kind} failed: {err}")
            log.info("%s: %s (control socket)", decision.config.name, _DONE[decision.kind])
            return control.done(decision, self._after(fleet, decision))

    def _after(self, fleet: control.Fleet, action: control.Action) -> control.Fleet:
        """The fleet once `action` is done, without reading every file again."""
        running = self._running()
        name = action.config.name
        configs = [c for c in fleet.configs if c.name != name]
        if action.kind != "delete":
            configs.append(running[name].config if name in running else action.config)
        return replace(fleet, configs=tuple(configs), running=running)

    def _running(self) -> dict[str, Bmc]:
        return {r.name: r.bmc for r in self.server.runtimes}

    def fleet(self, recheck_files: bool = True) -> control.Fleet:
        running = self._running()
        configs: tuple[BmcConfig, ...] = ()
        load_error = ""
        if self.sources is not None:
            try:
                configs = tuple(self.sources.load_all(recheck_files))
            except ConfigError as err:
                load_error = str(err)
        # What runs is as it was started (a file edited since applies at its next start).
        configs = tuple(running[c.name].config if c.name in running and c.enabled else c
                        for c in configs)
        config_dir = self.sources.config_dir if self.sources is not None else None
        return control.Fleet(configs, running, config_dir, load_error)

    # ------------------------------------------------------------------ actions
    async def _add(self, action: control.Action) -> None:
        await self.server.add_bmc(action.config, reset_state=True)
        try:
            write_new_file(action.path, toml_text(action.data))
        except OSError:
            await self.server.remove_bmc(action.config.name)
            raise

    async def _start(self, action: control.Action) -> None:
        set_enabled(action.path, True)
        if action.running:
            return
        config = load_config(action.path)  # the file as it is now, marker removed
        try:
            await self.server.add_bmc(config)
        except BaseException:
            set_enabled(action.path, False)  # still stopped after a restart, as now
            raise

    async def _stop(self, action: control.Action) -> None:
        set_enabled(action.path, False)
        if action.running:
            await self.server.remove_bmc(action.config.name)

    async def _delete(self, action: control.Action) -> None:
        if action.running:
            await self.server.remove_bmc(action.config.name)
        action.path.unlink()


ACTIONS = {
    "add": ControlServer._add,
    "start": ControlServer._start,
    "stop": ControlServer._stop,
    "delete": ControlServer._delete,
}
_DONE = {"add": "added", "start": "started", "stop": "stopped", "delete": "deleted"}


# ---------------------------------------------------------------------- files
def toml_text(data: Any) -> str:
    import tomlkit  # only when a file is written: a serve that is never asked stays smaller

    return tomlkit.dumps(data)


def set_enabled(path: Path, enabled: bool) -> None:
    """Mark the BMC of `path` started (no `enabled` key) or stopped, keeping the rest of the
    file (comments included) as it is."""
    import tomlkit

    try:
        document = tomlkit.parse(path.read_text(encoding="utf-8"))
    except tomlkit.exceptions.ParseError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    table = document.get("bmc")
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [bmc]: is required")
    if enabled:
        if "enabled" not in table:
            return
        del table["enabled"]
    else:
        if table.get("enabled") is False:
            return
        table["enabled"] = False
    replace_file(path, tomlkit.dumps(document))


def write_new_file(path: Path, text: str) -> None:
    """Create `path` (mode 0600) with `text`; FileExistsError if it exists."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            path.unlink()
        raise


def replace_file(path: Path, text: str) -> None:
    """Write `text` over `path` atomically, keeping its mode. The temporary name does not end
    in .toml, so a reload listing the directory meanwhile never reads it."""
    mode = path.stat().st_mode & 0o777
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _named(request: control.Request) -> str:
    table = request.config.get("bmc")
    return str(table.get("name", "")) if isinstance(table, dict) else ""
