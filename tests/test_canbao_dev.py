"""`canbao dev` on a machine with nothing configured: embedded Postgres, the tansu broker and
the four services on their ports; it says what runs where and SIGTERM stops everything."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shared.devinfra import free_port, port_open
from shared.settings import DEFAULT_PORTS

ROOT = Path(__file__).resolve().parent.parent


def test_dev_runs_everything_and_stops_cleanly(tmp_path: Path) -> None:
    taken = [p for p in DEFAULT_PORTS.values() if port_open("127.0.0.1", p)]
    if taken:
        pytest.skip(f"ports {taken} are in use on this machine")
    env = {k: v for k, v in os.environ.items()
           if k not in ("CANBAO_DATABASE_URL", "CANBAO_KAFKA_BOOTSTRAP_SERVERS")}
    env["CANBAO_STATE_DIR"] = str(tmp_path / "state")
    kafka_port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "dev", "--kafka-port", str(kafka_port),
         "--ready-timeout", "90"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip())
            if "Ctrl-C stops everything" in line:
                break
        output = "\n".join(lines)
        assert "embedded PostgreSQL" in output, output
        assert f"127.0.0.1:{kafka_port}" in output, output
        for name, port in DEFAULT_PORTS.items():
            assert f"{name:<12} http://127.0.0.1:{port}" in output, output
        assert "NOT READY" not in output, output
    finally:
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, rest
    assert "stopped." in rest
    for port in [*DEFAULT_PORTS.values(), kafka_port]:
        assert not port_open("127.0.0.1", port), f"port {port} still open after stop"
    assert not (tmp_path / "state" / "pg" / "postmaster.pid").exists()
