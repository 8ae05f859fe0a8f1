"""The distribution: a wheel and an sdist from `python -m build`, typed, with nothing but the package."""

from __future__ import annotations

import subprocess
import tarfile
import zipfile

from tests.e2e.conftest import Built


def test_the_wheel_holds_the_typed_package_and_its_metadata(built: Built) -> None:
    with zipfile.ZipFile(built.wheel) as wheel:
        names = wheel.namelist()
        metadata = wheel.read("veriproof_sdk-0.1.0.dist-info/METADATA").decode()
    assert "veriproof_sdk/py.typed" in names and "veriproof_sdk/__init__.py" in names
    assert not [n for n in names if n.startswith("tests/") or "/tests/" in n]
    assert "Name: veriproof-sdk" in metadata and "Version: 0.1.0" in metadata
    assert "Requires-Python: >=3.9" in metadata
    for dependency in ("opentelemetry-api", "opentelemetry-sdk", "opentelemetry-exporter-otlp-proto-http"):
        assert f"Requires-Dist: {dependency}" in metadata
    # azure-identity only through the optional extra (AzureIdentityToken imports it when first used).
    assert "Provides-Extra: azure" in metadata
    assert [line for line in metadata.splitlines() if line.startswith("Requires-Dist: azure-identity")] == [
        "Requires-Dist: azure-identity<2,>=1.15; extra == 'azure'"
    ]


def test_the_sdist_holds_the_sources_readme_and_project_file(built: Built) -> None:
    with tarfile.open(built.sdist) as sdist:
        names = sdist.getnames()
    for required in ("pyproject.toml", "README.md", "src/veriproof_sdk/__init__.py", "src/veriproof_sdk/py.typed"):
        assert f"veriproof_sdk-0.1.0/{required}" in names


def test_the_installed_wheel_imports_in_a_fresh_environment(built: Built) -> None:
    done = subprocess.run([str(built.python), "-c", "import veriproof_sdk, sys; print(veriproof_sdk.__version__, veriproof_sdk.__file__)"],
                          capture_output=True, text=True, check=True)
    version, location = done.stdout.split()
    assert version == "0.1.0"
    assert "site-packages" in location  # the installed wheel, not the checkout


def test_without_the_azure_extra_the_package_imports_and_azure_identity_token_says_what_to_install(built: Built) -> None:
    code = (
        "import importlib.util, veriproof_sdk\n"
        "assert importlib.util.find_spec('azure.identity') is None, 'azure-identity is installed'\n"
        "try:\n"
        "    veriproof_sdk.AzureIdentityToken('api://app/.default')()\n"
        "except veriproof_sdk.IdentityTokenError as error:\n"
        "    print(error)\n"
    )
    done = subprocess.run([str(built.python), "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "pip install 'veriproof-sdk[azure]'" in done.stdout
