"""The HTTPS server of one BMC's Redfish front (aiohttp), in the edge's event loop.

HTTP in, pybmc.redfish.service out: the server only translates aiohttp requests into sans-IO
Requests, saves the state a write changed and re-arms the BMC's timer.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import logging
import ssl
import time
from collections.abc import Callable
from pathlib import Path

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pybmc.core.bmc import Bmc
from pybmc.model.state import create_private_file
from pybmc.redfish.http import Request
from pybmc.redfish.service import RedfishService

log = logging.getLogger("pybmc.redfish")

MAX_BODY = 1024 * 1024
CERT_FILE = "redfish-cert.pem"
KEY_FILE = "redfish-key.pem"


def self_signed_certificate(state_dir: Path, address: str, name: str) -> tuple[Path, Path]:
    """The BMC's certificate and key in state_dir, made once for its address."""
    cert_path, key_path = state_dir / CERT_FILE, state_dir / KEY_FILE
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    state_dir.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(address)), x509.DNSName(name)]),
                critical=False)
            .sign(key, hashes.SHA256()))
    with contextlib.suppress(FileNotFoundError):
        key_path.unlink()  # a key without its certificate: both are made again
    create_private_file(key_path, key.private_bytes(  # 0600 from creation, never chmod after
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode())
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    log.info("%s: made a self-signed Redfish certificate for %s", name, address)
    return cert_path, key_path


def tls_context(bmc: Bmc, address: str) -> ssl.SSLContext:
    config = bmc.config.redfish
    if config.cert:
        cert, key = Path(config.cert), Path(config.key)
    else:
        cert, key = self_signed_certificate(bmc.config.state_dir, address, bmc.name)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


class RedfishServer:
    """One BMC's Redfish HTTP(S) listener on its address."""

    def __init__(self, bmc: Bmc, after_request: Callable[[], None]) -> None:
        self.bmc = bmc
        self.after_request = after_request
        self.service = RedfishService(bmc.parts, bmc.config.redfish.system_id or bmc.name)
        self._runner: web.AppRunner | None = None

    async def start(self, address: str) -> None:
        config = self.bmc.config.redfish
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        context = tls_context(self.bmc, address) if config.tls else None
        site = web.TCPSite(self._runner, address, config.port, ssl_context=context)
        await site.start()
        log.info("%s: serving Redfish on %s://%s:%d", self.bmc.name,
                 "https" if context else "http", address, config.port)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        answer = self.service.handle(Request(request.method, request.path, headers, body),
                                     time.monotonic())
        self.bmc.save_if_changed()
        self.after_request()
        payload = answer.encoded() if request.method != "HEAD" else b""
        return web.Response(status=answer.status, body=payload or None,
                            headers=answer.headers, content_type=answer.content_type)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
