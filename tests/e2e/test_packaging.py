"""What `pip install pybmc` gets: a wheel with its license, project URLs, classifiers, a
README whose links work on PyPI, and only runtime dependencies."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import zipfile
from email.message import Message
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEST_ONLY = {"pytest", "pytest-asyncio", "hypothesis", "pyghmi", "scapy", "ruff",
             "import-linter", "sushy", "redfishtool", "redfish-service-validator",
             "redfish-protocol-validator"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                             str(out), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    (path,) = out.glob("pybmc-*.whl")
    return zipfile.ZipFile(path)


def metadata(wheel: zipfile.ZipFile) -> Message:
    (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    return Parser().parsestr(wheel.read(name).decode())


def test_the_wheel_carries_the_declared_license(wheel: zipfile.ZipFile):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    meta = metadata(wheel)
    assert meta["License-Expression"] == project["license"] == "MIT"
    licenses = [n for n in wheel.namelist() if n.endswith(".dist-info/licenses/LICENSE")]
    assert licenses, wheel.namelist()
    text = wheel.read(licenses[0]).decode()
    assert text.startswith("MIT License") and "pybmc developers" in text
    assert text == (ROOT / "LICENSE").read_text()


def test_the_metadata_names_authors_urls_and_classifiers(wheel: zipfile.ZipFile):
    meta = metadata(wheel)
    assert meta["Author"] == "pybmc developers"
    urls = dict(value.split(", ", 1) for value in meta.get_all("Project-URL"))
    assert {"Homepage", "Documentation", "Source", "Issues"} <= set(urls)
    assert all(url.startswith("https://github.com/pybmc/pybmc") for url in urls.values())
    classifiers = meta.get_all("Classifier")
    assert "Programming Language :: Python :: 3.11" in classifiers
    assert "Operating System :: POSIX :: Linux" in classifiers


def test_installing_brings_only_runtime_dependencies(wheel: zipfile.ZipFile):
    required = [value for value in metadata(wheel).get_all("Requires-Dist")
                if "extra ==" not in value]
    names = {re.split(r"[<>=!~; \[]", value, maxsplit=1)[0].lower() for value in required}
    assert names == {"typer", "cryptography", "qemu.qmp", "pyroute2", "aiohttp", "tomlkit"}
    assert not names & TEST_ONLY


def test_the_readme_links_work_on_pypi(wheel: zipfile.ZipFile):
    description = metadata(wheel).get_payload()
    links = re.findall(r"\]\(([^)]+)\)", description)
    assert links, "the README links to the docs"
    assert all(link.startswith(("https://", "#")) for link in links), links
    assert "pybmc/config/default_sensors.toml" in wheel.namelist()  # the package data too
