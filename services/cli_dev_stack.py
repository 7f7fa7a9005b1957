"""What a running `canbao dev` started (its database and broker), recorded in the state folder
so that the commands that work on them directly (redetermine, rollover, import residents,
backup, migrate, ...) find them when run from the same folder without configuration."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

from shared.settings import get_settings

DEV_STACK = "dev-stack.json"
_STACK_VARS = ("CANBAO_DATABASE_URL", "CANBAO_KAFKA_BOOTSTRAP_SERVERS")


def write_dev_stack(state_dir: Path, env: dict[str, str]) -> Path:
    """Record this `canbao dev`'s database and broker, in a file readable by the owner only
    from its creation on (a database URL may carry a password)."""
    path = state_dir / DEV_STACK
    path.unlink(missing_ok=True)  # an older record keeps its mode: start a new file
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
        out.write(json.dumps({"pid": os.getpid(), **{k: env[k] for k in _STACK_VARS}}))
    return path


def running_dev_stack(state_dir: Path) -> dict[str, str]:
    """The database and broker of the `canbao dev` running from `state_dir`; {} when none
    runs (no record, or its process is gone)."""
    try:
        data = json.loads((state_dir / DEV_STACK).read_text())
        os.kill(int(data["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return {k: str(data[k]) for k in _STACK_VARS if data.get(k)}


def adopt_dev_stack(state_dir: Path) -> dict[str, str]:
    """Take the running dev stack's database and broker for what the environment does not
    configure itself, and say so on stderr; what was taken."""
    adopted = {k: v for k, v in running_dev_stack(state_dir).items() if k not in os.environ}
    if adopted:
        os.environ.update(adopted)
        get_settings.cache_clear()
        print("canbao: 使用正在运行的 canbao dev: " + ", ".join(
            f"{k}={without_password(v)}" for k, v in adopted.items()), file=sys.stderr)
    return adopted


def without_password(url: str) -> str:
    return re.sub(r"://([^:/@]+):[^@/]*@", r"://\1:***@", url)
