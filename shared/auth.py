"""Who is calling, and may they: the names every service imports, gathered from the modules
that hold them (import from here, or from the module itself):

    shared/principals.py     Principal, roles, regions, departments, claims -> principal
    shared/token_keys.py     public keys: PEM keys configured by hand, the provider's JWKS
                             (rotation), the one algorithm each key verifies
    shared/tokens.py         Verifier: PyJWT, algorithm allow-list, issuer, audience, expiry;
                             Unauthorized
    shared/access_rules.py   AccessRule, authorize, require_region, require_department,
                             match_rule (no web framework)
    shared/route_access.py   route access enforcement in FastAPI and plain ASGI: AccessControl,
                             install_access_control, enforce_access, enforce, PrincipalDep
    shared/web_session.py    the signed browser session cookie, the Origin check (CSRF)
    shared/id_display.py     present_id_number: the full ID number only for those allowed
    shared/oidc.py           staff sign-in: OpenID Connect authorization code + PKCE, sign-out
    shared/dev_keys.py       the development key, `canbao token`
"""

from __future__ import annotations

from kernels.regions.codes import region_prefix
from shared.access_rules import (
    DEFAULT_REGION_PARAMS,
    AccessRule,
    authorize,
    match_rule,
    require_department,
    require_region,
)
from shared.dev_keys import ensure_dev_keypair, key_id, mint_token, token_command
from shared.id_display import present_id_number
from shared.principals import (
    DEPARTMENT_ALIASES,
    DEPARTMENTS,
    FULL_ID_ROLES,
    NATIONAL,
    PII_READ_SCOPE,
    ROLES,
    ClaimNames,
    Principal,
    canonical_department,
    principal_from_claims,
)
from shared.route_access import (
    OPERATIONS_PATHS,
    SIGN_IN_PATH,
    TOKEN_COOKIE,
    UNAUTHENTICATED_DEVELOPER,
    AccessControl,
    PrincipalDep,
    current_principal,
    enforce,
    enforce_access,
    install_access_control,
    sign_in_redirect,
    wants_html,
)
from shared.token_keys import JwksKeys
from shared.tokens import MAX_TOKEN_LENGTH, Unauthorized, Verifier, bearer_token
from shared.web_session import SESSION_COOKIE

__all__ = [
    "DEPARTMENT_ALIASES", "DEPARTMENTS", "FULL_ID_ROLES", "NATIONAL", "PII_READ_SCOPE", "ROLES",
    "ClaimNames", "Principal", "canonical_department", "principal_from_claims", "region_prefix",
    "MAX_TOKEN_LENGTH", "JwksKeys", "Unauthorized", "Verifier", "bearer_token",
    "ensure_dev_keypair", "key_id", "mint_token", "token_command", "SESSION_COOKIE",
    "AccessRule", "AccessControl", "authorize", "require_region", "require_department",
    "match_rule", "enforce", "enforce_access", "install_access_control", "current_principal",
    "PrincipalDep", "present_id_number", "OPERATIONS_PATHS", "TOKEN_COOKIE",
    "DEFAULT_REGION_PARAMS", "UNAUTHENTICATED_DEVELOPER", "SIGN_IN_PATH", "wants_html",
    "sign_in_redirect",
]
