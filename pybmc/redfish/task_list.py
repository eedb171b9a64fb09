"""TaskService: the background work a request started (a virtual-media image being fetched).

A task remembers which slot and image it is for; its state is read from that slot each time,
so it follows the backend's progress without being told: Running while the slot is
"inserting", Completed once the image is in, Exception when the fetch failed, Cancelled when
the slot was given another image or ejected first.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from pybmc.model.virtual_media import MediaSlot

TASKS = "/redfish/v1/TaskService/Tasks"
TASK_LIMIT = 32  # the oldest tasks are forgotten past this


@dataclass
class MediaTask:
    task_id: str
    slot: MediaSlot
    image: str
    started: str  # ISO 8601

    def state(self) -> str:
        if self.slot.image != self.image:
            return "Cancelled"
        return {"inserting": "Running", "inserted": "Completed",
                "failed": "Exception"}.get(self.slot.state, "Cancelled")


class TaskList:
    def __init__(self) -> None:
        self.tasks: dict[str, MediaTask] = {}
        self._next = 1

    def start(self, slot: MediaSlot, now_wall: float) -> MediaTask:
        started = datetime.datetime.fromtimestamp(now_wall, datetime.UTC)
        task = MediaTask(str(self._next), slot, slot.image, started.isoformat(timespec="seconds"))
        self._next += 1
        self.tasks[task.task_id] = task
        while len(self.tasks) > TASK_LIMIT:
            oldest = next(iter(self.tasks))
            del self.tasks[oldest]
        return task


def task_document(task: MediaTask) -> dict[str, Any]:
    state = task.state()
    body: dict[str, Any] = {
        "@odata.type": "#Task.v1_7_0.Task",
        "@odata.id": f"{TASKS}/{task.task_id}",
        "Id": task.task_id,
        "Name": f"Fetch virtual media for {task.slot.slot_id}",
        "TaskState": state,
        "TaskStatus": {"Exception": "Critical", "Cancelled": "Warning"}.get(state, "OK"),
        "StartTime": task.started,
        "Messages": [],
    }
    if task.slot.percent is not None and state in ("Running", "Completed"):
        body["PercentComplete"] = task.slot.percent
    if state == "Exception" and task.slot.detail:
        body["Messages"] = [{"MessageId": "Base.1.18.GeneralError",
                             "Message": task.slot.detail, "MessageArgs": [],
                             "Severity": "Critical"}]
    return body
