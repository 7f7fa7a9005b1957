"""Token checks switched on for a test: a throwaway signing key, the settings pointed at it,
and a function that mints bearer headers with it.

    with auth_enabled(tmp_path) as bearer:
        app = create_app(...)   # built inside: it reads the security settings
        headers = bearer(sub="clerk", role="township_staff", region="370481001000")
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from shared.auth import ensure_dev_keypair, mint_token
from shared.security_settings import get_security_settings

Bearer = Callable[..., dict[str, str]]


@contextmanager
def auth_enabled(keys_dir: Path) -> Iterator[Bearer]:
    private_path, _, kid = ensure_dev_keypair(Path(keys_dir))
    private = Path(private_path).read_bytes()
    patch = pytest.MonkeyPatch()
    patch.setenv("CANBAO_AUTH_ENABLED", "true")
    patch.setenv("CANBAO_JWT_PUBLIC_KEYS_DIR", str(keys_dir))
    get_security_settings.cache_clear()

    def bearer(*, sub: str, role: str | None = None, region: str | None = None,
               department: str | None = None, scopes: tuple[str, ...] = ()) -> dict[str, str]:
        token = mint_token(private, kid, sub=sub, role=role, region=region,
                           department=department, scopes=scopes, issuer="canbao",
                           audience="canbao")
        return {"authorization": f"Bearer {token}"}

    try:
        yield bearer
    finally:
        patch.undo()
        get_security_settings.cache_clear()
