"""Development keys and tokens: the Ed25519 key pair `canbao dev` keeps in `.canbao/keys`
(the services load its public half as a local key set), `canbao token` minting tokens with it,
and the session secret development services share. Production tokens come from the identity
provider.

    mint_token(private_key_pem, kid, *, sub, role=None, region=None, department=None,
               scopes=(), ttl_seconds=3600, issuer, audience) -> str
    ensure_dev_keypair(directory) -> (private key path, public key path, kid)
    dev_session_secret(directory) -> bytes | None
    token_command(argv)                                   `canbao token`
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import sys
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from shared.principals import DEPARTMENTS, ROLES, principal_from_claims
from shared.token_keys import PublicKey

DEV_PRIVATE_KEY = "dev-signing.key"


def _load_private_key(pem: bytes | str) -> tuple[Any, str]:
    key = serialization.load_pem_private_key(pem.encode() if isinstance(pem, str) else pem,
                                             password=None)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key, "EdDSA"
    if isinstance(key, rsa.RSAPrivateKey):
        return key, "RS256"
    raise ValueError("signing keys must be Ed25519 or RSA")


def mint_token(private_key_pem: bytes | str, kid: str, *, sub: str, role: str | None = None,
               region: str | None = None, department: str | None = None,
               scopes: Iterable[str] = (), ttl_seconds: int = 3600, issuer: str,
               audience: str) -> str:
    """Sign a token (development and tests; production tokens come from the identity
    provider). The claims are checked the way the verifier will check them."""
    now = int(time.time())
    claims: dict[str, Any] = {"iss": issuer, "aud": audience, "sub": sub, "iat": now,
                              "exp": now + ttl_seconds, "jti": uuid.uuid4().hex}
    if role is not None:
        claims["role"] = role
    if region is not None:
        claims["region"] = region
    if department is not None:
        claims["department"] = department
    scope_list = sorted(set(scopes))
    if scope_list:
        claims["scope"] = " ".join(scope_list)
    principal_from_claims(claims)  # the claims are checked the way the verifier will
    key, algorithm = _load_private_key(private_key_pem)
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})


def key_id(public_key: PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    return "dev-" + hashlib.sha256(raw).hexdigest()[:16]


def ensure_dev_keypair(directory: Path) -> tuple[Path, Path, str]:
    """An Ed25519 key pair in `directory` (created once, private key 0600): returns
    (private key path, public key path `<kid>.pub.pem`, kid). Point
    CANBAO_JWT_PUBLIC_KEYS_DIR at `directory` so the services trust it."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    private_path = directory / DEV_PRIVATE_KEY
    if not private_path.exists():
        key = ed25519.Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        temp = directory / f".dev-signing.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        try:
            os.link(temp, private_path)  # atomic; loses quietly to a concurrent creator
        except FileExistsError:
            pass
        finally:
            temp.unlink()
    private_key, _ = _load_private_key(private_path.read_bytes())
    public_key = private_key.public_key()
    kid = key_id(public_key)
    public_path = directory / f"{kid}.pub.pem"
    if not public_path.exists():
        public_path.write_bytes(public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return private_path, public_path, kid


def token_command(argv: Sequence[str] | None = None) -> int:
    """`canbao token`: print a development token signed with the dev key."""
    from shared.security_settings import SecuritySettings

    parser = argparse.ArgumentParser(prog="canbao token",
                                     description="Print a signed development token.")
    parser.add_argument("--role", choices=sorted(ROLES),
                        help="staff role (omit for a system caller with --scope)")
    parser.add_argument("--region", help="county, township or village code (staff)")
    parser.add_argument("--department", choices=sorted(DEPARTMENTS))
    parser.add_argument("--scope", action="append", default=[],
                        help="system scope, repeatable or space-separated")
    parser.add_argument("--sub", help="subject: staff id or system name")
    parser.add_argument("--ttl", type=int, default=3600, help="seconds the token is valid")
    parser.add_argument("--keys-dir", type=Path,
                        default=Path(os.environ.get("CANBAO_STATE_DIR", ".canbao")) / "keys")
    args = parser.parse_args(argv)
    settings = SecuritySettings()
    scopes = [s for chunk in args.scope for s in chunk.split()]
    if (args.role is None) == (not scopes):
        parser.error("give either --role (staff) or --scope (system caller)")
    if args.ttl <= 0 or args.ttl > settings.jwt_max_lifetime_seconds:
        parser.error(f"--ttl must be between 1 and {settings.jwt_max_lifetime_seconds} s")
    sub = args.sub or (f"{args.role}@{args.region}" if args.role else "dev-system")
    private_path, _, kid = ensure_dev_keypair(args.keys_dir)
    try:
        token = mint_token(private_path.read_bytes(), kid, sub=sub, role=args.role,
                           region=args.region, department=args.department,
                           scopes=scopes, ttl_seconds=args.ttl,
                           issuer=settings.jwt_issuer, audience=settings.jwt_audience)
    except ValueError as exc:
        print(f"canbao token: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0


def dev_session_secret(directory: Path | str | None) -> bytes | None:
    """A session-signing secret derived from the development private key in `directory`, so
    that every service `canbao dev` starts signs sessions alike (their cookies share the
    host); None without that key."""
    if not directory:
        return None
    path = Path(directory) / DEV_PRIVATE_KEY
    if not path.is_file():
        return None
    return hmac.new(path.read_bytes(), b"canbao web session v1", hashlib.sha256).digest()
