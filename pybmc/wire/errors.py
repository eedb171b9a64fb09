"""The error that ends an IPMI command with a completion code, shared by every layer above."""

from __future__ import annotations


class CommandError(Exception):
    """Ends a command with a non-zero completion code (and, rarely, data after it)."""

    def __init__(self, cc: int, data: bytes = b"", reason: str = "") -> None:
        super().__init__(reason or f"completion code {cc:#04x}")
        self.cc = cc
        self.data = data
