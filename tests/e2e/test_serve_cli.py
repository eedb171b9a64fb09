"""`pybmc`'s command line and log output, against real `pybmc serve` processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conformance.procs import spawn_logged, stop_process, wait_for_answers
from pybmc import __version__
from tests import tomlw
from tests.e2e.conftest import IPMITOOL, BmcProcess, _answers, base_config, next_address

needs_ipmitool = pytest.mark.skipif(IPMITOOL is None, reason="ipmitool is not installed")


def pybmc(*args: str, cwd: Path = Path("/"),
          env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pybmc", *args], capture_output=True,
                          text=True, timeout=60, cwd=cwd, env=env, stdin=subprocess.DEVNULL)


def write(directory: Path, name: str, state: Path, **sections: object) -> tuple[Path, str]:
    address = next_address()
    path = directory / f"{name}.toml"
    path.write_text(tomlw.dumps(base_config(name, address, state, **sections)))
    return path, address


def serve(tmp_path: Path, args: list[str], endpoints: list[tuple[str, int]],
          started: list[subprocess.Popen[bytes]]) -> tuple[subprocess.Popen[bytes], Path]:
    log = tmp_path / f"serve-{len(started)}.log"
    proc = spawn_logged([sys.executable, "-m", "pybmc", "serve", *args], log, cwd=tmp_path)
    started.append(proc)
    wait_for_answers(proc, endpoints, 20.0, "pybmc serve", log, answers=_answers)
    return proc, log


@pytest.fixture
def started() -> list[subprocess.Popen[bytes]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs  # type: ignore[misc]
    for proc in procs:
        stop_process(proc, 10.0)


def wait_for_line(log: Path, text: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = log.read_text(errors="replace")
        if text in content:
            return content
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not logged within {timeout}s:\n{log.read_text()}")


# ------------------------------------------------------------------ item 16: conventions
def test_help_version_and_literal_brackets():
    for flag in ("-h", "--help"):
        result = pybmc(flag)
        assert result.returncode == 0 and "serve" in result.stdout, result.stderr
    assert pybmc("--version").stdout == f"pybmc {__version__}\n"
    serve_help = pybmc("serve", "-h").stdout
    assert "--config-dir" in serve_help and "--log-format" in serve_help
    assert "([bmc] name)" in pybmc("console", "-h").stdout


def test_shell_completion_is_enabled():
    script = Path(sys.executable).parent / "pybmc"  # completion goes by the program's name
    result = subprocess.run([str(script)], capture_output=True, text=True, timeout=60, cwd="/",
                            env={**os.environ, "_PYBMC_COMPLETE": "source_bash"})
    assert result.returncode == 0 and "complete -o" in result.stdout, result.stderr
    assert "--install-completion" in pybmc("--help").stdout


def test_config_files_as_arguments_and_a_config_dir(tmp_path: Path, started: list):
    one, a1 = write(tmp_path, "one", tmp_path / "s1")
    two, a2 = write(tmp_path, "two", tmp_path / "s2")
    proc, _ = serve(tmp_path, [str(one), str(two)], [(a1, 623), (a2, 623)], started)
    stop_process(proc, 10.0)
    configs = tmp_path / "conf.d"
    configs.mkdir()
    _, a3 = write(configs, "three", tmp_path / "s3")
    _, a4 = write(configs, "four", tmp_path / "s4")
    (configs / "notes.txt").write_text("not a config")
    five, a5 = write(tmp_path, "five", tmp_path / "s5")
    serve(tmp_path, ["--config-dir", str(configs), "-c", str(five)],
          [(a3, 623), (a4, 623), (a5, 623)], started)


def test_address_with_config_files_is_an_error(tmp_path: Path):
    one, _ = write(tmp_path, "one", tmp_path / "s1")
    for args in (["-c", str(one), "--address", "127.0.0.9"], [str(one), "--port", "6230"]):
        result = pybmc("serve", *args, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert "--address and --port are for the embedded default BMC only" in result.stderr
    assert not (tmp_path / "s1").exists()


def test_the_server_does_not_keep_the_parsers_libraries(tmp_path: Path, started: list):
    one, address = write(tmp_path, "one", tmp_path / "s1")
    proc, _ = serve(tmp_path, [str(one)], [(address, 623)], started)
    maps = Path(f"/proc/{proc.pid}/maps").read_text()
    assert "pydantic_core" not in maps  # typer parsed, then the same PID became the server


# ------------------------------------------------------------------ item 15: logging
def test_an_unknown_log_level_is_refused():
    result = pybmc("serve", "--log-level", "verbose")
    assert result.returncode == 2
    assert "unknown log level 'verbose': one of debug, info, warning, error" in result.stderr
    assert "unknown log format 'xml'" in pybmc("serve", "--log-format", "xml").stderr


@needs_ipmitool
def test_json_log_file_names_the_bmc_on_every_line(tmp_path: Path, started: list):
    state = tmp_path / "s1"
    state.mkdir()
    (state / "state.json").write_text("{ not json")  # the state store logs it, as cn1
    path, address = write(tmp_path, "cn1", state)
    log_file = tmp_path / "pybmc.jsonl"
    proc, console = serve(tmp_path, [str(path), "--log-format", "json", "--log-file",
                                     str(log_file)], [(address, 623)], started)
    bmc = BmcProcess(tmp_path, [base_config("cn1", address, state)], proc=proc)
    bmc.ipmitool("chassis", "power", "on")
    bmc.ipmitool("mc", "info", user="nobody", password="x", check=False)
    wait_for_line(log_file, "unknown user")
    entries = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert entries and all(entry["bmc"] == "cn1" for entry in entries), entries
    assert all({"time", "level", "message"} <= set(entry) for entry in entries)
    assert any(e["logger"] == "pybmc.state" and "unreadable" in e["message"] for e in entries)
    opened = [e for e in entries if "opened: user 'admin'" in e["message"]]
    assert opened and opened[0]["peer"].startswith("127.0.0.1:")
    assert any(e["message"] == "SEL 0002: ACPI State: S0/G0 working (asserted)"
               for e in entries), [e["message"] for e in entries]
    messages = [(e["time"], e["message"]) for e in entries]
    assert len(messages) == len(set(messages))  # no line twice
    assert not console.read_text().strip()  # nothing on stderr but what the file has


@needs_ipmitool
def test_text_log_lines_decode_sel_and_name_the_bmc(tmp_path: Path, started: list):
    state = tmp_path / "s1"
    state.mkdir()
    (state / "state.json").write_text("{ not json")
    path, address = write(tmp_path, "cn2", state)
    proc, log = serve(tmp_path, [str(path)], [(address, 623)], started)
    bmc = BmcProcess(tmp_path, [base_config("cn2", address, state)], proc=proc)
    bmc.ipmitool("chassis", "power", "on")
    bmc.ipmitool("chassis", "power", "off")
    text = wait_for_line(log, "Power Unit: power off (asserted)")
    assert "pybmc.platform: cn2: SEL 0001: BMC Health: management controller off-line " \
           "(deasserted)" in text
    state_lines = [line for line in text.splitlines() if " pybmc.state: " in line]
    assert state_lines and all(" pybmc.state: cn2: " in line for line in state_lines)


@needs_ipmitool
def test_a_wrong_password_is_logged(tmp_path: Path, started: list):
    # ipmitool stops after RAKP 2 with a wrong password: the BMC logs the login abandoned
    # when it expires (here after 2 s), as the wrong password it almost surely was.
    path, address = write(tmp_path, "cn3", tmp_path / "s3", security={"session_timeout": 2})
    proc, log = serve(tmp_path, [str(path)], [(address, 623)], started)
    bmc = BmcProcess(tmp_path, [base_config("cn3", address, tmp_path / "s3")], proc=proc)
    assert bmc.ipmitool("mc", "info", password="wrong", check=False).returncode != 0
    text = wait_for_line(log, "abandoned after RAKP 2")
    assert "cn3: login from 127.0.0.1:" in text and "(wrong password on the client?)" in text
    assert "wrong" not in text.replace("(wrong password", "")  # the password is not logged
