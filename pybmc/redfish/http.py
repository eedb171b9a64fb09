"""Sans-IO Redfish requests and responses, and Base-registry error bodies."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

BASE_REGISTRY = "Base.1.18"


@dataclass
class Request:
    """One HTTP request as the edge read it; `body` is the raw bytes (parsed by the service)."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


@dataclass
class Response:
    """What the edge sends back: status, headers and an optional JSON document."""

    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    xml: str | None = None  # $metadata is CSDL, not JSON
    stream: str | None = None  # an SSE EventDestination's Id: the edge streams its events

    @property
    def content_type(self) -> str | None:
        if self.stream is not None:
            return "text/event-stream"
        if self.xml is not None:
            return "application/xml"
        return "application/json" if self.body is not None else None

    def encoded(self) -> bytes:
        if self.xml is not None:
            return self.xml.encode()
        return b"" if self.body is None else json.dumps(self.body, indent=1).encode()


class RedfishError(Exception):
    """A request the service refuses: HTTP status plus one Base-registry message."""

    def __init__(self, status: int, message_id: str, message: str,
                 args: tuple[str, ...] = (), resolution: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message_id = message_id
        self.message = message
        self.message_args = args
        self.resolution = resolution

    def response(self) -> Response:
        info: dict[str, Any] = {
            "@odata.type": "#Message.v1_1_1.Message",
            "MessageId": f"{BASE_REGISTRY}.{self.message_id}",
            "Message": self.message,
            "MessageArgs": list(self.message_args),
            "MessageSeverity": "Critical" if self.status >= 500 else "Warning",
            "Resolution": self.resolution or "Correct the request and resubmit it.",
        }
        body = {"error": {"code": info["MessageId"], "message": self.message,
                          "@Message.ExtendedInfo": [info]}}
        return Response(self.status, body)


def not_found(path: str) -> RedfishError:
    return RedfishError(404, "ResourceNotFound", f"The requested resource {path} was not found.",
                        ("Resource", path))


def unauthorized() -> RedfishError:
    return RedfishError(401, "NoValidSession", "There is no valid session established with "
                        "the implementation.", resolution="Establish a session before "
                        "attempting any operations.")


def insufficient_privilege() -> RedfishError:
    return RedfishError(403, "InsufficientPrivilege", "There are insufficient privileges for "
                        "the account or credentials associated with the current session to "
                        "perform the requested operation.")


def malformed_json() -> RedfishError:
    return RedfishError(400, "MalformedJSON", "The request body submitted was malformed JSON "
                        "and could not be parsed by the receiving service.")


def property_unknown(name: str) -> RedfishError:
    return RedfishError(400, "PropertyUnknown", f"The property {name} is not in the list of "
                        "valid properties for the resource.", (name,))


def property_not_writable(name: str) -> RedfishError:
    return RedfishError(400, "PropertyNotWritable", f"The property {name} is a read-only "
                        "property and cannot be assigned a value.", (name,))


def property_value_not_in_list(value: object, name: str) -> RedfishError:
    return RedfishError(400, "PropertyValueNotInList", f"The value {json.dumps(value)} for the "
                        f"property {name} is not in the list of acceptable values.",
                        (json.dumps(value), name))


def action_parameter_missing(action: str, name: str) -> RedfishError:
    return RedfishError(400, "ActionParameterMissing", f"The action {action} requires the "
                        f"parameter {name} to be present in the request body.", (action, name))


def etag_of(body: dict[str, Any]) -> str:
    """A weak ETag over the representation, without its own @odata.etag."""
    document = {k: v for k, v in body.items() if k != "@odata.etag"}
    digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()
    return f'W/"{digest[:16]}"'


def property_value_format_error(value: object, name: str) -> RedfishError:
    return RedfishError(400, "PropertyValueFormatError", f"The value {json.dumps(value)} for "
                        f"the property {name} is not a format that the property can accept.",
                        (json.dumps(value), name))


def property_missing(name: str) -> RedfishError:
    return RedfishError(400, "PropertyMissing", f"The property {name} is a required property "
                        "and must be included in the request.", (name,))


def resource_already_exists(kind: str, name: str, value: str) -> RedfishError:
    return RedfishError(409, "ResourceAlreadyExists", f"The requested resource of type {kind} "
                        f"with the property {name} with the value {value} already exists.",
                        (kind, name, value))


def create_limit_reached() -> RedfishError:
    return RedfishError(400, "CreateLimitReachedForResource", "The create operation failed "
                        "because the resource has reached the limit of possible resources.")


def no_operation() -> RedfishError:
    return RedfishError(400, "NoOperation", "The request body submitted contain no data to act "
                        "upon and no changes to the resource took place.")
