"""The QEMU command line pybmc builds around the user's args, and the boot order it sets."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from pybmc.config.bmc import QemuConfig, parse_config
from pybmc.edge.power.qemu import QemuPower
from pybmc.edge.power.qemu_argv import (
    RunPaths,
    accel_args,
    build_command,
    firmware_boot_order,
    split_boot_option,
    user_sets_accel,
)
from pybmc.model.power import BootChoice, PowerAction, PowerError
from pybmc.wire.codes import Cc

GUID = uuid.UUID("12345678-1234-5678-9abc-def012345678")
PATHS = RunPaths(Path("/tmp/pybmc-0/cn1-abcd"))


def command(args: list[str], kvm: bool = False, extra: tuple[str, ...] = ()) -> list[str]:
    return build_command("qemu-system-x86_64", args, name="cn1", guid=GUID, paths=PATHS,
                         kvm=kvm, extra=extra)


def option_values(argv: list[str], name: str) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == name]


# ------------------------------------------------------------------------ -boot handling
@pytest.mark.parametrize(("args", "order", "kept"), [
    ([], "cad", []),
    (["-m", "512"], "cad", ["-m", "512"]),
    (["-boot", "order=n"], "n", ["-boot", "order=n"]),
    (["-boot", "cd"], "cd", ["-boot", "cd"]),
    (["-boot", "order=c,once=n,menu=on"], "c", ["-boot", "order=c,menu=on"]),
    (["-boot", "once=n"], "cad", []),
    (["-boot", "reboot-timeout=0", "-m", "64"], "cad", ["-boot", "reboot-timeout=0", "-m", "64"]),
    (["-boot", "order=dc", "-boot", "strict=on"], "dc",
     ["-boot", "order=dc", "-boot", "strict=on"]),
])
def test_split_boot_option(args: list[str], order: str, kept: list[str]) -> None:
    assert split_boot_option(args) == (order, kept)


@pytest.mark.parametrize(("device", "base", "order"), [
    ("default", "cad", "cad"),
    ("pxe", "cad", "nca"),
    ("disk", "cad", "cad"),
    ("cdrom", "cad", "dca"),
    ("floppy", "cad", "acd"),
    ("bios", "cad", "cad"),  # SeaBIOS has no setup screen
    ("pxe", "n", "n"),
    ("disk", "n", "cn"),
    ("pxe", "cdn", "ncd"),
    ("default", "ccdd", "cd"),
    ("default", "", "cad"),
])
def test_firmware_boot_order(device: str, base: str, order: str) -> None:
    assert firmware_boot_order(BootChoice(device), base) == order


def test_firmware_boot_order_ignores_efi_flag() -> None:
    assert firmware_boot_order(BootChoice("pxe", efi=True), "cad") == "nca"


# ------------------------------------------------------------------------ the command line
def test_command_adds_what_pybmc_owns() -> None:
    argv = command(["-m", "256"])
    assert argv[0] == "qemu-system-x86_64"
    assert option_values(argv, "-qmp") == [f"unix:{PATHS.qmp},server=on,wait=off"]
    assert option_values(argv, "-chardev") == [
        f"socket,id=pybmc-serial,path={PATHS.serial},server=on,wait=off"]
    assert option_values(argv, "-serial") == ["chardev:pybmc-serial"]
    assert option_values(argv, "-uuid") == [str(GUID)]
    assert option_values(argv, "-name") == ["cn1"]
    assert option_values(argv, "-display") == ["none"]
    assert argv[-2:] == ["-S", "-no-shutdown"]
    assert "mon:" not in " ".join(argv) and "telnet" not in " ".join(argv)


def test_our_serial_port_is_the_first() -> None:
    argv = command(["-serial", "file:/tmp/second.log"])
    assert option_values(argv, "-serial") == ["chardev:pybmc-serial", "file:/tmp/second.log"]


def test_user_identity_and_display_win() -> None:
    argv = command(["-uuid", "00000000-0000-0000-0000-000000000001", "-name", "mine",
                    "-vnc", ":1"])
    assert option_values(argv, "-uuid") == ["00000000-0000-0000-0000-000000000001"]
    assert option_values(argv, "-name") == ["mine"]
    assert "-display" not in argv


def test_commas_in_paths_are_doubled() -> None:
    argv = build_command("qemu-system-x86_64", [], name="cn1", guid=GUID,
                         paths=RunPaths(Path("/tmp/a,b")), kvm=False)
    assert option_values(argv, "-qmp") == ["unix:/tmp/a,,b/qmp.sock,server=on,wait=off"]


def test_daemonize_is_dropped() -> None:
    assert "-daemonize" not in command(["-daemonize", "-m", "64"])


def test_extra_args_come_after_the_users() -> None:
    argv = command(["-m", "64"], extra=("-device", "isa-ipmi-kcs,bmc=b"))
    assert argv.index("isa-ipmi-kcs,bmc=b") > argv.index("64")


@pytest.mark.parametrize("args", [
    ["-accel", "tcg"], ["-enable-kvm"], ["-machine", "q35,accel=kvm"], ["-M", "pc,accel=tcg"],
])
def test_user_accelerator_is_kept(args: list[str]) -> None:
    assert user_sets_accel(args)
    assert accel_args(args, kvm=True) == []
    assert option_values(command(args, kvm=True), "-accel") == option_values(args, "-accel")


def test_accelerator_kvm_with_tcg_fallback() -> None:
    assert option_values(command(["-m", "64"], kvm=True), "-accel") == ["kvm", "tcg"]
    assert option_values(command(["-m", "64"], kvm=False), "-accel") == ["tcg"]


# ------------------------------------------------------------------------ the backend object
def make_power(tmp_path: Path, **qemu: object) -> QemuPower:
    return QemuPower("cn1", QemuConfig(**qemu), GUID, tmp_path / "run")  # type: ignore[arg-type]


def test_from_bmc_config_uses_a_short_run_dir(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    cfg = parse_config({"bmc": {"name": "cn1", "address": "127.0.0.2", "state_dir": str(deep)},
                        "power": {"backend": "qemu"}, "qemu": {"args": ["-m", "64"]}})
    power = QemuPower.from_bmc_config(cfg, initially_on=False)
    assert len(str(power.paths.serial).encode()) < 108
    assert power.serial_path.endswith("serial.sock")
    assert power.guid == cfg.guid
    again = QemuPower.from_bmc_config(cfg, initially_on=False)
    assert again.run_dir == power.run_dir  # found again after a restart


def test_make_power_builds_the_qemu_backend(tmp_path: Path) -> None:
    from pybmc.edge.assembly import make_power

    cfg = parse_config({"bmc": {"name": "cn1", "address": "127.0.0.2",
                                "state_dir": str(tmp_path)},
                        "power": {"backend": "qemu"}})
    power = make_power(cfg, initially_on=False)
    assert isinstance(power, QemuPower)
    assert not power.is_on()


def test_in_band_args_only_with_a_listener(tmp_path: Path) -> None:
    power = make_power(tmp_path)
    assert power.in_band_args() == []
    power.in_band_path = "/tmp/x/ipmi.sock"
    args = power.in_band_args()
    assert option_values(args, "-chardev") == ["socket,id=pybmc-ipmi,path=/tmp/x/ipmi.sock,"
                                                "reconnect=1"]
    assert option_values(args, "-device") == ["ipmi-bmc-extern,id=pybmc-bmc,chardev=pybmc-ipmi",
                                               "isa-ipmi-kcs,bmc=pybmc-bmc"]
    power._version = (9, 2, 0)
    assert "reconnect-ms=1000" in power.in_band_args()[1]
    assert make_power(tmp_path, in_band=False).in_band_args() == []


async def test_actions_that_need_power_are_refused_while_off(tmp_path: Path) -> None:
    power = make_power(tmp_path)
    for action in (PowerAction.RESET, PowerAction.DIAG, PowerAction.SOFT_OFF):
        with pytest.raises(PowerError) as caught:
            power.request(action)
        assert caught.value.cc == Cc.NOT_SUPPORTED_IN_PRESENT_STATE


async def test_power_on_with_a_missing_binary_gets_a_completion_code(tmp_path: Path) -> None:
    power = make_power(tmp_path, binary="/nonexistent/qemu-system-x86_64")
    with pytest.raises(PowerError) as caught:
        power.request(PowerAction.ON)
    assert caught.value.cc == Cc.NOT_SUPPORTED_IN_PRESENT_STATE
    assert not power.is_on()


async def test_shutdown_events_are_classified(tmp_path: Path) -> None:
    """A guest reboot, SeaBIOS's extra reset after a warm reset, and a guest power off."""
    import asyncio

    power = make_power(tmp_path)
    submitted: list[str] = []
    power._submit = lambda operation, what: submitted.append(what)  # type: ignore[method-assign]
    events = []
    power.set_listener(lambda event: events.append(event))
    power._on = True

    power._on_qmp_event("SHUTDOWN", {"guest": True, "reason": "guest-reset"})
    assert submitted == ["guest reboot"]
    power._hop_deadline = asyncio.get_running_loop().time() + 1.0
    power._on_qmp_event("SHUTDOWN", {"guest": True, "reason": "guest-reset"})
    assert submitted == ["guest reboot", "firmware reset"]
    power._on_qmp_event("SHUTDOWN", {"guest": True, "reason": "guest-reset"})  # window used up
    assert submitted[-1] == "guest reboot"
    power._on_qmp_event("SHUTDOWN", {"guest": False, "reason": "host-qmp-quit"})
    assert events == []  # the process exit reports that one
    power._on_qmp_event("SHUTDOWN", {"guest": True, "reason": "guest-shutdown"})
    assert [(e.kind, e.cause) for e in events] == [("off", "guest power off")]
    assert not power.is_on()
