"""Loads every policy file of a folder, validates it and looks plans up by region and year."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .errors import PlanNotFound, PolicyFileError
from .policy import Policy, build_policy
from .schema import PolicyFile
from .yamlload import YamlProblem, load_yaml, plain_data, validation_problems


def _parse(content: str | dict[str, Any], name: str | Path) -> tuple[Any, PolicyFile]:
    """(raw content, validated model); every problem raises PolicyFileError in Chinese, with
    the YAML line where there is one."""
    raw: Any = content
    node = None
    try:
        if isinstance(content, str):
            raw, node = load_yaml(content)
        if not isinstance(raw, dict):
            raise YamlProblem("方案的最外层必须是映射（键: 值）")
        plain_data(raw)
    except YamlProblem as exc:
        raise PolicyFileError(name, [exc.message]) from None
    try:
        model = PolicyFile.model_validate(raw)
    except ValidationError as exc:
        raise PolicyFileError(name, validation_problems(exc, node)) from None
    return raw, model


def parse_policy(content: str | dict[str, Any], name: str = "draft") -> Policy:
    """Validate a plan given as YAML text or an already parsed mapping (a draft, not a file).

    Same schema and checks as a policy file; problems raise PolicyFileError naming the field.
    """
    raw, model = _parse(content, name)
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
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyFileError(path, [f"无法读取文件（{exc}）"]) from None
    raw, model = _parse(text, path)
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
    def load(cls, directory: Path | str) -> PolicyCatalog:
        """Every plan file of a folder (eligibility's seed plans, or a test's own folder)."""
        folder = Path(directory)
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

    def latest_before(self, region_code: str, plan_year: int) -> Policy | None:
        """The region's own plan of the latest year before plan_year (a draft for next year is
        compared with it when no plan for that year is in force), None when there is none."""
        years = [y for (r, y) in self._policies if r == str(region_code) and y < int(plan_year)]
        return self._policies[(str(region_code), max(years))] if years else None

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
