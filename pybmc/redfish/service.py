"""The Redfish service: authenticates a request, finds its route, checks ETags, answers.

Routes live in an explicit table (pybmc.redfish.routes); each declares the IPMI privilege it
needs, so a ReadOnly (IPMI user) account can read everything and write nothing.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pybmc.model.virtual_media import MediaDrive, VirtualMedia
from pybmc.redfish import http
from pybmc.redfish.auth import Identity, SessionTable, check_password, parse_basic
from pybmc.redfish.event_hub import EventHub
from pybmc.redfish.http import RedfishError, Request, Response
from pybmc.redfish.resource import V1
from pybmc.redfish.routes import ROUTES, Call, Route
from pybmc.redfish.task_list import TaskList

if TYPE_CHECKING:
    from pybmc.redfish.parts import RedfishParts

log = logging.getLogger("pybmc.redfish")

SCHEMA_URI = "http://redfish.dmtf.org/schemas/v1"

WRITE_METHODS = ("POST", "PATCH", "PUT", "DELETE")


class RedfishService:
    """One BMC's Redfish front: sans-IO, `handle(request, now)` -> Response."""

    def __init__(self, parts: RedfishParts, system_id: str,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.parts = parts
        self.system_id = system_id
        self.sessions = SessionTable(parts.users)
        self.events = EventHub(f"{V1}/Systems/{system_id}",
                               parts.config.redfish.event_networks, wall_clock)
        parts.platform.notice_listeners.append(self.events.on_notice)
        drive = parts.power if isinstance(parts.power, MediaDrive) else None
        self.media = VirtualMedia(parts.name, drive)
        self.tasks = TaskList()
        self._patterns = [(route_pattern(route.path), route) for route in ROUTES]

    def handle(self, request: Request, now: float) -> Response:
        try:
            return self._handle(request, now)
        except RedfishError as err:
            log.info("%s: %s %s -> %d %s", self.parts.name, request.method, request.path,
                     err.status, err.message_id)
            response = err.response()
            if err.status == 401:  # says how to authenticate (Basic; or a session token)
                response.headers["WWW-Authenticate"] = 'Basic realm="Redfish"'
            response.headers.setdefault("OData-Version", "4.0")
            response.headers["Cache-Control"] = "no-cache"
            return response
        except Exception:  # a handler bug must answer 500, never drop the connection
            log.exception("%s: %s %s failed", self.parts.name, request.method, request.path)
            return RedfishError(500, "InternalError", "The request failed due to an internal "
                                "service error.").response()

    def _handle(self, request: Request, now: float) -> Response:
        path = request.path.rstrip("/") or "/"
        if request.method == "POST" and path.endswith("/Members"):
            path = path.removesuffix("/Members")  # POST to Members = POST to the collection
        odata_version = request.header("odata-version")
        if odata_version and odata_version != "4.0":
            raise RedfishError(412, "PreconditionFailed", f"OData-Version {odata_version} is "
                               "not supported; this service speaks OData 4.0.")
        matches = [(m, route) for pattern, route in self._patterns
                   if (m := pattern.match(path))]
        if not matches:
            raise http.not_found(path)
        methods = {route.method for _, route in matches}
        allowed = sorted(methods | ({"HEAD"} if "GET" in methods else set()))
        method = "GET" if request.method == "HEAD" else request.method
        found = [(m, route) for m, route in matches if route.method == method]
        public = bool(found) and found[0][1].public
        identity = self._authenticate(request, now, public=public)
        if not found:
            refused = RedfishError(405, "OperationNotAllowed", "The HTTP method is not "
                                   "allowed on this resource.").response()
            refused.headers["Allow"] = ", ".join(allowed)
            return refused
        match, route = found[0]
        if identity is not None and identity.privilege < route.privilege:
            raise http.insufficient_privilege()
        body = self._json_body(request) if method in ("POST", "PATCH", "PUT") else {}
        if method == "PATCH":
            # OData annotations (@odata.id, @odata.etag...) describe, they do not change.
            body = {k: v for k, v in body.items() if not k.startswith("@odata.")}
            if not body:
                raise http.no_operation()
        call = Call(self.parts, self.system_id, self.sessions, request, identity,
                    match.groupdict(), body, now, self.events, self.media,
                    self.tasks)
        if method in ("PATCH", "PUT"):
            self._check_if_match(request, route, call)
        response = route.handler(call)
        if method in WRITE_METHODS:
            self.parts.changes.mark()
            log.info("%s: %s %s by %s -> %d", self.parts.name, method, path,
                     identity.user_name if identity else "-", response.status)
        self._finish(request, response, allowed)
        return response

    def _authenticate(self, request: Request, now: float, public: bool) -> Identity | None:
        token = request.header("x-auth-token")
        if token:
            identity = self.sessions.by_token(token, now)
            if identity is None and not public:
                raise http.unauthorized()
            return identity
        credentials = parse_basic(request.header("authorization"))
        if credentials is not None:
            identity = check_password(self.parts.users, *credentials, self.parts.lockout, now)
            if identity is None:
                log.info("%s: Redfish login failed for %r", self.parts.name, credentials[0])
                raise http.unauthorized()
            return identity
        if public:
            return None
        raise http.unauthorized()

    @staticmethod
    def _json_body(request: Request) -> dict[str, Any]:
        if not request.body:
            return {}
        kind = request.header("content-type").split(";")[0].strip().lower()
        if kind and kind != "application/json":
            raise RedfishError(415, "UnsupportedMediaType", "The request specified a "
                               "Content-Type header that is not supported.")
        try:
            body = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            raise http.malformed_json() from None
        if not isinstance(body, dict):
            raise http.malformed_json()
        return body

    def _check_if_match(self, request: Request, route: Route, call: Call) -> None:
        wanted = request.header("if-match")
        if not wanted or wanted == "*":
            return
        getter = next((r for p, r in self._patterns
                       if r.method == "GET" and p.match(route_path(call))), None)
        if getter is None:
            return
        current = getter.handler(call).body or {}
        if http.etag_of(current) not in [t.strip() for t in wanted.split(",")]:
            raise RedfishError(412, "PreconditionFailed", "The ETag supplied did not match "
                               "the ETag required to change this resource.")

    @staticmethod
    def _finish(request: Request, response: Response, allowed: list[str]) -> None:
        response.headers.setdefault("OData-Version", "4.0")
        response.headers["Allow"] = ", ".join(allowed)
        response.headers["Cache-Control"] = "no-cache"  # every resource can change any time
        body = response.body
        if body is not None and "@odata.type" in body and request.method in ("GET", "HEAD"):
            schema = str(body["@odata.type"]).lstrip("#").rsplit(".", 1)[0]
            response.headers["Link"] = f"<{SCHEMA_URI}/{schema}.json>; rel=describedby"
        if body is not None and "@odata.id" in body and response.status == 200:
            etag = http.etag_of(body)
            body["@odata.etag"] = etag
            response.headers["ETag"] = etag
            if request.method in ("GET", "HEAD") and etag in request.header("if-none-match"):
                response.status = 304
                response.body = None


def route_pattern(path: str) -> re.Pattern[str]:
    """The regular expression of a route path; `{name}` matches one path segment."""
    escaped = re.escape(path)
    return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", escaped) + "$")


def route_path(call: Call) -> str:
    return call.request.path.rstrip("/")
