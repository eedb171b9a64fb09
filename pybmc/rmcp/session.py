"""Placeholder: the RMCP / IPMI 1.5 / RMCP+ session layer is being written."""

from __future__ import annotations

from typing import Any


class SessionManager:
    def __init__(self, bmc: Any) -> None:
        self.bmc = bmc
