"""Who a caller is: `Principal` (staff with a role and a region, or a system caller with
scopes), region codes, and how verified token claims become a principal.

The claims' names are configurable (`ClaimNames`), because identity providers put roles in
different places: a plain `role` claim (canbao's development tokens), Keycloak's
`realm_access.roles` list, or a namespaced claim. A dotted path walks nested objects; a list
value names the user's roles and exactly one of them must be a canbao role.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from kernels.regions.codes import NATIONAL as NATIONAL  # re-exported: shared.auth
from kernels.regions.codes import lies_within, region_prefix

ROLES = frozenset({
    "township_staff", "department_officer", "medical_insurance_officer", "tax_officer",
    "finance_officer", "supervisor", "administrator", "village_collector",
})
DEPARTMENTS = frozenset({
    "civil_affairs", "disabled_persons_federation", "rural_revitalization", "health_commission",
    "veterans_affairs", "education",
})
DEPARTMENT_ALIASES = {"agriculture": "rural_revitalization"}
FULL_ID_ROLES = frozenset({"medical_insurance_officer", "administrator"})
PII_READ_SCOPE = "pii:read"

_SCOPE = re.compile(r"[A-Za-z0-9_.:\-]+")


@dataclass(frozen=True)
class ClaimNames:
    """Where a token carries the role, region and department (dotted paths into the claims)."""

    role: str = "role"
    region: str = "region"
    department: str = "department"


DEFAULT_CLAIMS = ClaimNames()


def claim_at(claims: Mapping[str, Any], path: str) -> Any:
    """The value at `path`: the claim of that exact name, else the dotted path walked through
    nested objects (`realm_access.roles`); None when absent."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


# --- regions ---------------------------------------------------------------------------------

def canonical_department(value: str) -> str:
    return DEPARTMENT_ALIASES.get(value, value)


# --- principal -------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    kind: Literal["staff", "system"]
    role: str | None = None
    region: str | None = None
    department: str | None = None
    scopes: frozenset[str] = frozenset()
    expires_at: int = 0
    token_id: str | None = None
    issued_at: float = 0  # seconds since the epoch (a session's: to the millisecond)
    _prefix: str | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind == "staff":
            if self.role not in ROLES:
                raise ValueError(f"unknown role {self.role!r}")
            if self.region is None:
                raise ValueError("staff need a region")
            if self.role == "department_officer":
                if self.department not in DEPARTMENTS:
                    raise ValueError(f"unknown department {self.department!r}")
            elif self.department is not None:
                raise ValueError("only department officers carry a department")
        elif self.role is not None or self.department is not None:
            raise ValueError("system callers carry scopes, not a role or department")
        if self.region is not None:
            prefix = region_prefix(self.region)
            if prefix is None:
                raise ValueError(f"region {self.region!r} is not a 6- or 12-digit region code")
            object.__setattr__(self, "_prefix", prefix)

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"

    @property
    def is_system(self) -> bool:
        return self.kind == "system"

    def has_scope(self, scope: str) -> bool:
        return self.kind == "system" and scope in self.scopes

    def can_see_region(self, code: str) -> bool:
        """True when `code` is this principal's region or lies inside it. A system caller
        without a region claim is not limited by region (its scopes limit it)."""
        if self._prefix is None:
            return self.kind == "system" and region_prefix(code) is not None
        return lies_within(code, self._prefix)

    @property
    def sees_all_regions(self) -> bool:
        """True for a nationwide principal (region 000000) and a system caller without a
        region claim: no region check can refuse them (services skip loading rows for it)."""
        return self._prefix == "" or (self._prefix is None and self.kind == "system")

    @property
    def region_filter(self) -> str | None:
        """What lists filter their rows on, in SQL: None when this principal sees every
        region, else the digits every region code inside its region starts with
        (`WHERE code LIKE :prefix || '%'`; the digits hold no LIKE wildcards)."""
        return None if self.sees_all_regions else self._prefix

    @property
    def can_read_full_id_number(self) -> bool:
        if self.kind == "system":
            return PII_READ_SCOPE in self.scopes
        return self.role in FULL_ID_ROLES

    def audit_fields(self) -> dict[str, str | None]:
        return {"actor": self.subject, "role": self.role or "system", "region": self.region}


def _single(value: Any, what: str) -> str | None:
    """A claim holding one string (a one-element list, as some providers send user attributes,
    counts as that string)."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{what} must be a string")
    return value


def _role(value: Any) -> str | None:
    """The canbao role in a role claim: a string, or a list of the user's roles of which exactly
    one is a canbao role (providers list others: offline_access, default roles...)."""
    if value is None or isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise ValueError("role must be a string or a list of strings")
    ours = sorted({r for r in value if isinstance(r, str) and r in ROLES})
    if len(ours) > 1:
        raise ValueError(f"more than one canbao role {ours}: give each account exactly one")
    return ours[0] if ours else None


def principal_from_claims(claims: Mapping[str, Any],
                          names: ClaimNames = DEFAULT_CLAIMS) -> Principal:
    """Build a Principal from verified claims; ValueError when they do not describe one."""
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > 128:
        raise ValueError("sub must be a non-empty string")
    region = _single(claim_at(claims, names.region), "region")
    exp = int(claims.get("exp", 0))
    jti = claims.get("jti") if isinstance(claims.get("jti"), str) else None
    role = _role(claim_at(claims, names.role))
    if role is not None or names.role in claims:
        department = _single(claim_at(claims, names.department), "department")
        if department is not None:
            department = canonical_department(department)
        # Staff rights come from the role alone: any `scope` claim on a staff token is ignored.
        return Principal(subject=sub, kind="staff", role=role, region=region,
                         department=department, expires_at=exp, token_id=jti)
    raw_scope = claims.get("scope", "")
    if not isinstance(raw_scope, str):
        raise ValueError("scope must be a space-separated string")
    scopes = frozenset(raw_scope.split())
    if not scopes:
        raise ValueError("a token needs a role (staff) or a scope (system caller)")
    if not all(_SCOPE.fullmatch(s) for s in scopes):
        raise ValueError("scope contains invalid characters")
    return Principal(subject=sub, kind="system", region=region, scopes=scopes,
                     expires_at=exp, token_id=jti)
