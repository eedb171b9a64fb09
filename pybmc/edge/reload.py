"""SIGHUP: re-reads the configs `pybmc serve` was started from and starts, stops or restarts
the BMCs that were added, removed or changed, leaving every other BMC untouched.

`diff_configs` is the pure part: old configs and new configs in, what to do out. BMCs are
matched by `[bmc] name`. A BMC is *changed* when anything its file says differs (the parsed
values or the raw tables the platform is built from) or its file moved to another directory
(relative paths in it resolve against that directory); a file renamed in place is the same BMC.

`ConfigReloader` applies a diff to the running set, one reload at a time (a SIGHUP during a
reload runs one more afterwards). Loading is all-or-nothing: a file that does not parse, or a
set that collides (two BMCs with one name or address), is one ERROR line and the running set
stays as it was. Removed and changed BMCs are stopped first, their VMs left running as on
SIGTERM (so a changed BMC finds its VM again, as after a restart of pybmc); then changed and
added BMCs start. A changed BMC that cannot start with its new config (its new address is
taken, say) gets its previous config back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from pybmc.config.bmc import BmcConfig, ConfigError

log = logging.getLogger("pybmc.reload")

class ConfigSource(Protocol):
    """Where serve's configs come from (files, a config directory)."""

    def load(self) -> list[BmcConfig]:
        """Read every config again, with the checks of start-up; raise ConfigError."""
        ...


@dataclass(frozen=True)
class ConfigDiff:
    """What a reload does: each BMC in exactly one of the four."""

    added: tuple[BmcConfig, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[BmcConfig, ...] = ()  # the new configs
    unchanged: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def describe(self) -> str:
        parts = [f"{label} {', '.join(names)}" for label, names in (
            ("added", [c.name for c in self.added]), ("removed", list(self.removed)),
            ("restarted", [c.name for c in self.changed])) if names]
        parts.append(f"{len(self.unchanged)} unchanged")
        return "; ".join(parts)


def same_config(old: BmcConfig, new: BmcConfig) -> bool:
    """True when serving `new` would be serving `old` again."""
    if Path(old.source).parent != Path(new.source).parent:
        return False
    # `raw` is left out of dataclass equality; the platform ([[sensors]], [fru], [sel]) is
    # built from it, so it is compared here.
    return replace(old, source=new.source) == new and old.raw == new.raw


def diff_configs(old: Iterable[BmcConfig], new: Iterable[BmcConfig]) -> ConfigDiff:
    """Compare the running configs with freshly loaded ones, BMC by BMC (matched by name)."""
    before = {config.name: config for config in old}
    after = {config.name: config for config in new}
    added = tuple(c for name, c in after.items() if name not in before)
    removed = tuple(name for name in before if name not in after)
    changed = tuple(c for name, c in after.items()
                    if name in before and not same_config(before[name], c))
    unchanged = tuple(name for name, c in after.items()
                      if name in before and same_config(before[name], c))
    return ConfigDiff(added, removed, changed, unchanged)


class BmcSet(Protocol):
    """What the reloader needs of the server (pybmc.edge.server.Server)."""

    @property
    def running_configs(self) -> list[BmcConfig]: ...

    async def add_bmc(self, config: BmcConfig) -> None: ...

    async def remove_bmc(self, name: str) -> None: ...


class ConfigReloader:
    """Runs reloads for a server, one at a time."""

    def __init__(self, bmcs: BmcSet, sources: ConfigSource,
                 lock: asyncio.Lock | None = None) -> None:
        self.bmcs = bmcs
        self.sources = sources
        # Shared with the control socket (pybmc.edge.control): one change to the set at a time.
        self.lock = lock or asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._again = False

    def request(self) -> None:
        """Reload soon (from the SIGHUP handler); a reload under way runs once more after."""
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def wait_idle(self) -> None:
        """Let a reload under way finish (before the server stops)."""
        self._again = False
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            self._again = False
            async with self.lock:
                await self.reload()
            if not self._again:
                return

    async def reload(self) -> ConfigDiff | None:
        """One reload; None when the configs were refused (the running set is unchanged)."""
        log.info("reloading the configuration")
        try:
            configs = self.sources.load()
        except ConfigError as err:
            log.error("reload refused, still serving the previous configuration: %s", err)
            return None
        diff = diff_configs(self.bmcs.running_configs, configs)
        if diff.empty:
            log.info("reload: nothing changed (%d BMCs)", len(diff.unchanged))
            return diff
        previous = {c.name: c for c in self.bmcs.running_configs}
        for name in (*diff.removed, *(c.name for c in diff.changed)):
            await self._remove(name)
        failed = []
        for config in diff.changed:
            if not await self._add(config):
                failed.append(config.name)
                if await self._add(previous[config.name]):
                    log.warning("%s: still served with its previous config", config.name)
        for config in diff.added:
            if not await self._add(config):
                failed.append(config.name)
        log.info("reload: %s%s", diff.describe(),
                 f"; could not start {', '.join(failed)}" if failed else "")
        return diff

    async def _remove(self, name: str) -> None:
        try:
            await self.bmcs.remove_bmc(name)
        except Exception as err:  # one BMC's trouble must not stop the others' reload
            log.error("%s: error while stopping it: %s", name, err)
            log.debug("%s: stop failure", name, exc_info=True)

    async def _add(self, config: BmcConfig) -> bool:
        try:
            await self.bmcs.add_bmc(config)
        except Exception as err:  # a bind error, an unusable state_dir, a missing binary...
            log.error("%s: cannot start on %s:%d: %s", config.name, config.address,
                      config.port, err)
            if not isinstance(err, OSError):
                log.debug("%s: start failure", config.name, exc_info=True)
            return False
        return True
