"""Who may enroll under a plan (参保范围), read from the plan's `scope` section.

Registration refuses enrollments outside it; a preview only warns, since it answers for a person
who need not be registered anywhere yet. Pure code.
"""

from __future__ import annotations

from dataclasses import dataclass

from kernels.regions.codes import lies_within, region_prefix

from .policy import Policy


def region_contains(region: str, code: str) -> bool:
    """Whether the 6-digit region `code` lies in `region` (GB/T 2260: a code ending in 0000 is
    a province, in 00 a city; anything else names one county or district)."""
    prefix = region_prefix(region)
    return lies_within(code[:6], prefix if prefix is not None else region)


@dataclass(frozen=True, slots=True)
class ScopeBasis:
    """What the caller declares about a person whose 户籍 may be elsewhere."""

    hukou_region: str | None  # 6 digits, from the ID number (or given), None when unknown
    residence_permit: bool = False
    residence_permit_child: bool = False
    local_student: bool = False


def scope_warning(policy: Policy, basis: ScopeBasis) -> str | None:
    """None when the person may enroll under the plan as far as the facts given tell, else a
    Chinese warning that quotes the plan's scope sentence and lists its assumptions."""
    scope = policy.model.scope
    region = basis.hukou_region
    if region is None or any(region_contains(r, region) for r in scope.hukou_regions):
        return None
    if basis.residence_permit and scope.residence_permit:
        return None
    if basis.residence_permit_child and scope.residence_permit_children:
        return None
    if basis.local_student and scope.local_students:
        return None
    ways = []
    if scope.residence_permit:
        ways.append("本地居住证（residence_permit）")
    if scope.residence_permit_children:
        ways.append("父母持本地居住证（residence_permit_child）")
    if scope.local_students:
        ways.append("在本地学校就读（local_student 或参保类别 student）")
    how = "、".join(ways) if ways else "无其他途径"
    assumed = "".join(f"；假定：{policy.describe_assumption(a)}" for a in scope.assumptions)
    return (
        f"身份证号所示户籍地 {region} "
        f"不在{policy.region_name}{policy.plan_year}年度方案的参保范围内"
        f"（本地户籍：{'、'.join(scope.hukou_regions)}），也未声明可在此参保的依据（{how}）："
        f"按方案“{scope.source}”{assumed}。以上计算仅供参考，此人可能不能在此参保。"
    )
