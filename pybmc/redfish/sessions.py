"""SessionService: log in (POST Sessions), list, read and log out (DELETE) Redfish sessions."""

from __future__ import annotations

from typing import Any

from pybmc.redfish import http
from pybmc.redfish.auth import check_password
from pybmc.redfish.http import RedfishError, Response
from pybmc.redfish.resource import (
    V1,
    Call,
    R,
    Route,
    ok,
)
from pybmc.wire.codes import Privilege


def get_session_service(call: Call) -> Response:
    return ok({
        "@odata.type": "#SessionService.v1_1_9.SessionService",
        "@odata.id": f"{V1}/SessionService",
        "Id": "SessionService",
        "Name": "Session Service",
        "ServiceEnabled": True,
        "SessionTimeout": 600,
        "Sessions": {"@odata.id": f"{V1}/SessionService/Sessions"},
    })


def get_sessions(call: Call) -> Response:
    members = [{"@odata.id": f"{V1}/SessionService/Sessions/{sid}"}
               for sid in sorted(call.sessions.sessions, key=int)]
    return ok({
        "@odata.type": "#SessionCollection.SessionCollection",
        "@odata.id": f"{V1}/SessionService/Sessions",
        "Name": "Session Collection",
        "Members": members,
        "Members@odata.count": len(members),
    })


def _session_document(sid: str, user_name: str) -> dict[str, Any]:
    return {
        "@odata.type": "#Session.v1_7_0.Session",
        "@odata.id": f"{V1}/SessionService/Sessions/{sid}",
        "Id": sid,
        "Name": "User Session",
        "UserName": user_name,
    }


def post_session(call: Call) -> Response:
    name = call.body.get("UserName")
    password = call.body.get("Password")
    if not isinstance(name, str):
        raise http.action_parameter_missing("Session", "UserName")
    if not isinstance(password, str):
        raise http.action_parameter_missing("Session", "Password")
    if check_password(call.parts.users, name, password, call.parts.lockout, call.now) is None:
        raise http.unauthorized()
    session = call.sessions.create(name, call.now)
    if session is None:
        raise RedfishError(503, "SessionLimitExceeded", "The session establishment failed due "
                           "to the number of simultaneous sessions exceeding the limit of the "
                           "implementation.")
    location = f"{V1}/SessionService/Sessions/{session.session_id}"
    return Response(201, _session_document(session.session_id, name),
                    {"X-Auth-Token": session.token, "Location": location})


def get_session(call: Call) -> Response:
    session = call.sessions.sessions.get(call.params["session_id"])
    if session is None:
        raise http.not_found(call.request.path)
    return ok(_session_document(session.session_id, session.user_name))


def delete_session(call: Call) -> Response:
    sid = call.params["session_id"]
    session = call.sessions.sessions.get(sid)
    if session is None:
        raise http.not_found(call.request.path)
    identity = call.identity
    own = identity is not None and identity.session_id == sid
    if not own and (identity is None or identity.privilege < Privilege.ADMINISTRATOR):
        raise http.insufficient_privilege()
    call.sessions.delete(sid)
    return Response(204)




ROUTES: tuple[Route, ...] = (
    Route("GET", f"{V1}/SessionService", R.USER, get_session_service),
    Route("GET", f"{V1}/SessionService/Sessions", R.USER, get_sessions),
    Route("POST", f"{V1}/SessionService/Sessions", R.NONE, post_session, public=True),
    Route("GET", f"{V1}/SessionService/Sessions/{{session_id}}", R.USER, get_session),
    Route("DELETE", f"{V1}/SessionService/Sessions/{{session_id}}", R.USER, delete_session),
)
