"""`pybmc libvirt attach DOMAIN`: give a libvirt domain the in-band IPMI device.

QEMU's `ipmi-bmc-extern` chardev and an `isa-ipmi-kcs` (or `-bt`) device go into the domain's
persistent definition through `<qemu:commandline>` (pybmc.model.libvirt_domain.with_in_band),
so the guest's `/dev/ipmi0` reaches the BMC whose `[in_band] listen = "unix:PATH"` names the
same socket. Applying it again replaces pybmc's earlier snippet (a new socket path) or changes
nothing. The definition changes at once; a running domain gets the device at its next start.
`--print` only prints the snippet, for those who keep their domain XML elsewhere.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Annotated, Any
from xml.sax.saxutils import quoteattr

import typer

from pybmc.model.libvirt_domain import QEMU_NS, DomainXmlError, in_band_args, with_in_band

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
) -> None:
    """Add the in-band IPMI device (ipmi-bmc-extern + isa-ipmi-kcs) to DOMAIN's definition."""
    if interface not in ("kcs", "bt"):
        raise _fail(f"--interface must be kcs or bt, not {interface!r}")
    path = socket or default_socket(domain)
    if not path.startswith("/"):
        raise _fail(f"--socket must be an absolute path (QEMU opens it): {path!r}")
    if print_only:
        typer.echo(snippet(path, interface))
        return
    libvirt, conn, dom = _open_domain(uri, domain)
    try:
        flags = libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE
        current = dom.XMLDesc(flags)
        name = dom.name()
        if is_attached(current, path, interface):
            typer.echo(f"{name}: in-band IPMI already attached ({path})")
            return
        try:
            conn.defineXML(with_in_band(current, path, interface))
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
    if uri.split("?", 1)[0].endswith("/system"):
        typer.echo("the socket is mode 0600: QEMU must run as pybmc's user to open it "
                   "(a <seclabel type='static' model='dac'> or qemu.conf user; "
                   "see docs/libvirt.md)")
    if running:
        typer.echo(f"{name} is running: the device appears at its next start "
                   "(power off and on; a reset keeps the old devices)")
