"""Redfish virtual media on the qemu backend: an ISO served on 127.0.0.1 reaches the guest's CD."""

from __future__ import annotations

import functools
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.e2e.guestshell import GuestBmc, guest_bmc, guest_qemu_args
from tests.e2e.test_redfish import PORT, https
from tests.guest.vm import QEMU, DebugConsole, require_guest, wait_until

XORRISO = shutil.which("xorriso")
pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(QEMU is None, reason="qemu-system-x86_64 is not installed"),
    pytest.mark.skipif(XORRISO is None, reason="xorriso is not installed"),
    pytest.mark.skipif(shutil.which("ipmitool") is None, reason="no ipmitool"),
]
__all__ = ["guest_bmc"]  # the fixture

CD = "/redfish/v1/Managers/BMC/VirtualMedia/Cd"
GREETING = "hello from a Redfish CD"
MOUNT = "mkdir -p /cd && mount -t iso9660 -o ro /dev/sr0 /cd"  # the guest has no /mnt


# A no-emulation El Torito boot image: prints BOOT_MESSAGE on SeaBIOS's debug port (0x402),
# then halts. Position-independent: DS = CS, and the message is found from the call's return.
BOOT_MESSAGE = b"PYBMC CD BOOTED"
BOOT_CODE = bytes.fromhex(
    "0e1f" "e80000" "5e" "83c613" "ba0204"  # push cs; pop ds; call $+3; pop si; add si,13h
    "ac" "84c0" "7403" "ee" "ebf8"  # loop: lodsb; test al,al; jz done; out dx,al; jmp loop
    "fa" "f4" "ebfd") + BOOT_MESSAGE + b"\n\0"  # done: cli; hlt; jmp $-1


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def image_server(tmp_path: Path) -> Iterator[str]:
    """A one-file ISO built by the test, served over HTTP on 127.0.0.1; yields its URL."""
    content = tmp_path / "iso-root"
    content.mkdir()
    (content / "hello.txt").write_text(GREETING + "\n")
    (content / "boot.bin").write_bytes(BOOT_CODE.ljust(2048, b"\0"))
    served = tmp_path / "served"
    served.mkdir()
    subprocess.run([XORRISO or "xorriso", "-as", "mkisofs", "-quiet", "-V", "PYBMC",
                    "-b", "boot.bin", "-no-emul-boot", "-boot-load-size", "4",
                    "-o", str(served / "test.iso"), str(content)], check=True, timeout=60)
    handler = functools.partial(Quiet, directory=str(served))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/test.iso"
    finally:
        server.shutdown()
        thread.join(10)


def test_inserted_iso_is_read_by_the_guest_and_ejected(guest_bmc, image_server) -> None:
    require_guest()
    bmc: GuestBmc = guest_bmc(guest_qemu_args(), redfish={"enabled": True, "port": PORT})
    bmc.process.ipmitool("chassis", "power", "on")
    bmc.shell.boot_and_login()
    status, _ = bmc.shell.run(MOUNT)
    assert status != 0  # the tray pybmc added is there, and empty
    status, task = https(bmc.process, "POST", f"{CD}/Actions/VirtualMedia.InsertMedia",
                         {"Image": image_server, "Inserted": True, "WriteProtected": True})
    assert status == 202 and task["TaskState"] in ("Running", "Completed"), task
    # The fetch is a task: it completes once the image is in the VM's tray.
    assert wait_until(lambda: https(bmc.process, "GET", task["@odata.id"])[1]["TaskState"]
                      == "Completed", 30, 0.2), bmc.process.log()[-3000:]
    assert "in the tray" in bmc.process.log()
    assert https(bmc.process, "GET", task["@odata.id"])[1]["PercentComplete"] == 100
    assert https(bmc.process, "GET", CD)[1]["Inserted"] is True

    def mounted() -> bool:
        return bmc.shell.run(MOUNT)[0] == 0

    if not wait_until(mounted, 30, 0.5):
        seen = [bmc.shell.run(c)[1] for c in ("ls -l /dev/sr0", "dmesg | tail -15", MOUNT)]
        raise AssertionError("the guest never saw the medium:\n" + "\n".join(seen))
    status, text = bmc.shell.run("cat /cd/hello.txt")
    assert status == 0 and GREETING in text
    assert bmc.shell.run("umount /cd")[0] == 0
    assert https(bmc.process, "POST", f"{CD}/Actions/VirtualMedia.EjectMedia", {})[0] == 204
    assert wait_until(lambda: "virtual CD tray empty" in bmc.process.log(), 30, 0.2)
    status, text = bmc.shell.run("dd if=/dev/sr0 of=/dev/null bs=2048 count=1")
    assert status != 0, text  # no medium in the tray any more
    assert https(bmc.process, "GET", CD)[1]["Image"] is None


def test_cd_boot_override_boots_the_inserted_iso(guest_bmc, image_server, tmp_path) -> None:
    """Inserted while off: the VM launches with the image in pybmc's CD, and a Cd override
    makes SeaBIOS boot it (the VM has a blank disk and no CD of its own)."""
    disk = tmp_path / "blank.raw"
    with disk.open("wb") as handle:
        handle.truncate(1024 * 1024)
    debugcon = tmp_path / "debugcon.log"
    args = ["-machine", "pc", "-m", "64", "-nodefaults",
            "-drive", f"file={disk},format=raw,if=ide,index=0",
            "-chardev", f"file,id=dbg,path={debugcon},append=on",
            "-device", "isa-debugcon,iobase=0x402,chardev=dbg"]
    bmc: GuestBmc = guest_bmc(args, redfish={"enabled": True, "port": PORT})
    name = bmc.config["bmc"]["name"]
    assert https(bmc.process, "POST", f"{CD}/Actions/VirtualMedia.InsertMedia",
                 {"Image": image_server})[0] == 202
    assert wait_until(lambda: "in the tray" in bmc.process.log(), 30, 0.2)
    system = f"/redfish/v1/Systems/{name}"
    assert https(bmc.process, "PATCH", system, {"Boot": {
        "BootSourceOverrideTarget": "Cd", "BootSourceOverrideEnabled": "Once"}})[0] == 204
    assert https(bmc.process, "POST", f"{system}/Actions/ComputerSystem.Reset",
                 {"ResetType": "On"})[0] == 204

    def booted() -> bool:
        return debugcon.exists() and BOOT_MESSAGE in debugcon.read_bytes()

    assert wait_until(booted, 60, 0.2), debugcon.read_bytes()[-2000:] if debugcon.exists() \
        else bmc.process.log()[-3000:]
    # The override, not the default order (disk first), chose the CD.
    assert DebugConsole(debugcon).first_boot_device(0) == "DVD/CD"
