"""A fleet's start leaves the lock of a state_dir that does not exist yet for later: taken
before the BMC's first write, and a lock another process holds then stops the serve."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from pybmc.config.bmc import BmcConfig, parse_config
from pybmc.edge.assembly import open_runtime
from pybmc.edge.server import Server
from pybmc.edge.startup import LOCK_FILE, StartError, StateDirLock


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def config(name: str, state_dir: Path, port: int = 6230) -> BmcConfig:
    return parse_config({
        "bmc": {"name": name, "address": "127.0.0.1", "port": port,
                "state_dir": str(state_dir)},
        "users": [{"name": "admin", "password": "secret-pw", "privilege": "administrator"}],
        "power": {"backend": "simulated"},
        "redfish": {"enabled": False},
    })


def test_a_missing_state_dir_is_made_and_locked_at_the_first_write(tmp_path: Path):
    state = tmp_path / "s"
    runtime = open_runtime(config("cn1", state), defer_lock=True)
    assert runtime.lock is None and runtime.lock_pending
    assert not state.exists()  # nothing made yet
    runtime.bmc.save()
    assert runtime.lock is not None and not runtime.lock_pending
    assert (state / LOCK_FILE).read_text().strip().isdigit()
    assert (state / "state.json").exists()
    with pytest.raises(StartError, match="is in use by pybmc process"):
        StateDirLock.acquire("cn2", state)
    asyncio.run(runtime.stop())
    StateDirLock.acquire("cn2", state).release()  # released at stop


def test_an_existing_state_dir_is_locked_at_once(tmp_path: Path):
    state = tmp_path / "s"
    state.mkdir()
    runtime = open_runtime(config("cn1", state), defer_lock=True)
    assert runtime.lock is not None and not runtime.lock_pending
    with pytest.raises(StartError, match="is in use"):
        open_runtime(config("cn2", state), defer_lock=True)
    asyncio.run(runtime.stop())


def test_a_lock_taken_meanwhile_by_another_writes_nothing(tmp_path: Path,
                                                          caplog: pytest.LogCaptureFixture):
    state = tmp_path / "s"
    runtime = open_runtime(config("cn1", state), defer_lock=True)
    errors: list[StartError] = []
    runtime.on_lock_error = errors.append
    other = StateDirLock.acquire("other", state)  # another serve came first
    runtime.bmc.save()
    runtime.bmc.save()  # fails again, reported once
    assert sorted(p.name for p in state.iterdir()) == [LOCK_FILE]
    assert len(errors) == 1 and "cn1: state dir" in str(errors[0])
    assert "is in use by pybmc process" in caplog.text
    assert "Traceback" not in caplog.text
    asyncio.run(runtime.stop())
    assert sorted(p.name for p in state.iterdir()) == [LOCK_FILE]
    other.release()


def test_a_fleet_start_locks_in_the_background_and_stops_on_a_conflict(tmp_path: Path):
    async def scenario() -> None:
        runtimes = [open_runtime(config(f"cn{i}", tmp_path / f"s{i}", free_port()),
                                 defer_lock=True) for i in range(3)]
        assert all(r.lock_pending for r in runtimes)
        other = StateDirLock.acquire("other", tmp_path / "s1")
        server = Server(runtimes)
        try:
            with pytest.raises(StartError, match=r"^cn1: state dir .* is in use"):
                await asyncio.wait_for(server.run_until_stopped(), 10)
        finally:
            other.release()
        assert runtimes[0].lock_error is None and runtimes[2].lock_error is None
        assert (tmp_path / "s0" / "state.json").exists()  # saved as it stopped
        assert sorted(p.name for p in (tmp_path / "s1").iterdir()) == [LOCK_FILE]

    asyncio.run(scenario())


def test_a_fleet_start_without_conflict_holds_every_lock(tmp_path: Path):
    async def scenario() -> None:
        runtimes = [open_runtime(config(f"cn{i}", tmp_path / f"s{i}", free_port()),
                                 defer_lock=True) for i in range(3)]
        server = Server(runtimes)
        task = asyncio.create_task(server.run_until_stopped())
        for _ in range(200):  # bounded: the background task takes them within a few loops
            if not any(r.lock_pending for r in runtimes):
                break
            await asyncio.sleep(0.01)
        assert all(r.lock is not None for r in runtimes)
        with pytest.raises(StartError, match="is in use"):
            StateDirLock.acquire("other", tmp_path / "s2")
        server.request_stop()
        await asyncio.wait_for(task, 10)

    asyncio.run(scenario())


def test_only_simulated_bmcs_defer_their_lock(tmp_path: Path):
    data = {"bmc": {"name": "cmd", "address": "127.0.0.1", "port": 6230,
                    "state_dir": str(tmp_path / "c")},
            "users": [{"name": "admin", "password": "secret-pw", "privilege": "administrator"}],
            "power": {"backend": "command", "command_on": ["true"]},
            "redfish": {"enabled": False}}
    runtime = open_runtime(parse_config(data), defer_lock=True)
    assert runtime.lock is not None and (tmp_path / "c" / LOCK_FILE).exists()
    asyncio.run(runtime.stop())


def test_redfish_takes_the_lock_before_it_starts(tmp_path: Path):
    async def scenario() -> None:
        data = {"bmc": {"name": "rf", "address": "127.0.0.1", "port": free_port(),
                        "state_dir": str(tmp_path / "r")},
                "users": [{"name": "admin", "password": "secret-pw",
                           "privilege": "administrator"}],
                "power": {"backend": "simulated"},
                "redfish": {"enabled": True, "port": free_port()}}
        runtime = open_runtime(parse_config(data), defer_lock=True)
        assert runtime.lock_pending
        other = StateDirLock.acquire("other", tmp_path / "r")
        try:
            with pytest.raises(StartError, match=r"^rf: state dir .* is in use"):
                await asyncio.wait_for(Server([runtime]).run_until_stopped(), 10)
        finally:
            other.release()
        assert sorted(p.name for p in (tmp_path / "r").iterdir()) == [LOCK_FILE]  # no cert

    asyncio.run(scenario())
