"""TaskService routes: the service and its Tasks (see pybmc.redfish.task_list)."""

from __future__ import annotations

from pybmc.redfish import http
from pybmc.redfish.http import Response
from pybmc.redfish.resource import V1, Call, R, Route, collection, ok
from pybmc.redfish.task_list import TASKS, task_document

SERVICE = f"{V1}/TaskService"


def get_task_service(call: Call) -> Response:
    return ok({
        "@odata.type": "#TaskService.v1_2_0.TaskService",
        "@odata.id": SERVICE,
        "Id": "TaskService",
        "Name": "Task Service",
        "ServiceEnabled": True,
        "Status": {"State": "Enabled", "Health": "OK"},
        "Tasks": {"@odata.id": TASKS},
    })


def get_tasks(call: Call) -> Response:
    return collection(TASKS, "Task", "Tasks", list(call.tasks.tasks))


def get_task(call: Call) -> Response:
    task = call.tasks.tasks.get(call.params["task_id"])
    if task is None:
        raise http.not_found(call.request.path)
    return ok(task_document(task))


ROUTES: tuple[Route, ...] = (
    Route("GET", SERVICE, R.USER, get_task_service),
    Route("GET", TASKS, R.USER, get_tasks),
    Route("GET", f"{TASKS}/{{task_id}}", R.USER, get_task),
)
