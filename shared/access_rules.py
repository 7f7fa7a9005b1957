"""Access rules and the checks behind them: may this principal make this call, for this region
and department? No web framework here (shared/route_access.py applies them to routes).

    AccessRule(roles, scopes, region_params=(...), department_param=None)
    authorize(principal, rule, path_params, query_params)   raises Forbidden
        codes: forbidden_role (staff role not allowed), forbidden_scope (system caller without
        any of the rule's scopes), forbidden_region, forbidden_department
    require_region(principal, code), require_department(principal, department)
        the same checks for values found in bodies or loaded rows (in services)
    match_rule(rules, method, route_path) -> AccessRule | None
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.errors import Forbidden
from shared.principals import ROLES, Principal, canonical_department

DEFAULT_REGION_PARAMS = ("county_code", "township_code", "village_code", "region_code")


@dataclass(frozen=True)
class AccessRule:
    """Who may call one route: staff whose role is in `roles`, system callers holding any of
    `scopes`. Region parameters found in the path or query must lie in the caller's region;
    `department_param` names the parameter a department officer's department must match."""

    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()
    region_params: tuple[str, ...] = DEFAULT_REGION_PARAMS
    department_param: str | None = None

    def __post_init__(self) -> None:
        unknown = set(self.roles) - ROLES
        if unknown:
            raise ValueError(f"unknown role(s) in access rule: {sorted(unknown)}")


def _param_values(name: str, path_params: Mapping[str, Any],
                  query_params: Mapping[str, Any]) -> list[str]:
    values: list[str] = []
    if name in path_params:
        values.append(str(path_params[name]))
    getlist = getattr(query_params, "getlist", None)
    if getlist is not None:
        values.extend(str(v) for v in getlist(name))
    elif name in query_params:
        raw = query_params[name]
        values.extend(str(v) for v in (raw if isinstance(raw, list | tuple) else [raw]))
    return values


def require_region(principal: Principal, code: str) -> None:
    if not principal.can_see_region(code):
        raise Forbidden(f"region {code} is outside your region {principal.region}",
                        code="forbidden_region", details={"region": code})


def require_department(principal: Principal, department: str) -> None:
    """Department officers act only for their own department (other roles pass)."""
    if principal.role == "department_officer" and \
            canonical_department(department) != principal.department:
        raise Forbidden(f"you act for {principal.department}, not {department}",
                        code="forbidden_department", details={"department": department})


def authorize(principal: Principal, rule: AccessRule, path_params: Mapping[str, Any],
              query_params: Mapping[str, Any]) -> str | None:
    """Raise Forbidden unless `principal` may make this call (see AccessRule). Returns the one
    region the call names in its region parameters (inside the caller's region, so never wider
    than it), or None when it names none or several: the audit log files the call there."""
    if principal.kind == "system":
        if not principal.scopes & rule.scopes:
            needed = " or ".join(sorted(rule.scopes)) or "(no system access)"
            raise Forbidden(f"this call needs scope {needed}", code="forbidden_scope")
    elif principal.role not in rule.roles:
        raise Forbidden(f"role {principal.role} may not make this call", code="forbidden_role")
    named: set[str] = set()
    for name in rule.region_params:
        for value in _param_values(name, path_params, query_params):
            require_region(principal, value)
            named.add(value)
    if rule.department_param:
        for value in _param_values(rule.department_param, path_params, query_params):
            require_department(principal, value)
    return named.pop() if len(named) == 1 else None


def match_rule(rules: Mapping[tuple[str, str], AccessRule], method: str,
               route_path: str) -> AccessRule | None:
    """The rule for (METHOD, route template); HEAD falls back to GET."""
    method = method.upper()
    rule = rules.get((method, route_path))
    if rule is None and method == "HEAD":
        rule = rules.get(("GET", route_path))
    return rule
