"""`canbao dev` on a machine with nothing configured: embedded Postgres, the tansu broker and
the four services on their ports; it says what runs where and SIGTERM stops everything. It
configures the three kinds of payment channel with development keys it leaves in
`.canbao/channels/`, and `canbao pay` signs notifications with them that payments accepts
(and one signed with other keys is refused)."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from devtools.channels.dev import FILES, ensure_dev_channels
from devtools.infra import free_port, port_open
from services.cli_dev_stack import DEV_STACK
from shared.auth import ensure_dev_keypair, mint_token
from shared.idnumber import check_character
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
        _pay_through_every_channel(env, tmp_path)
        _pay_a_bill_looked_up_by_id_number(env, tmp_path)
        # a database command in the operator's shell (no CANBAO_DATABASE_URL) finds dev's
        done = subprocess.run([sys.executable, "-m", "services.cli", "redetermine", "--region",
                               "370481", "--year", "2025"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "使用正在运行的 canbao dev" in done.stderr and " done: " in done.stdout, \
            done.stdout + done.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, rest
    assert "stopped." in rest
    for port in [*DEFAULT_PORTS.values(), kafka_port]:
        assert not port_open("127.0.0.1", port), f"port {port} still open after stop"
    assert not (tmp_path / "state" / "pg" / "postmaster.pid").exists()
    assert not (tmp_path / "state" / DEV_STACK).exists()  # no stack runs any more


def _pay(env: dict[str, str], *args: str) -> tuple[int, dict[str, object], str]:
    done = subprocess.run([sys.executable, "-m", "services.cli", "pay", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "{}"
    return done.returncode, json.loads(last), done.stdout + done.stderr


def _pay_through_every_channel(env: dict[str, str], tmp_path: Path) -> None:
    channels = tmp_path / "state" / "channels"
    assert sorted(p.name for p in channels.iterdir() if not p.name.startswith(".")) == \
        sorted(FILES)
    ids = json.loads((channels / "channels.json").read_text())
    assert ids["bank"]["webhook_path"] == f"/v1/webhooks/{ids['bank']['channel']}"
    forged = ensure_dev_channels(tmp_path / "forged")  # same format, keys nobody configured
    forged_ids = json.loads((forged.directory / "channels.json").read_text())
    # the forger knows every identifier; only the keys differ
    for kind in ("wechatpay", "alipay", "bank"):
        forged_ids[kind] = ids[kind]
    (forged.directory / "channels.json").write_text(json.dumps(forged_ids))
    serial = (channels / "wechat_serial.txt").read_text()
    (forged.directory / "wechat_serial.txt").write_text(serial)
    for number, kind in enumerate(("wechatpay", "alipay", "bank"), 1):
        order = f"DEV-TEST-{kind}-{os.getpid()}"
        code, summary, out = _pay(env, "--channel", kind, "--order-no", order,
                                  "--amount", f"{number}.50", "--duplicate")
        assert code == 0, out
        assert summary == {**summary, "accepted": True, "amount_fen": number * 100 + 50}, out
        assert out.count("已受理 accepted") == 2, out
        code, summary, out = _pay(env, "--channel", kind, "--order-no", order + "-forged",
                                  "--amount", "1.00", "--channels-dir", str(forged.directory))
        assert code == 1 and summary["accepted"] is False, out
        assert "被拒绝 refused" in out and ("401" in out), out


def eventually(probe, what: str, timeout: float = 90):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.5)
    raise AssertionError(f"{what}: not reached; last answer {last!r}")


def _pay_a_bill_looked_up_by_id_number(env: dict[str, str], tmp_path: Path) -> None:
    """Register and enroll a Tengzhou adult, then `canbao pay` finds the bill by ID number
    (as of 2024-12-01, in Tengzhou's 2025 collection period) and pays it by Alipay: the bill answers paid."""
    private, _, kid = ensure_dev_keypair(tmp_path / "state" / "keys")

    def bearer(**claims: object) -> dict[str, str]:
        token = mint_token(private.read_bytes(), kid, issuer="canbao", audience="canbao",
                           **claims)  # type: ignore[arg-type]
        return {"authorization": f"Bearer {token}"}

    clerk = bearer(sub="clerk", role="township_staff", region="370481001000")
    channel = bearer(sub="channel", scopes=("payments:bills",))
    day = dt.date(1980, 1, 1) + dt.timedelta(days=int.from_bytes(os.urandom(2), "big") % 365)
    first17 = f"370481{day:%Y%m%d}{int.from_bytes(os.urandom(2), 'big') % 1000:03d}"
    id_number = first17 + check_character(first17)
    url = {name: f"http://127.0.0.1:{port}" for name, port in DEFAULT_PORTS.items()}
    with httpx.Client(timeout=10) as http:
        person = http.post(f"{url['registration']}/v1/persons", headers=clerk, json={
            "id_number": id_number, "name": "王小明", "township_code": "370481001000",
            "village_code": "370481001001"})
        assert person.status_code == 201, person.text
        enrolled = http.post(f"{url['registration']}/v1/enrollments", headers=clerk,
                             json={"person_id": person.json()["person_id"], "plan_year": 2025})
        assert enrolled.status_code == 201, enrolled.text

        def bill(status: str) -> dict | None:
            r = http.post(f"{url['payments']}/v1/bills/lookup", headers=channel, json={
                "id_number": id_number, "plan_year": 2025, "on": "2024-12-01"})
            return r.json() if r.status_code == 200 and r.json()["status"] == status else None

        due = eventually(lambda: bill("due"), "the bill is due")
        code, summary, out = _pay(env, "--id-number", id_number, "--plan-year", "2025",
                                  "--paid-at", "2024-12-01", "--channel", "alipay")
        assert code == 0, out
        assert summary["order_no"] == due["order_no"], out
        assert summary["amount_fen"] == due["amount_fen"], out
        assert id_number not in out
        paid = eventually(lambda: bill("paid"), "the bill is paid")
        assert paid["order_no"] == due["order_no"]
