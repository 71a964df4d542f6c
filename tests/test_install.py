"""scripts/setup.sh installs at the versions of scripts/constraints.txt: every package the
project asks for is pinned there, at a version its requirement admits."""

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.conftest import ROOT

tomllib = pytest.importorskip("tomllib", reason="tomllib came with Python 3.11")


def pins() -> dict[str, Version]:
    lines = (ROOT / "scripts" / "constraints.txt").read_text().splitlines()
    pairs = [line.split("==") for line in lines if line.strip() and not line.startswith("#")]
    assert all(len(p) == 2 for p in pairs), "constraints.txt: one name==version a line"
    return {canonicalize_name(name): Version(version) for name, version in pairs}


def test_every_requirement_is_pinned_at_a_version_it_admits():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)]
    pinned = pins()
    for line in wanted:
        req = Requirement(line)
        name = canonicalize_name(req.name)
        if name == "torch":  # installed apart, first (scripts/setup.sh: TORCH_SPEC)
            assert name not in pinned
            continue
        assert name in pinned, f"{req.name} is not in scripts/constraints.txt (refresh it: see its header)"
        assert req.specifier.contains(pinned[name], prereleases=True), (
            f"{req.name}: {pinned[name]} not in {req.specifier}"
        )
