"""State persistence: round trip, atomic writes, unreadable files set aside, config seeding."""

from __future__ import annotations

import json
from pathlib import Path

from pybmc.config.bmc import parse_config
from pybmc.core.bmc import Bmc
from pybmc.model.state import State, StateStore, UserAccess, UserRecord


def make_config(state_dir: Path, users: list[dict] | None = None):
    return parse_config({
        "bmc": {"name": "t", "address": "127.0.0.2", "state_dir": str(state_dir)},
        "users": users if users is not None else [{"name": "admin", "password": "secret"}],
    })


def test_state_roundtrip(tmp_path: Path):
    store = StateStore(tmp_path)
    state = State()
    state.users[3] = UserRecord(3, b"bob", b"pw\x00x", True, {1: UserAccess(3, True, False, True)})
    state.lan["3"] = bytes([10, 0, 0, 5])
    state.boot["5"] = bytes.fromhex("c004000000")
    state.power_on = True
    store.save(state)
    assert store.load() == state
    assert not list(tmp_path.glob(".state.*"))  # no temporary file left behind


def test_unreadable_state_is_set_aside_not_lost(tmp_path: Path):
    store = StateStore(tmp_path)
    store.path.write_text("{ half a file")
    assert store.load() is None
    aside = list(tmp_path.glob("state.json.bad-*"))
    assert len(aside) == 1 and aside[0].read_text() == "{ half a file"


def test_users_seeded_from_config_and_ipmi_changes_survive(tmp_path: Path):
    bmc = Bmc(make_config(tmp_path))
    assert bmc.users.find_user(b"admin").user_id == 2
    assert bmc.state.users[1].name == b""  # user 1 is the null user
    bmc.state.users[4].name = b"new"
    bmc.state.users[4].enabled = True
    bmc.save()
    again = Bmc(make_config(tmp_path))
    assert again.users.find_user(b"new").user_id == 4


def test_editing_the_config_users_reseeds_them(tmp_path: Path):
    bmc = Bmc(make_config(tmp_path))
    bmc.state.users[4].name = b"new"
    bmc.state.users[4].enabled = True
    bmc.save()
    edited = Bmc(make_config(tmp_path, [{"name": "root", "password": "x"}]))
    assert edited.users.find_user(b"new") is None
    assert edited.users.find_user(b"root").user_id == 2


def test_reset_state_starts_from_config(tmp_path: Path):
    bmc = Bmc(make_config(tmp_path))
    bmc.state.lan["6"] = bytes([255, 255, 0, 0])
    bmc.save()
    assert "6" in Bmc(make_config(tmp_path)).state.lan
    assert "6" not in Bmc(make_config(tmp_path), reset_state=True).state.lan


def test_state_file_is_json_with_a_version(tmp_path: Path):
    Bmc(make_config(tmp_path))
    data = json.loads((tmp_path / "state.json").read_text())
    assert data["version"] == 1
    assert data["users"]["2"]["name"] == b"admin".hex()
