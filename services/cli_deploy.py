"""`canbao init-secrets`: the one secrets step of a docker-compose deployment.

Writes `deploy/.env` from `deploy/.env.example`, every placeholder replaced by a generated
secret: the database password (in POSTGRES_PASSWORD, KC_DB_PASSWORD and CANBAO_DATABASE_URL
alike), the PII key, the OpenID client secret (which Keycloak's realm import reads too), the
session secret, Keycloak's administrator password and the example system client's secret.
The file is created with mode 0600 and never overwritten without `--force` (new secrets for a
running system would lock it out of its own database and data: rotate keys as
docs/OPERATIONS.md says instead).
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import sys
from pathlib import Path

from shared.settings import PLACEHOLDER_MARKERS, secret_problem

PASSWORD_KEYS = ("POSTGRES_PASSWORD", "KC_DB_PASSWORD")
_PLACEHOLDER = re.compile("|".join(re.escape(m) for m in ("replace-with", "change-me")))


def generate_secret(length: int = 43) -> str:
    """A random URL-safe secret that the settings accept (no placeholder marker in it)."""
    while True:
        value = secrets.token_urlsafe(length)[:length]
        lowered = value.lower()
        if not any(m in lowered for m in PLACEHOLDER_MARKERS) and \
                secret_problem("generated", value) is None:
            return value


def render_env(example: str) -> tuple[str, list[str]]:
    """deploy/.env text from the example's text, and the names of the variables generated."""
    password = generate_secret(32)
    generated: list[str] = []
    out: list[str] = []
    for line in example.splitlines():
        key, sep, value = line.partition("=")
        if line.lstrip().startswith("#") or not sep or not _PLACEHOLDER.search(value):
            out.append(line)
            continue
        key = key.strip()
        if key in PASSWORD_KEYS:
            value = password
        elif "://" in value:  # a URL whose password is the placeholder
            value = re.sub(r"(://[^:/@]+:)[^@]*(@)", lambda m: m.group(1) + password + m.group(2),
                           value)
        else:
            value = generate_secret()
        generated.append(key)
        out.append(f"{key}={value}")
    return "\n".join(out) + "\n", generated


def cmd_init_secrets(args: argparse.Namespace) -> int:
    target: Path = args.output
    if target.exists() and not args.force:
        print(f"{target} 已存在, 未改动 (用 --force 重新生成全部密钥, "
              "正在运行的系统将无法读取旧数据)\n"
              f"{target} exists and was left alone (--force generates every secret anew; a "
              "running system could no longer read its data)", file=sys.stderr)
        return 1
    text, generated = render_env(args.example.read_text(encoding="utf-8"))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, 0o600)
    tmp.replace(target)
    secrets_dir = target.parent / "secrets"
    secrets_dir.mkdir(exist_ok=True)
    print(f"已写入 wrote {target} (0600): 生成 generated {', '.join(generated)}")
    print(f"支付渠道密钥放在 channel keys go in {secrets_dir}/ "
          "(docs/OPERATIONS.md, 渠道接入 Channel onboarding); then: docker compose up -d")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "init-secrets", help="write deploy/.env with generated secrets (once per deployment)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--example", type=Path, default=Path("deploy/.env.example"),
                   help="the template (default: deploy/.env.example)")
    p.add_argument("--output", "-o", type=Path, default=Path("deploy/.env"),
                   help="where to write (default: deploy/.env)")
    p.add_argument("--force", action="store_true",
                   help="overwrite an existing file with new secrets")
    p.set_defaults(func=cmd_init_secrets)
