"""sushy's virtual media flow with the tiny guest booting itself from the CD: insert_media of
an isolinux ISO holding the guest's kernel and initrd, a Cd Once override, a reset → the guest
runs from the CD (a marker on its kernel command line), then eject → the tray is empty."""

from __future__ import annotations

import functools
import hashlib
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.e2e.guestshell import GuestBmc, guest_bmc
from tests.e2e.test_redfish import ADMIN_PASSWORD, ADMIN_USER, PORT, https, open_sushy
from tests.e2e.test_redfish_virtual_media_qemu import Quiet
from tests.guest.vm import GUEST_CACHE, QEMU, guest_files, require_guest, wait_until

sushy = pytest.importorskip("sushy")
BUILD_ISO = Path(__file__).parent.parent / "guest" / "build_cd_iso.sh"
ISOLINUX = Path("/usr/lib/ISOLINUX/isolinux.bin")
pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(QEMU is None, reason="qemu-system-x86_64 is not installed"),
    pytest.mark.skipif(shutil.which("xorriso") is None, reason="xorriso is not installed"),
    pytest.mark.skipif(not ISOLINUX.exists(), reason="isolinux is not installed"),
]
__all__ = ["guest_bmc"]  # the fixture

MARKER = "pybmc_booted_from_cd=1"
CD = "/redfish/v1/Managers/BMC/VirtualMedia/Cd"


def boot_iso() -> Path:
    """The guest's bootable ISO, built once per kernel+initrd into the guest cache."""
    require_guest()
    built = guest_files()
    assert built is not None
    kernel, initrd = built
    digest = hashlib.sha256(kernel.read_bytes() + initrd.read_bytes()
                            + BUILD_ISO.read_bytes()).hexdigest()[:16]
    iso = GUEST_CACHE / f"cd-boot-{digest}.iso"
    if not iso.exists():
        subprocess.run([str(BUILD_ISO), str(kernel), str(initrd), str(iso), MARKER],
                       check=True, timeout=120)
    return iso


@pytest.fixture
def iso_url() -> Iterator[str]:
    iso = boot_iso()
    handler = functools.partial(Quiet, directory=str(iso.parent))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{iso.name}"
    finally:
        server.shutdown()
        thread.join(10)


def test_sushy_inserts_the_iso_the_guest_boots_from_and_ejects_it(
        guest_bmc, iso_url, tmp_path) -> None:
    # No -kernel: a blank disk first in SeaBIOS's order, so only the Cd override boots.
    disk = tmp_path / "blank.raw"
    with disk.open("wb") as handle:
        handle.truncate(1024 * 1024)
    bmc: GuestBmc = guest_bmc(
        ["-machine", "pc", "-m", "256", "-nodefaults",
         "-drive", f"file={disk},format=raw,if=ide,index=0"],
        redfish={"enabled": True, "port": PORT})
    name = bmc.config["bmc"]["name"]
    root = open_sushy(bmc.process.address, ADMIN_USER, ADMIN_PASSWORD)
    media = root.get_manager("/redfish/v1/Managers/BMC").virtual_media.get_member(CD)
    media.insert_media(iso_url, inserted=True, write_protected=True)
    assert wait_until(lambda: "in the tray" in bmc.process.log(), 60, 0.2), \
        bmc.process.log()[-3000:]
    system = root.get_system(f"/redfish/v1/Systems/{name}")
    system.set_system_boot_options(sushy.BOOT_SOURCE_TARGET_CD,
                                   enabled=sushy.BOOT_SOURCE_ENABLED_ONCE)
    system.reset_system(sushy.RESET_ON)
    bmc.shell.boot_and_login(timeout=240)
    status, cmdline = bmc.shell.run("cat /proc/cmdline")
    assert status == 0 and MARKER in cmdline, cmdline
    media.refresh()
    assert media.inserted is True
    media.eject_media()
    assert wait_until(lambda: "virtual CD tray empty" in bmc.process.log(), 30, 0.2)
    media.refresh()
    assert (media.inserted, media.image) == (False, None)
    assert https(bmc.process, "GET", CD)[1]["Image"] is None
