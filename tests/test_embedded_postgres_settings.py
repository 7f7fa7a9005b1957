"""The embedded PostgreSQL server takes settings (bench/growth.py starts it with the
production-like ones of docs/SCALING.md); without them it runs on PostgreSQL's defaults."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from devtools.infra import EmbeddedPostgres


def _show(pg: EmbeddedPostgres, name: str) -> str:
    server: Any = pg._server
    return str(server.psql(f"SHOW {name};")).splitlines()[2].strip()


def test_settings_apply_after_a_restart_and_defaults_stay_otherwise(tmp_path: Path) -> None:
    pg = EmbeddedPostgres(tmp_path / "pg", remove_on_stop=True,
                          settings={"shared_buffers": "48MB", "work_mem": "7MB"})
    try:
        pg.start()
        # shared_buffers only changes at a start: seeing it proves the restart
        assert _show(pg, "shared_buffers") == "48MB"
        assert _show(pg, "work_mem") == "7MB"
    finally:
        pg.stop()

    plain = EmbeddedPostgres(tmp_path / "plain", remove_on_stop=True)
    try:
        plain.start()
        assert _show(plain, "work_mem") == "4MB"
    finally:
        plain.stop()


def test_a_setting_postgresql_refuses_fails_the_start(tmp_path: Path) -> None:
    pg = EmbeddedPostgres(tmp_path / "pg", remove_on_stop=True,
                          settings={"wal_compression": "no-such-method"})
    try:
        with pytest.raises(subprocess.CalledProcessError):
            pg.start()
    finally:
        pg.stop()
