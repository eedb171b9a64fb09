"""Where the BMC listens for the guest's in-band link, and what QEMU is told to connect there."""

from __future__ import annotations

import itertools
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pybmc.config.bmc import ConfigError, parse_config
from pybmc.edge.assembly import BmcRuntime
from pybmc.edge.power.qemu import QemuPower


@pytest.fixture
def short_dir(monkeypatch) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="pbw", dir="/tmp"))  # unix socket paths < 108 bytes
    monkeypatch.setenv("PYBMC_RUN_DIR", str(path / "run"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def config(state: Path, **sections: Any):
    return parse_config({"bmc": {"name": "w1", "address": "127.0.0.2", "state_dir": str(state)},
                         **sections})


def qemu_device(args: list[str]) -> str:
    return next(value for option, value in itertools.pairwise(args)
                if option == "-device" and value.startswith("isa-ipmi"))


@pytest.mark.parametrize("listen", ["tcp:127.0.0.1:9002", "tcp:[::1]:9002", "unix:/run/x.sock",
                                    ""])
def test_in_band_listen_forms(tmp_path, listen) -> None:
    assert config(tmp_path, in_band={"listen": listen}).in_band.listen == listen


@pytest.mark.parametrize("listen", ["tcp:127.0.0.1", "tcp:host:0", "tcp:host:70000", "unix:",
                                    "udp:127.0.0.1:9002", "9002"])
def test_bad_in_band_listen_is_one_clear_error(tmp_path, listen) -> None:
    with pytest.raises(ConfigError, match=r"\[in_band\] listen: must be tcp:HOST:PORT"):
        config(tmp_path, in_band={"listen": listen})


def test_in_band_interface_kcs_by_default_or_bt(tmp_path) -> None:
    assert config(tmp_path).qemu.in_band_interface == "kcs"
    assert config(tmp_path, qemu={"in_band_interface": "bt"}).qemu.in_band_interface == "bt"
    with pytest.raises(ConfigError, match="in_band_interface"):
        config(tmp_path, qemu={"in_band_interface": "ssif"})


@pytest.mark.parametrize("interface,device", [("kcs", "isa-ipmi-kcs,bmc=pybmc-bmc"),
                                              ("bt", "isa-ipmi-bt,bmc=pybmc-bmc")])
def test_qemu_gets_the_chosen_interface(tmp_path, interface, device) -> None:
    cfg = config(tmp_path, power={"backend": "qemu"},
                 qemu={"in_band_interface": interface})
    power = QemuPower(cfg.name, cfg.qemu, cfg.guid, tmp_path / "run")
    assert power.in_band_args() == []  # nobody listens yet
    power.in_band_path = "/tmp/pybmc-x/ipmi.sock"
    args = power.in_band_args()
    assert qemu_device(args) == device
    assert "socket,id=pybmc-ipmi,path=/tmp/pybmc-x/ipmi.sock,reconnect=1" in args


# Only the in-band part of BmcRuntime.start(): the rest would start the console reader too.
async def start_in_band(runtime: BmcRuntime) -> None:
    await runtime._start_in_band()


async def stop_in_band(runtime: BmcRuntime) -> None:
    if runtime.in_band is not None:
        await runtime.in_band.stop()


async def test_qemu_backend_listens_in_its_run_directory(short_dir) -> None:
    runtime = BmcRuntime(config(short_dir / "state", power={"backend": "qemu"}))
    await start_in_band(runtime)
    try:
        power = runtime.bmc.power
        assert isinstance(power, QemuPower)
        assert runtime.in_band is not None and runtime.in_band.path == power.paths.in_band
        assert power.in_band_path == str(power.paths.in_band)
        assert power.paths.in_band.is_socket()
        # The run directory is the checked, private one; the socket is ours alone.
        assert power.paths.in_band.parent.parent == short_dir / "run"
        assert stat.S_IMODE(os.lstat(power.paths.in_band.parent).st_mode) == 0o700
        assert stat.S_IMODE(os.stat(power.paths.in_band).st_mode) == 0o600
        assert qemu_device(power.in_band_args()) == "isa-ipmi-kcs,bmc=pybmc-bmc"
    finally:
        await stop_in_band(runtime)
    assert not power.paths.in_band.exists()


def test_qemu_backend_refuses_a_run_directory_planted_by_someone_else(short_dir) -> None:
    from pybmc.config.paths import UnsafeRunDirectory

    (short_dir / "elsewhere").mkdir()
    (short_dir / "run").symlink_to(short_dir / "elsewhere")
    with pytest.raises(UnsafeRunDirectory, match="symbolic link"):
        BmcRuntime(config(short_dir / "state", power={"backend": "qemu"}))


async def test_qemu_backend_without_in_band_has_no_device(short_dir) -> None:
    runtime = BmcRuntime(config(short_dir / "state", power={"backend": "qemu"},
                                qemu={"in_band": False}))
    await start_in_band(runtime)
    try:
        assert runtime.in_band is None
        assert runtime.bmc.power.in_band_args() == []  # type: ignore[attr-defined]
    finally:
        await stop_in_band(runtime)


async def test_a_unix_listen_path_replaces_the_run_directory_socket(short_dir) -> None:
    path = short_dir / "mine.sock"
    runtime = BmcRuntime(config(short_dir / "state", power={"backend": "qemu"},
                     in_band={"listen": f"unix:{path}"}))
    await start_in_band(runtime)
    try:
        assert path.is_socket()
        assert runtime.bmc.power.in_band_path == str(path)  # type: ignore[attr-defined]
    finally:
        await stop_in_band(runtime)


async def test_simulated_backend_listens_only_when_asked(short_dir) -> None:
    runtime = BmcRuntime(config(short_dir / "state"))
    await start_in_band(runtime)
    assert runtime.in_band is None
    await stop_in_band(runtime)
    path = short_dir / "sim.sock"
    runtime = BmcRuntime(config(short_dir / "state2", in_band={"listen": f"unix:{path}"}))
    await start_in_band(runtime)
    try:
        assert runtime.in_band is not None and path.is_socket()
    finally:
        await stop_in_band(runtime)
