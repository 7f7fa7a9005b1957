"""Secrets from files (shared/secret_files.py) and `canbao init-secrets`."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from services.cli import main
from shared.secret_files import SecretFileError, load_secret_files
from shared.security_settings import SecuritySettings
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_file_variables_folder_and_json_references_fill_the_settings(tmp_path: Path) -> None:
    (tmp_path / "pii").write_text("k" * 8 + "Zq81vNw3Lp0sXe7TgB5yHc\n")
    folder = tmp_path / "dir"
    folder.mkdir()
    (folder / "CANBAO_SESSION_SECRET").write_text("s3ss10n-Zq81vNw3Lp0sXe7TgB5yHc-abcdef")
    (folder / "unrelated.txt").write_text("ignored")
    pem = "-----BEGIN PUBLIC KEY-----\nMFkw...\n-----END PUBLIC KEY-----\n"
    (tmp_path / "wx.pem").write_text(pem)
    env = {"CANBAO_PII_KEY_FILE": str(tmp_path / "pii"), "CANBAO_SECRETS_DIR": str(folder),
           "CANBAO_PAYMENTS_WECHATPAY_PLATFORM_KEYS": json.dumps(
               {"PUB_KEY_ID_01": f"file:{tmp_path / 'wx.pem'}"}),
           "CANBAO_PAYMENTS_WEBHOOK_SECRETS": '{"bank_ccb": ["whsec_inline"]}'}
    loaded = load_secret_files(env)
    assert loaded == ["CANBAO_PAYMENTS_WECHATPAY_PLATFORM_KEYS", "CANBAO_PII_KEY",
                      "CANBAO_SESSION_SECRET"]
    assert env["CANBAO_PII_KEY"] == "k" * 8 + "Zq81vNw3Lp0sXe7TgB5yHc"  # newline dropped
    assert env["CANBAO_SESSION_SECRET"].startswith("s3ss10n")
    assert json.loads(env["CANBAO_PAYMENTS_WECHATPAY_PLATFORM_KEYS"]) == {"PUB_KEY_ID_01": pem[:-1]}
    assert env["CANBAO_PAYMENTS_WEBHOOK_SECRETS"] == '{"bank_ccb": ["whsec_inline"]}'


def test_a_variable_set_twice_or_an_unreadable_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "k").write_text("x")
    with pytest.raises(SecretFileError, match="both directly and by CANBAO_PII_KEY_FILE"):
        load_secret_files({"CANBAO_PII_KEY": "a", "CANBAO_PII_KEY_FILE": str(tmp_path / "k")})
    with pytest.raises(SecretFileError, match="CANBAO_PII_KEY_FILE: cannot read"):
        load_secret_files({"CANBAO_PII_KEY_FILE": str(tmp_path / "missing")})
    with pytest.raises(SecretFileError, match="CANBAO_PAYMENTS_WEBHOOK_SECRETS: cannot read"):
        load_secret_files({"CANBAO_PAYMENTS_WEBHOOK_SECRETS":
                           json.dumps({"bank": [f"file:{tmp_path / 'nope'}"]})})


def _env(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            out[key] = value
    return out


def test_init_secrets_writes_a_private_env_that_production_settings_accept(
        tmp_path: Path) -> None:
    target = tmp_path / ".env"
    assert main(["init-secrets", "--example", str(ROOT / "deploy/.env.example"),
                 "--output", str(target)]) == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    env = _env(target)
    example = _env(ROOT / "deploy/.env.example")
    assert set(env) == set(example)
    assert not [k for k, v in env.items() if "change-me" in v or "replace-with" in v]
    password = env["POSTGRES_PASSWORD"]
    assert password != example["POSTGRES_PASSWORD"] and len(password) >= 32
    assert env["KC_DB_PASSWORD"] == password
    assert env["CANBAO_DATABASE_URL"] == f"postgresql://canbao:{password}@postgres:5432/canbao"
    # the production settings refuse placeholders; the generated values pass
    fields = {k[len("CANBAO_"):].lower(): v for k, v in env.items() if k.startswith("CANBAO_")}
    settings = Settings(**{k: v for k, v in fields.items() if k in Settings.model_fields})
    assert settings.environment == "production" and settings.pii_key == env["CANBAO_PII_KEY"]
    SecuritySettings(**{k: v for k, v in fields.items() if k in SecuritySettings.model_fields})
    # never overwritten by accident; --force makes new secrets
    before = target.read_text()
    assert main(["init-secrets", "--example", str(ROOT / "deploy/.env.example"),
                 "--output", str(target)]) == 1
    assert target.read_text() == before
    assert main(["init-secrets", "--example", str(ROOT / "deploy/.env.example"),
                 "--output", str(target), "--force"]) == 0
    assert _env(target)["CANBAO_PII_KEY"] != env["CANBAO_PII_KEY"]
