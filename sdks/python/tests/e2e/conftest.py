from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path
from typing import Iterator, List

import pytest

from tests.support.service import Service, start_service

PACKAGE = Path(__file__).resolve().parents[2]
# The repository's lock of every Python package its tests install (test/python-env.mjs).
LOCK = PACKAGE.parents[1] / "test" / "python-requirements.lock"


def pytest_collection_modifyitems(items: List[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def service() -> Iterator[Service]:
    running, data_dir = start_service()
    issued_before = list(running.issued)
    yield running
    running.stop()
    shutil.rmtree(data_dir, ignore_errors=True)
    # The service's own log output never carries a key or a part of one.
    log = "".join(running.output)
    for key in issued_before + running.issued:
        for part in [key, *key.split(".")[1:]]:  # the slug is meant to be seen
            assert part not in log, f"the service logged a key or a part of one: {[l for l in running.output if part in l][:3]}"


class Built:
    """The package as a customer gets it: a wheel and an sdist, the wheel installed into a new
    virtual environment with pip alone (plus the vault client the vendor docs' snippet imports)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.wheel = next(folder.glob("veriproof_sdk-0.1.0-py3-none-any.whl"))
        self.sdist = next(folder.glob("veriproof_sdk-0.1.0.tar.gz"))
        self.python = folder / "venv" / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


@pytest.fixture(scope="session")
def built() -> Iterator[Built]:
    folder = Path(tempfile.mkdtemp(prefix="veriproof-sdk-build-"))
    subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(folder), str(PACKAGE)],
                   check=True, capture_output=True, text=True)
    venv.EnvBuilder(with_pip=True).create(folder / "venv")
    result = Built(folder)
    # The versions pip picks are the lock's (its `name==version` lines as constraints), so every run
    # installs the same ones; hashes stay out, since the freshly built wheel cannot have one there.
    constraints: List[str] = []
    if LOCK.exists():
        pins = [line.split()[0] for line in LOCK.read_text().splitlines() if "==" in line and not line.startswith((" ", "#"))]
        (folder / "constraints.txt").write_text("\n".join(pins) + "\n")
        constraints = ["--constraint", str(folder / "constraints.txt")]
    install = subprocess.run([str(result.python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                              *constraints, str(result.wheel), "azure-keyvault-secrets"], capture_output=True, text=True)
    assert install.returncode == 0, install.stderr
    yield result
    shutil.rmtree(folder, ignore_errors=True)
