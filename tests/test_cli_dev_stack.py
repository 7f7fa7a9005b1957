"""The database commands of `canbao` (redetermine, rollover, migrate, backup, ...) next to a
running `canbao dev`: they find its database and broker through the record it keeps in the
state folder, and a database they cannot reach is said in one Chinese line, not a traceback.
Run as an operator runs them: a subprocess with the settings from the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg

from devtools.infra import create_database, database_url
from devtools.testing.infra import TestInfra
from services.cli_dev_stack import DEV_STACK, running_dev_stack, write_dev_stack

ROOT = Path(__file__).resolve().parent.parent
_STACK_VARS = ("CANBAO_DATABASE_URL", "CANBAO_KAFKA_BOOTSTRAP_SERVERS")


def _canbao(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "services.cli", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def _bare_env(state: Path) -> dict[str, str]:
    """The operator's shell: no database or broker configured, the state folder given."""
    env = {k: v for k, v in os.environ.items() if k not in _STACK_VARS}
    return {**env, "CANBAO_STATE_DIR": str(state)}


async def test_a_database_command_uses_the_running_dev_stack(infra: TestInfra,
                                                             tmp_path: Path) -> None:
    """With a record of a live `canbao dev` (this process stands in for it), `canbao migrate
    registration` run with no CANBAO_DATABASE_URL migrates the recorded database, and says so;
    before, it went to the default URL's database and failed."""
    database = await create_database(infra.database_url, f"devstack_{uuid.uuid4().hex[:8]}")
    state = tmp_path / "state"
    state.mkdir()
    path = write_dev_stack(state, {"CANBAO_DATABASE_URL": database,
                                   "CANBAO_KAFKA_BOOTSTRAP_SERVERS": infra.bootstrap_servers})
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    done = _canbao(_bare_env(state), "migrate", "registration")
    assert done.returncode == 0, done.stderr
    assert "使用正在运行的 canbao dev" in done.stderr
    conn = await asyncpg.connect(database.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        assert await conn.fetchval("SELECT to_regclass('registration.persons') IS NOT NULL")
    finally:
        await conn.close()


def test_commands_that_only_call_the_apis_say_nothing_of_it(tmp_path: Path) -> None:
    """`canbao plans check FILE` (like plans, pay and the list imports, it never opens the
    database) leaves the record alone and prints no note about it."""
    write_dev_stack(tmp_path, {"CANBAO_DATABASE_URL": "postgresql://x/y",
                               "CANBAO_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"})
    seed = ROOT / "services" / "eligibility" / "policies" / "370481-2025.yaml"
    done = _canbao(_bare_env(tmp_path), "plans", "check", str(seed))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "canbao dev" not in done.stderr


def test_the_record_is_owner_only_even_over_an_older_one(tmp_path: Path) -> None:
    """A record left world-readable (by an older canbao, or by hand) is replaced by one the
    owner alone can read: the database URL it holds may carry a password."""
    old = tmp_path / DEV_STACK
    old.write_text("{}")
    old.chmod(0o644)
    path = write_dev_stack(tmp_path, {"CANBAO_DATABASE_URL": "postgresql://u:pw@h/d",
                                      "CANBAO_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"})
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert json.loads(path.read_text())["CANBAO_DATABASE_URL"] == "postgresql://u:pw@h/d"


def test_a_record_whose_process_is_gone_is_ignored(tmp_path: Path) -> None:
    """A `canbao dev` killed without its clean stop leaves its record: a pid that no longer
    runs names no stack, and neither does a missing or damaged record."""
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    (tmp_path / DEV_STACK).write_text(json.dumps({
        "pid": int(gone.stdout), "CANBAO_DATABASE_URL": "postgresql://x/y",
        "CANBAO_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}))
    assert running_dev_stack(tmp_path) == {}
    (tmp_path / DEV_STACK).write_text("{not json")
    assert running_dev_stack(tmp_path) == {}
    assert running_dev_stack(tmp_path / "missing") == {}


async def test_an_unreachable_database_is_one_line_not_a_traceback(infra: TestInfra,
                                                                   tmp_path: Path) -> None:
    """`canbao redetermine` against a database that does not exist, a port where nothing
    listens and a socket folder where no server runs: exit 2, a Chinese line naming the
    database (its password hidden), no traceback."""
    missing = database_url(infra.database_url, f"no_such_db_{uuid.uuid4().hex[:6]}")
    for url, reason in ((missing, "does not exist"),
                        ("postgresql+asyncpg://canbao:s3cret@127.0.0.1:1/canbao", ""),
                        (f"postgresql+asyncpg://canbao:s3cret@/canbao?host={tmp_path}", "")):
        env = {**_bare_env(tmp_path), "CANBAO_DATABASE_URL": url}
        done = _canbao(env, "redetermine", "--region", "370481", "--year", "2027")
        assert done.returncode == 2, done.stderr
        assert "无法连接数据库" in done.stderr and "CANBAO_DATABASE_URL" in done.stderr
        assert reason in done.stderr
        assert "Traceback" not in done.stderr and "s3cret" not in done.stderr
