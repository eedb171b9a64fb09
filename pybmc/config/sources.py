"""Where a `pybmc serve` process reads its BMCs from: config files and a config directory.

`ConfigSources.load()` looks at them all again each time it is called, so a reload (SIGHUP)
sees files added to or removed from the directory since the start; a file whose size,
mtime and inode are unchanged is not parsed again (a fleet of a thousand files answers each
control request without re-reading the other 999). It returns the BMCs to
serve; `load_all()` also those a file keeps stopped (`[bmc] enabled = false`, pybmc stop),
which still take part in the checks for names, addresses and state dirs that collide.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pybmc.config.bmc import BmcConfig, ConfigError, load_config


@dataclass(frozen=True)
class ConfigSources:
    """The config files serve was given (in order) and an optional directory of *.toml."""

    files: tuple[Path, ...] = ()
    config_dir: Path | None = None
    # serve with a fleet directory may start empty and be filled with `pybmc add`
    allow_empty: bool = False
    _parsed: dict[Path, tuple[tuple[int, int, int], BmcConfig]] = field(
        default_factory=dict, compare=False, repr=False)

    def paths(self) -> list[Path]:
        """The files named, then the directory's *.toml files in name order."""
        paths = list(self.files)
        if self.config_dir is not None:
            if not self.config_dir.is_dir():
                raise ConfigError(f"{self.config_dir}: not a directory")
            paths += sorted(p for p in self.config_dir.glob("*.toml") if p.is_file())
        return paths

    def load(self) -> list[BmcConfig]:
        return [config for config in self.load_all() if config.enabled]

    def load_all(self) -> list[BmcConfig]:
        paths = self.paths()
        if not paths and not self.allow_empty:
            raise ConfigError(f"{self.config_dir}: no *.toml files")
        return load_configs(paths, self._load_one)

    def _load_one(self, path: Path) -> BmcConfig:
        try:
            info = path.stat()
        except OSError:
            return load_checked(path)  # gone meanwhile: load_config says so
        key = (info.st_mtime_ns, info.st_size, info.st_ino)
        cached = self._parsed.get(path)
        if cached is not None and cached[0] == key:
            return cached[1]
        config = load_checked(path)
        self._parsed[path] = (key, config)
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
    return configs
