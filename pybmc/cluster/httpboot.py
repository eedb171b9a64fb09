"""The lab's HTTP boot server: kernel and initrd for iPXE over HTTP (much faster than TFTP for
a large initrd), read-only, from the TFTP root, on the head's address only.

Run by `pybmc cluster up` as its own process (recorded, stopped by `down`):
    python -m pybmc.cluster.httpboot --root DIR --bind ADDRESS --port PORT
Only GET and HEAD of files directly in DIR; no listings, no other paths. One line per request
on stderr (the run dir's http.log).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

log = logging.getLogger("pybmc.cluster.http")


class BootFileHandler(SimpleHTTPRequestHandler):
    """Files at the top of the root only; everything else is 404, listings included."""

    server_version = "pybmc-httpboot"
    sys_version = ""

    def send_head(self) -> Any:
        name = unquote(self.path.split("?", 1)[0].split("#", 1)[0]).lstrip("/")
        root = Path(self.directory)
        if not name or "/" in name or name.startswith(".") or not (root / name).is_file():
            self.send_error(404, "not a boot file")
            return None
        return super().send_head()

    def list_directory(self, path: str | os.PathLike[str]) -> None:
        self.send_error(404, "no listings")
        return None

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)


def serve(root: Path, address: str, port: int) -> None:
    handler = partial(BootFileHandler, directory=str(root))
    with ThreadingHTTPServer((address, port), handler) as server:
        server.daemon_threads = True
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        log.info("serving %s on http://%s:%d/", root, address, port)
        server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="pybmc cluster HTTP boot server")
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--bind", required=True)
    parser.add_argument("--port", type=int, default=8080)
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        serve(options.root, options.bind, options.port)
    except OSError as err:
        log.error("cannot serve on %s:%d: %s", options.bind, options.port, err)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
