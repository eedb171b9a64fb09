"""The HTTPS server of one BMC's Redfish front (aiohttp), in the edge's event loop.

HTTP in, pybmc.redfish.service out: the server only translates aiohttp requests into sans-IO
Requests, saves the state a write changed and re-arms the BMC's timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import json
import logging
import ssl
import time
from collections.abc import Callable
from pathlib import Path

from aiohttp import ClientError, ClientSession, ClientTimeout, web, web_protocol
from aiohttp.http_parser import HttpRequestParserPy

from pybmc.core.bmc import Bmc
from pybmc.model.state import create_private_file
from pybmc.redfish.http import Request
from pybmc.redfish.service import RedfishService

log = logging.getLogger("pybmc.redfish")

# aiohttp's C parser (llhttp) answers 400 by itself to a method it does not know; Redfish
# wants 405 or 501 from the service, so the server side uses aiohttp's Python parser, which
# takes any token as a method. Redfish traffic is light: the slower parser does not show.
web_protocol.HttpRequestParser = HttpRequestParserPy  # type: ignore[misc]

MAX_BODY = 1024 * 1024
SSE_POLL = 1.0  # seconds between checks that an SSE client is still connected
DELIVERY_TIMEOUT = 5.0  # seconds for one event POST to a subscriber
CERT_FILE = "redfish-cert.pem"
KEY_FILE = "redfish-key.pem"


def self_signed_certificate(state_dir: Path, address: str, name: str) -> tuple[Path, Path]:
    """The BMC's certificate and key in state_dir, made once for its address."""
    cert_path, key_path = state_dir / CERT_FILE, state_dir / KEY_FILE
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    # Imported here: a BMC whose certificate exists (or is given) never loads cryptography.
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

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
        self.service.events.wake = self._wake
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self.address = ""  # where it listens
        self._moving: asyncio.Task[None] | None = None
        self._streams: dict[str, asyncio.Event] = {}  # SSE subscription Id -> "events queued"
        self._delivery: asyncio.Task[None] | None = None
        self._client: ClientSession | None = None

    async def start(self, address: str) -> bool:
        """Listen on address; False (after one WARNING) when the port cannot be had and
        Redfish is on only by default. With `enabled = true` in the config, raises OSError,
        and `pybmc serve` stops with a line naming the BMC and address:port."""
        config = self.bmc.config.redfish
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        try:
            context = tls_context(self.bmc, address) if config.tls else None
            site = web.TCPSite(self._runner, address, config.port, ssl_context=context)
            await site.start()
            self._site, self.address = site, address
        except (OSError, ValueError) as err:
            await self.close()
            where = f"{address}:{config.port}"
            if config.required:  # the server names the BMC and address:port (bind_error)
                if isinstance(err, OSError):
                    raise
                raise OSError(f"TLS certificate: {err}") from None
            log.warning("%s: Redfish not served: cannot listen on %s (%s); IPMI serves on; "
                        "set [redfish] port, or enabled = false", self.bmc.name, where, err)
            return False
        log.info("%s: serving Redfish on %s://%s:%d", self.bmc.name,
                 "https" if context else "http", address, config.port)
        return True

    def follow(self, address: str) -> None:
        """The BMC moved (`lan set`, or a Redfish EthernetInterface PATCH): listen there too,
        then stop listening at the old address. Connections already open stay open, so the
        answer to the PATCH that moved it still arrives."""
        if address == self.address or self._runner is None or (
                self._moving is not None and not self._moving.done()):
            return
        self._moving = asyncio.get_running_loop().create_task(self._move_to(address))

    async def _move_to(self, address: str) -> None:
        config = self.bmc.config.redfish
        assert self._runner is not None
        try:
            # The certificate stays the one made for the first address (or the given one).
            context = tls_context(self.bmc, self.address) if config.tls else None
            site = web.TCPSite(self._runner, address, config.port, ssl_context=context)
            await site.start()
        except (OSError, ValueError) as err:
            log.error("%s: cannot serve Redfish on the new address %s:%d: %s; still on %s",
                      self.bmc.name, address, config.port, err, self.address)
            return
        old, self._site, self.address = self._site, site, address
        if old is not None:
            await old.stop()
        log.info("%s: Redfish moved to %s:%d", self.bmc.name, address, config.port)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        answer = self.service.handle(Request(request.method, request.path, headers, body),
                                     time.monotonic())
        self.bmc.save_if_changed()
        self.after_request()
        if answer.stream is not None:
            return await self._stream(request, answer.stream, answer.headers)
        payload = answer.encoded() if request.method != "HEAD" else b""
        return web.Response(status=answer.status, body=payload or None,
                            headers=answer.headers, content_type=answer.content_type)

    # ------------------------------------------------------------------ events
    def _wake(self) -> None:
        """The hub queued events (or removed a subscription): streams and deliveries run."""
        for ready in self._streams.values():
            ready.set()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # events before the loop runs have no subscribers yet
            return
        if self._delivery is None or self._delivery.done():
            self._delivery = loop.create_task(self._deliver())

    async def _stream(self, request: web.Request, sid: str,
                      headers: dict[str, str]) -> web.StreamResponse:
        """Write an SSE subscription's events until the client leaves or it is deleted."""
        response = web.StreamResponse(status=200, headers=headers)
        response.content_type = "text/event-stream"
        response.force_close()  # the stream ends with its connection
        hub = self.service.events
        ready = self._streams[sid] = asyncio.Event()
        try:
            await response.prepare(request)
            while (sub := hub.subscriptions.get(sid)) is not None:
                while sub.queue:
                    event_id, document = sub.queue.popleft()
                    await response.write(
                        f"id: {event_id}\ndata: {json.dumps(document)}\n\n".encode())
                if request.transport is None or request.transport.is_closing():
                    break
                ready.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(ready.wait(), SSE_POLL)
        except (ConnectionError, RuntimeError):  # the client went away mid-write
            pass
        finally:
            self._streams.pop(sid, None)
            if hub.unsubscribe(sid):
                log.info("%s: SSE stream %s closed by the client", self.bmc.name, sid)
            else:
                log.info("%s: SSE stream %s ended: its subscription was deleted",
                         self.bmc.name, sid)
        return response

    async def _deliver(self) -> None:
        """POST queued events to their subscribers, one at a time, until none wait."""
        hub = self.service.events
        if self._client is None:
            self._client = ClientSession(timeout=ClientTimeout(total=DELIVERY_TIMEOUT))
        while True:
            waiting = [sub for sub in hub.subscriptions.values() if not sub.sse and sub.queue]
            if not waiting:
                return
            for sub in waiting:
                event_id, document = sub.queue.popleft()
                try:
                    # Listeners commonly have self-signed certificates: not verified.
                    async with self._client.post(sub.destination, json=document,
                                                 headers=sub.headers, ssl=False) as answer:
                        if answer.status >= 300:
                            log.warning("%s: event %d to subscription %s: HTTP %d",
                                        self.bmc.name, event_id, sub.sid, answer.status)
                except (ClientError, TimeoutError, OSError) as err:
                    log.warning("%s: event %d to subscription %s (%s) not delivered: %s",
                                self.bmc.name, event_id, sub.sid, sub.destination,
                                err or type(err).__name__)

    async def close(self) -> None:
        if self._moving is not None:
            self._moving.cancel()
        if self._delivery is not None:
            self._delivery.cancel()
        if self._client is not None:
            await self._client.close()
            self._client = None
        for sid in list(self._streams):
            self.service.events.unsubscribe(sid)  # wakes and ends the streams
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
