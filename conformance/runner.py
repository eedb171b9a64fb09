"""Run the catalogue against both servers in parallel and judge each scenario.

Verdicts:
- same                the normalised outputs are equal (and pybmc behaves as a BMC should);
- differs-expected    they differ for a reason written in expected.py;
- pybmc-only          the reference cannot do it (a step a correct BMC allows fails on ipmi_sim,
                      or ipmi_sim is not asked because it would crash) and pybmc does it right;
- differs-unexpected  anything else, including pybmc failing a step a correct BMC allows or
                      allowing one it should refuse. Any such row makes the run fail.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from conformance.clients import Outcome, Sleep, Target
from conformance.expected import EXPECTED
from conformance.normalize import normalise
from conformance.scenarios import Scenario

SAME = "same"
EXPECTED_DIFF = "differs-expected"
PYBMC_ONLY = "pybmc-only"
UNEXPECTED = "differs-unexpected"
NOT_RUN = "not run"


@dataclass
class SideResult:
    """One scenario's result on one server."""

    text: str = ""
    as_expected: bool = True  # every step succeeded or failed as a correct BMC would
    failed_allowed_step: bool = False  # a step a correct BMC allows failed
    seconds: float = 0.0
    ran: bool = True


@dataclass
class Row:
    scenario: Scenario
    reference: SideResult
    pybmc: SideResult
    verdict: str = ""
    reason: str = ""


@dataclass
class Runner:
    reference: Target | None
    pybmc: Target | None
    jobs: int = 6
    # Called before each scenario's reference side; restarts ipmi_sim if it died.
    ensure_reference: Callable[[], str | None] = lambda: None
    progress: Callable[[Row], None] = lambda row: None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _restarts: int = 0  # how often ipmi_sim was found dead and restarted

    def run(self, scenarios: Iterable[Scenario]) -> list[Row]:
        scenarios = list(scenarios)
        order = {s.name: index for index, s in enumerate(scenarios)}
        chains = _chains(scenarios)
        rows: dict[str, Row] = {}
        with ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="scenario") as pool:
            futures: list[Future[list[Row]]] = [pool.submit(self._run_chain, c) for c in chains]
            for future in futures:
                for row in future.result():
                    rows[row.scenario.name] = row
        # A scenario of its own (no lock, so no state it depends on) that differed runs once
        # more alone, and that verdict counts: a real difference shows up again.
        for chain in chains:
            if len(chain) != 1 or chain[0].lock is not None:
                continue
            if rows[chain[0].name].verdict == UNEXPECTED:
                row = self._run_one(chain[0])
                if row.verdict != UNEXPECTED:
                    row.reason = (row.reason + " " if row.reason else "") + \
                        "(differed on the parallel run; same on the sequential retry)"
                rows[chain[0].name] = row
        return sorted(rows.values(), key=lambda r: order[r.scenario.name])

    def _run_chain(self, chain: list[Scenario]) -> list[Row]:
        rows = []
        restarts = self._restarts
        for scenario in chain:
            row = self._run_one(scenario)
            if (self._restarts != restarts and row.verdict == UNEXPECTED
                    and row.pybmc.as_expected):
                # ipmi_sim crashed and came back with its start-up state while this chain
                # ran: what the chain set on it before is gone, so no comparison is fair.
                row.verdict = PYBMC_ONLY
                row.reason = ("ipmi_sim crashed and was restarted while this chain ran; the "
                              "settings made earlier in the chain were lost on its side")
            rows.append(row)
        return rows

    def _run_one(self, scenario: Scenario) -> Row:
        with ThreadPoolExecutor(max_workers=2) as sides:
            ref_future = sides.submit(self._reference_side, scenario)
            py_future = sides.submit(self._side, scenario, self.pybmc)
            row = Row(scenario, ref_future.result(), py_future.result())
        judge(row)
        with self._lock:
            self.progress(row)
        return row

    def _reference_side(self, scenario: Scenario) -> SideResult:
        if not scenario.reference:
            return SideResult(text="(not run against ipmi_sim)", ran=False)
        problem = self.ensure_reference()
        result = self._side(scenario, self.reference)
        crashed = self.ensure_reference()
        with self._lock:
            self._restarts += (problem is not None) + (crashed is not None)
        if problem is None and crashed is not None:
            result.text += f"\n[{crashed}]"
            result.failed_allowed_step = True
            result.as_expected = False
        return result

    @staticmethod
    def _side(scenario: Scenario, target: Target | None) -> SideResult:
        if target is None:
            return SideResult(text="(server not started)", ran=False)
        return run_steps(scenario, target)


def run_steps(scenario: Scenario, target: Target) -> SideResult:
    result = SideResult()
    parts: list[str] = []
    started = time.monotonic()
    for step in scenario.steps:
        outcome: Outcome = step.run(target, scenario.timeout)
        if outcome.ok != step.expect_ok:
            result.as_expected = False
            if step.expect_ok:
                result.failed_allowed_step = True
        if isinstance(step, Sleep):
            continue
        text = normalise(outcome.text, target.address)
        if scenario.normalise is not None:
            text = scenario.normalise(text)
        parts.append(f"$ {step.describe()}\n{text}".rstrip())
        if outcome.text.startswith("timed out"):
            break  # the server stopped answering; later steps would only wait too
    result.text = "\n".join(parts)
    result.seconds = time.monotonic() - started
    return result


def judge(row: Row) -> None:
    ref, py, name = row.reference, row.pybmc, row.scenario.name
    listed = EXPECTED.get(name)
    if not py.ran:
        row.verdict, row.reason = NOT_RUN, "pybmc not started"
    elif not py.as_expected:
        row.verdict = UNEXPECTED
        row.reason = "pybmc: a step did not succeed/fail as a correct BMC's would"
    elif ref.ran and ref.text == py.text:
        row.verdict, row.reason = SAME, ""
    elif not ref.ran or ref.failed_allowed_step:
        row.verdict = PYBMC_ONLY
        row.reason = listed or f"ipmi_sim: {_last_line(ref.text)}"
    elif listed:
        row.verdict, row.reason = EXPECTED_DIFF, listed
    else:
        row.verdict, row.reason = UNEXPECTED, "outputs differ; no reason listed in expected.py"


def _last_line(text: str) -> str:
    """The reference's last words, for a pybmc-only row with no reason listed."""
    from conformance.report import last_output

    return last_output(text)[:120] or "(no output)"


def _chains(scenarios: list[Scenario]) -> list[list[Scenario]]:
    """Scenarios sharing a lock form one chain (in catalogue order); others stand alone.

    Longest chains go first so they do not end up last on an otherwise idle pool.
    """
    chains: dict[str, list[Scenario]] = {}
    singles: list[list[Scenario]] = []
    for scenario in scenarios:
        if scenario.lock is None:
            singles.append([scenario])
        else:
            chains.setdefault(scenario.lock, []).append(scenario)
    locked = sorted(chains.values(), key=lambda chain: -_estimate(chain))
    return locked + singles


def _estimate(chain: list[Scenario]) -> float:
    return sum(len(s.steps) + sum(st.seconds for st in s.steps if isinstance(st, Sleep))
               for s in chain)
