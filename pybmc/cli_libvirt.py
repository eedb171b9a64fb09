"""`pybmc libvirt attach DOMAIN`: give a libvirt domain the in-band IPMI device.

QEMU's `ipmi-bmc-extern` chardev and an `isa-ipmi-kcs` (or `-bt`) device go into the domain's
persistent definition through `<qemu:commandline>` (pybmc.model.libvirt_domain.with_in_band),
so the guest's `/dev/ipmi0` reaches the BMC whose `[in_band] listen = "unix:PATH"` names the
same socket. Applying it again replaces pybmc's earlier snippet (a new socket path) or changes
nothing. The definition changes at once; a running domain gets the device at its next start.
`--print` only prints the snippet, for those who keep their domain XML elsewhere.

`--seclabel` also gives the domain a static DAC label, so that QEMU runs as pybmc's user
(`--seclabel-owner UID:GID`, by default the user running the command) and can open pybmc's
0600 socket under qemu:///system, where QEMU otherwise runs as libvirt-qemu.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from typing import Annotated, Any
from xml.sax.saxutils import quoteattr

import typer

from pybmc.model.libvirt_domain import (
    QEMU_NS,
    DomainXmlError,
    dac_label,
    dac_seclabel_xml,
    in_band_args,
    with_dac_seclabel,
    with_in_band,
)

libvirt_app = typer.Typer(help="Prepare libvirt domains for pybmc (in-band IPMI).",
                          no_args_is_help=True)

DEFAULT_URI = "qemu:///system"


def _fail(message: str, status: int = 2) -> typer.Exit:
    typer.echo(f"pybmc libvirt: {message}", err=True)
    return typer.Exit(status)


def default_socket(domain: str) -> str:
    return f"/run/pybmc/{domain}-inband.sock"


def snippet(socket_path: str, interface: str = "kcs") -> str:
    """The <qemu:commandline> element (the <domain> must declare xmlns:qemu)."""
    args = "".join(f"  <qemu:arg value={quoteattr(value)}/>\n"
                   for value in in_band_args(socket_path, interface))
    return (f"<!-- in <domain ... xmlns:qemu='{QEMU_NS}'> -->\n"
            f"<qemu:commandline>\n{args}</qemu:commandline>")


def attached_args(xml_text: str) -> list[str]:
    """The values of the domain's <qemu:commandline> arguments."""
    root = ET.fromstring(xml_text)
    commandline = root.find(f"{{{QEMU_NS}}}commandline")
    if commandline is None:
        return []
    return [arg.get("value", "") for arg in commandline]


def is_attached(xml_text: str, socket_path: str, interface: str = "kcs") -> bool:
    wanted = in_band_args(socket_path, interface)
    have = attached_args(xml_text)
    return any(have[i:i + len(wanted)] == wanted for i in range(len(have)))


def parse_owner(owner: str | None) -> tuple[int, int]:
    """--seclabel-owner UID:GID (numbers), by default this process's user and group."""
    if owner is None:
        return os.getuid(), os.getgid()
    uid, _, gid = owner.partition(":")
    if not (uid.isdigit() and gid.isdigit()):
        raise _fail(f"--seclabel-owner must be UID:GID (numbers), not {owner!r}")
    return int(uid), int(gid)


def _open_domain(uri: str, domain: str) -> tuple[Any, Any, Any]:
    from pybmc.edge.power.libvirt_connection import LibvirtMissing, import_libvirt

    try:
        libvirt = import_libvirt()
    except LibvirtMissing as err:
        raise _fail(str(err)) from None
    libvirt.registerErrorHandler(lambda _context, _error: None, None)  # raised, not printed
    try:
        conn = libvirt.open(uri)
    except libvirt.libvirtError as err:
        raise _fail(f"cannot connect to {uri}: {err.get_error_message()}", 1) from None
    for lookup in (conn.lookupByUUIDString, conn.lookupByName):
        try:
            return libvirt, conn, lookup(domain)
        except libvirt.libvirtError:
            continue
    conn.close()
    raise _fail(f"no domain {domain!r} on {uri}", 1)


@libvirt_app.command()
def attach(
    domain: Annotated[str, typer.Argument(help="The domain's name or UUID.")],
    uri: Annotated[str, typer.Option(help="libvirt URI.")] = DEFAULT_URI,
    socket: Annotated[str | None, typer.Option(
        help="pybmc's in-band unix socket, as in [in_band] listen = \"unix:PATH\" "
             "[default: /run/pybmc/DOMAIN-inband.sock].", show_default=False)] = None,
    interface: Annotated[str, typer.Option(help="The guest's system interface: kcs or bt.")]
    = "kcs",
    print_only: Annotated[bool, typer.Option(
        "--print", help="Only print the XML snippet; change nothing.")] = False,
    seclabel: Annotated[bool, typer.Option(
        "--seclabel", help="Also run the domain's QEMU as pybmc's user (a static DAC "
        "<seclabel>, relabel='no'), so it can open the 0600 socket.")] = False,
    seclabel_owner: Annotated[str | None, typer.Option(
        help="UID:GID QEMU runs as with --seclabel [default: this user's].",
        show_default=False)] = None,
) -> None:
    """Add the in-band IPMI device (ipmi-bmc-extern + isa-ipmi-kcs) to DOMAIN's definition."""
    if interface not in ("kcs", "bt"):
        raise _fail(f"--interface must be kcs or bt, not {interface!r}")
    path = socket or default_socket(domain)
    if not path.startswith("/"):
        raise _fail(f"--socket must be an absolute path (QEMU opens it): {path!r}")
    owner = parse_owner(seclabel_owner) if seclabel else None
    if print_only:
        typer.echo(snippet(path, interface))
        if owner is not None:
            typer.echo(dac_seclabel_xml(*owner))
        return
    libvirt, conn, dom = _open_domain(uri, domain)
    try:
        flags = libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE
        current = dom.XMLDesc(flags)
        name = dom.name()
        label = None if owner is None else f"+{owner[0]}:+{owner[1]}"
        if is_attached(current, path, interface) and (label is None
                                                      or dac_label(current) == label):
            typer.echo(f"{name}: in-band IPMI already attached ({path})")
            return
        try:
            wanted = with_in_band(current, path, interface)
            if owner is not None:
                wanted = with_dac_seclabel(wanted, *owner)
            conn.defineXML(wanted)
        except DomainXmlError as err:
            raise _fail(f"{name}: {err}", 1) from None
        except libvirt.libvirtError as err:
            raise _fail(f"{name}: libvirt refused the definition: "
                        f"{err.get_error_message()}", 1) from None
        running = dom.isActive()
    finally:
        conn.close()
    typer.echo(f"{name}: in-band IPMI attached: {interface.upper()} device -> {path}")
    typer.echo(f'serve it with [in_band] listen = "unix:{path}" in the BMC\'s config')
    if label is not None:
        typer.echo(f"{name}: QEMU runs as {label} (static DAC seclabel, relabel='no': its "
                   "disk images must be readable by that user)")
    elif uri.split("?", 1)[0].endswith("/system"):
        typer.echo("the socket is mode 0600: QEMU must run as pybmc's user to open it "
                   "(--seclabel, [in_band] socket_group or qemu.conf user; "
                   "see docs/libvirt.md)")
    if running:
        typer.echo(f"{name} is running: the device appears at its next start "
                   "(power off and on; a reset keeps the old devices)")
