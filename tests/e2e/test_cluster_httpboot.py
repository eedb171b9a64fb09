"""The cluster's HTTP boot server on a loopback address: the boot files at the top of its root,
and nothing else (no listings, no other paths, no writes)."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from functools import partial
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from pybmc.cluster.httpboot import BootFileHandler

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(tmp_path: Path) -> Iterator[int]:
    root = tmp_path / "tftp"
    root.mkdir()
    (root / "vmlinuz").write_bytes(b"kernel bytes")
    (root / ".hidden").write_text("no")
    (root / "sub").mkdir()
    (root / "sub" / "file").write_text("no")
    (tmp_path / "secret").write_text("no")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0),
                                partial(BootFileHandler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def request(port: int, method: str, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_serves_boot_files_and_nothing_else(server: int) -> None:
    assert request(server, "GET", "/vmlinuz") == (200, b"kernel bytes")
    assert request(server, "GET", "/vmlin%75z") == (200, b"kernel bytes")
    assert request(server, "HEAD", "/vmlinuz")[0] == 200
    for path in ("/", "/sub/", "/sub/file", "/../secret", "/%2e%2e/secret", "/..%2fsecret",
                 "/.hidden", "/missing"):
        assert request(server, "GET", path)[0] == 404, path
    assert request(server, "POST", "/vmlinuz")[0] == 501
