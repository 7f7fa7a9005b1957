"""Loads every policy file of a folder, validates it and looks plans up by region and year."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .errors import PlanNotFound, PolicyFileError
from .policy import Policy, build_policy
from .schema import PolicyFile

DEFAULT_POLICY_DIR = Path(__file__).resolve().parent.parent / "policies"


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key written twice in one mapping (YAML would keep the last)."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[object] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _format_loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def parse_policy(content: str | dict[str, Any], name: str = "draft") -> Policy:
    """Validate a plan given as YAML text or an already parsed mapping (a draft, not a file).

    Same schema and checks as a policy file; problems raise PolicyFileError naming the field.
    """
    raw: Any = content
    if isinstance(content, str):
        try:
            raw = yaml.load(content, Loader=_UniqueKeyLoader)  # noqa: S506 - SafeLoader subclass
        except yaml.YAMLError as exc:
            raise PolicyFileError(name, [f"not valid YAML: {exc}"]) from None
    if not isinstance(raw, dict):
        raise PolicyFileError(name, ["the plan must be a mapping at the top level"])
    try:
        model = PolicyFile.model_validate(raw)
    except ValidationError as exc:
        problems = [f"{_format_loc(err['loc'])}: {err['msg']}" for err in exc.errors()]
        raise PolicyFileError(name, problems) from None
    return build_policy(model, raw, None)


def region_chain(region_code: str) -> list[str]:
    """Where a region's plan may come from, most specific first: county -> city -> province.

    GB/T 2260: 140623 (a county) lies in city 140600, which lies in province 140000.
    """
    code = str(region_code)
    chain = [code]
    if len(code) == 6 and code.isdigit():
        for parent in (code[:4] + "00", code[:2] + "0000"):
            if parent not in chain:
                chain.append(parent)
    return chain


def load_policy_file(path: Path) -> Policy:
    """Parse and validate one file; any problem raises PolicyFileError naming file and field."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyFileError(path, [f"cannot read file: {exc}"]) from None
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        raise PolicyFileError(path, [f"not valid YAML: {exc}"]) from None
    if not isinstance(raw, dict):
        raise PolicyFileError(path, ["the file must hold a mapping at the top level"])
    try:
        model = PolicyFile.model_validate(raw)
    except ValidationError as exc:
        problems = [f"{_format_loc(err['loc'])}: {err['msg']}" for err in exc.errors()]
        raise PolicyFileError(path, problems) from None
    expected = f"{model.region_code}-{model.plan_year}"
    if path.stem != expected:
        raise PolicyFileError(
            path,
            [f"region_code/plan_year: file name should be {expected}.yaml to match its content"],
        )
    return build_policy(model, raw, path)


@dataclass(frozen=True)
class PlanKey:
    region_code: str
    plan_year: int


class PolicyCatalog:
    def __init__(self, policies: dict[tuple[str, int], Policy]) -> None:
        self._policies = dict(policies)

    @classmethod
    def load(cls, directory: Path | None = None) -> PolicyCatalog:
        folder = Path(directory) if directory is not None else DEFAULT_POLICY_DIR
        if not folder.is_dir():
            raise PolicyFileError(folder, ["policy folder does not exist"])
        found: dict[tuple[str, int], Policy] = {}
        for path in sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml")):
            policy = load_policy_file(path)
            key = (policy.region_code, policy.plan_year)
            if key in found:
                raise PolicyFileError(
                    path, [f"region_code/plan_year: {key} is already defined by another file"]
                )
            found[key] = policy
        return cls(found)

    def get(self, region_code: str, plan_year: int) -> Policy:
        try:
            return self._policies[(str(region_code), int(plan_year))]
        except KeyError:
            raise PlanNotFound(str(region_code), int(plan_year)) from None

    def find(self, region_code: str, plan_year: int) -> Policy | None:
        """The plan that covers a region: its own, else its city's, else its province's."""
        for code in region_chain(region_code):
            policy = self._policies.get((code, int(plan_year)))
            if policy is not None:
                return policy
        return None

    def resolve(self, region_code: str, plan_year: int) -> Policy:
        policy = self.find(region_code, plan_year)
        if policy is None:
            raise PlanNotFound(str(region_code), int(plan_year))
        return policy

    def with_policy(self, policy: Policy) -> PolicyCatalog:
        """A copy in which `policy` replaces the plan for its region and year."""
        found = dict(self._policies)
        found[(policy.region_code, policy.plan_year)] = policy
        return PolicyCatalog(found)

    def plans(self) -> list[PlanKey]:
        return [PlanKey(r, y) for (r, y) in sorted(self._policies)]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._policies[k] for k in sorted(self._policies))

    def __len__(self) -> int:
        return len(self._policies)
