"""What a real BMC's chassis device keeps in memory only: identify LED, boot-option claim."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ChassisRuntime:
    """Forgotten when the BMC restarts: the identify LED and the Set In Progress claim."""

    identify_until: float = 0.0  # monotonic time a timed identify ends
    identify_forever: bool = False
    set_in_progress: int = 0  # 0 set complete, 1 set in progress, 2 commit write
    set_in_progress_at: float = 0.0
