"""The lock files agree with pyproject.toml: every dependency pyproject names (runtime in
requirements/runtime.txt; runtime, `dev` and `test` in requirements/test.txt) is pinned there
with hashes, at a version its range allows, and the two locks pin shared packages alike.
After changing dependencies: `make lock`."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;\\]+)", re.M)


def _pins(name: str) -> dict[str, str]:
    text = (ROOT / "requirements" / name).read_text()
    pins = {canonicalize_name(m.group(1)): m.group(2) for m in PIN.finditer(text)}
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text)
    unhashed = [b.split()[0] for b in blocks if "==" in b and "--hash=sha256:" not in b]
    assert not unhashed, f"{name}: pinned without hashes: {unhashed}"
    return pins


def _requirements(extra: str | None) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = project["dependencies"] if extra is None else \
        project["optional-dependencies"][extra]
    return [Requirement(r) for r in names if not r.startswith(project["name"] + "[")]


def _check(lock: str, requirements: list[Requirement]) -> None:
    pins = _pins(lock)
    for req in requirements:
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is missing from requirements/{lock}: run `make lock`"
        assert req.specifier.contains(pins[name], prereleases=True), \
            f"requirements/{lock} pins {req.name}=={pins[name]} outside {req.specifier}: " \
            "run `make lock`"


def test_runtime_lock_covers_the_runtime_dependencies_and_nothing_of_dev() -> None:
    _check("runtime.txt", _requirements(None))
    runtime = _pins("runtime.txt")
    for req in _requirements("dev"):
        assert canonicalize_name(req.name) not in runtime, req.name


def test_test_lock_covers_runtime_dev_and_test_alike() -> None:
    _check("test.txt", _requirements(None) + _requirements("dev") + _requirements("test"))
    runtime, test = _pins("runtime.txt"), _pins("test.txt")
    differ = {n: (v, test[n]) for n, v in runtime.items() if test.get(n) != v}
    assert not differ, f"the locks pin differently: {differ}; run `make lock`"
