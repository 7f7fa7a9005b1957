"""Secrets and keys from files, so that none has to sit inline in an environment variable.

Three ways, applied to the process environment before any settings are read (`canbao` does it
first thing, `load_secret_files()`), so every settings class (shared, security, payments')
sees plain values:

- `CANBAO_X_FILE=/run/secrets/x`: `CANBAO_X` is the file's content (one trailing newline
  removed), e.g. `CANBAO_PII_KEY_FILE`, `CANBAO_PAYMENTS_ALIPAY_PUBLIC_KEY_FILE=alipay.pem`;
- `CANBAO_SECRETS_DIR=/run/secrets/canbao`: every file in that folder named `CANBAO_X` is
  `CANBAO_X` (the mounted-folder style of Docker and Kubernetes secrets);
- inside a JSON value, a string `"file:/path"` is that file's content:
  `CANBAO_PAYMENTS_WECHATPAY_PLATFORM_KEYS='{"PUB_KEY_ID_0114...": "file:/run/secrets/wx.pem"}'`,
  `CANBAO_PAYMENTS_WEBHOOK_SECRETS='{"bank_ccb": ["file:/run/secrets/bank_ccb.whsec"]}'`.

A variable set directly and through a file is refused (which one wins would be a guess), and so
is a file that cannot be read: the service stops saying which variable and which file.
"""

from __future__ import annotations

import json
import os
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

PREFIX = "CANBAO_"
SUFFIX = "_FILE"
DIR_VARIABLE = "CANBAO_SECRETS_DIR"
FILE_REFERENCE = "file:"


class SecretFileError(RuntimeError):
    pass


def _read(variable: str, path: str | Path) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SecretFileError(f"{variable}: cannot read {path}: {exc.strerror or exc}") from exc
    return text[:-1] if text.endswith("\n") else text


def _expand_references(variable: str, value: Any) -> tuple[Any, bool]:
    if isinstance(value, str) and value.startswith(FILE_REFERENCE):
        return _read(variable, value[len(FILE_REFERENCE):]), True
    if isinstance(value, dict):
        changed = False
        out = {}
        for key, item in value.items():
            out[key], hit = _expand_references(variable, item)
            changed |= hit
        return out, changed
    if isinstance(value, list):
        pairs = [_expand_references(variable, item) for item in value]
        return [p[0] for p in pairs], any(p[1] for p in pairs)
    return value, False


def load_secret_files(environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Resolve `*_FILE` variables, `CANBAO_SECRETS_DIR` and `file:` references in JSON values
    into `environ` (default: the process environment). Returns the variables it set."""
    env = os.environ if environ is None else environ
    loaded: dict[str, str] = {}
    for name, path in list(env.items()):
        if not (name.startswith(PREFIX) and name.endswith(SUFFIX)) or not path:
            continue
        target = name[: -len(SUFFIX)]
        if target in env:
            raise SecretFileError(f"{target} is set both directly and by {name}; keep one")
        loaded[target] = _read(name, path)
    folder = env.get(DIR_VARIABLE)
    if folder:
        directory = Path(folder)
        if not directory.is_dir():
            raise SecretFileError(f"{DIR_VARIABLE}: {folder} is not a folder")
        for file in sorted(directory.iterdir()):
            name = file.name.upper()
            if not name.startswith(PREFIX) or not file.is_file():
                continue
            if name in env or name in loaded:
                raise SecretFileError(f"{name} is set both directly (or by a _FILE variable) "
                                      f"and by {file}; keep one")
            loaded[name] = _read(name, file)
    env.update(loaded)
    for name, value in list(env.items()):
        if not name.startswith(PREFIX) or FILE_REFERENCE not in value:
            continue
        stripped = value.lstrip()
        if not stripped.startswith(("{", "[")):
            continue
        try:
            parsed = json.loads(value)
        except ValueError:
            continue
        expanded, changed = _expand_references(name, parsed)
        if changed:
            env[name] = json.dumps(expanded, ensure_ascii=False)
            loaded[name] = env[name]
    return sorted(loaded)
