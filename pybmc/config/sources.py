"""Where a `pybmc serve` process reads its BMCs from: config files and a config directory.

`ConfigSources.load()` looks at them all again each time it is called, so a reload (SIGHUP)
sees files added to or removed from the directory since the start; a file whose size,
mtime and inode are unchanged is not parsed again (a fleet of a thousand files answers each
control request without re-reading the other 999). The directory is listed again only when
its own mtime moved (or moved too recently to be sure: `RACY_NS`), and
`load_all(recheck_files=False)` (what `pybmc add` decides on) looks only at files it has not
parsed yet: an add costs the same with ten files as with a thousand. It returns the BMCs to
serve; `load_all()` also those a file keeps stopped (`[bmc] enabled = false`, pybmc stop),
which still take part in the checks for names, addresses and state dirs that collide.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pybmc.config.bmc import BmcConfig, ConfigError, load_config

# A directory listed less than this after its mtime may change again within the same mtime
# (file systems stamp with a coarse clock, some to the second): it is listed again next time.
RACY_NS = 2_000_000_000


@dataclass(frozen=True)
class ConfigSources:
    """The config files serve was given (in order) and an optional directory of *.toml."""

    files: tuple[Path, ...] = ()
    config_dir: Path | None = None
    # serve with a fleet directory may start empty and be filled with `pybmc add`
    allow_empty: bool = False
    # By path (the config's own `source` string: no Path object kept per file).
    _parsed: dict[str, tuple[tuple[int, int, int], BmcConfig]] = field(
        default_factory=dict, compare=False, repr=False)
    # [directory key, when it was listed (ns), its *.toml file names]
    _listing: list[Any] = field(default_factory=list, compare=False, repr=False)
    # [the configs last checked against each other (ids), the checked list]
    _checked: list[Any] = field(default_factory=list, compare=False, repr=False)

    def paths(self) -> list[Path]:
        """The files named, then the directory's *.toml files in name order."""
        paths = list(self.files)
        if self.config_dir is not None:
            paths += self._dir_paths()
        return paths

    def _dir_paths(self) -> list[Path]:
        assert self.config_dir is not None
        try:
            info = os.stat(self.config_dir)
        except OSError:
            info = None
        if info is None or not stat.S_ISDIR(info.st_mode):
            raise ConfigError(f"{self.config_dir}: not a directory")
        key = (info.st_mtime_ns, info.st_ino, info.st_dev)
        if self._listing and self._listing[0] == key and self._listing[1] - key[0] > RACY_NS:
            names = self._listing[2]
        else:
            listed_at = time.time_ns()
            with os.scandir(self.config_dir) as entries:
                names = sorted(entry.name for entry in entries
                               if entry.name.endswith(".toml") and entry.is_file())
            self._listing[:] = [key, listed_at, names]
        return [self.config_dir / name for name in names]

    def load(self) -> list[BmcConfig]:
        return [config for config in self.load_all() if config.enabled]

    def load_all(self, recheck_files: bool = True) -> list[BmcConfig]:
        """Every file's config. `recheck_files=False`: a file parsed before is taken as it
        was then (files added or removed are seen; an edit in place is not, until the next
        load with `recheck_files`)."""
        paths = self.paths()
        if not paths and not self.allow_empty:
            raise ConfigError(f"{self.config_dir}: no *.toml files")
        load = self._load_one if recheck_files else self._load_known
        configs = [load(path) for path in paths]
        ids = [id(config) for config in configs]
        if self._checked and self._checked[0] == ids:
            return list(self._checked[1])  # the same configs: checked against each other
        check_configs(configs)
        self._checked[:] = [ids, configs]
        return list(configs)

    def _load_known(self, path: Path) -> BmcConfig:
        cached = self._parsed.get(str(path))
        return cached[1] if cached is not None else self._load_one(path)

    def _load_one(self, path: Path) -> BmcConfig:
        try:
            info = path.stat()
        except OSError:
            return load_checked(path)  # gone meanwhile: load_config says so
        key = (info.st_mtime_ns, info.st_size, info.st_ino)
        cached = self._parsed.get(str(path))
        if cached is not None and cached[0] == key:
            return cached[1]
        config = load_checked(path)
        self._parsed[config.source] = (key, config)
        return config


def load_checked(path: Path) -> BmcConfig:
    """One file, parsed and its platform sections checked."""
    from pybmc.config.platform import check_platform_config

    config = load_config(path)
    check_platform_config(config)
    return config


def load_configs(paths: list[Path],
                 load: Callable[[Path], BmcConfig] = load_checked) -> list[BmcConfig]:
    """Load every file and check that names, addresses and state dirs do not collide."""
    configs = [load(path) for path in paths]
    check_configs(configs)
    return configs


def check_configs(configs: list[BmcConfig]) -> None:
    """ConfigError if two of the configs share a name, an address and port or a state dir."""
    names: dict[str, str] = {}
    endpoints: dict[tuple[str, int], str] = {}
    state_dirs: dict[Path, str] = {}
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
        state_dir = config.state_dir.absolute()
        if state_dir in state_dirs:
            raise ConfigError(f"{config.source}: [bmc] state_dir: {config.state_dir} is also "
                              f"used in {state_dirs[state_dir]}")
        state_dirs[state_dir] = config.source
