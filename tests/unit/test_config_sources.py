"""A config directory is parsed once per file version: unchanged files come from memory,
a changed, added or removed file is seen at the next load."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pybmc.config import sources
from pybmc.config.sources import ConfigSources


def write_bmc(directory: Path, name: str, address: str) -> Path:
    path = directory / f"{name}.toml"
    path.write_text(f'[bmc]\nname = "{name}"\naddress = "{address}"\n'
                    f'state_dir = "{directory / name}"\n\n'
                    '[[users]]\nname = "admin"\npassword = "secret"\n')
    return path


def test_unchanged_files_are_not_parsed_again(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[Path] = []
    real = sources.load_checked

    def counting(path: Path):  # type: ignore[no-untyped-def]
        parsed.append(path)
        return real(path)

    monkeypatch.setattr(sources, "load_checked", counting)
    first = write_bmc(tmp_path, "cn1", "127.0.0.2")
    write_bmc(tmp_path, "cn2", "127.0.0.3")
    fleet = ConfigSources(config_dir=tmp_path)
    assert [c.name for c in fleet.load_all()] == ["cn1", "cn2"]
    assert len(parsed) == 2
    assert [c.name for c in fleet.load_all()] == ["cn1", "cn2"]
    assert len(parsed) == 2  # both from memory

    first.write_text(first.read_text().replace("127.0.0.2", "127.0.0.12"))
    stat = first.stat()
    os.utime(first, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    write_bmc(tmp_path, "cn3", "127.0.0.4")
    configs = {c.name: c for c in fleet.load_all()}
    assert configs["cn1"].address == "127.0.0.12"
    assert sorted(p.name for p in parsed[2:]) == ["cn1.toml", "cn3.toml"]

    (tmp_path / "cn2.toml").unlink()
    assert [c.name for c in fleet.load_all()] == ["cn1", "cn3"]
