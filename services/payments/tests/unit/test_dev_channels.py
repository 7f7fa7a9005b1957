"""The development channels of `canbao dev` (keys created once, kept across restarts, the
settings they configure) and the notifications `canbao pay` sends with them; and what every
channel parser refuses as it arrives: amounts beyond the ledger (2^70 fen) and times at the
calendar's ends."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from devtools.channels.dev import FILES, ensure_dev_channels, load_dev_channels
from devtools.channels.sender import payment_notification
from services.payments.channels import PayloadInvalid, SignatureInvalid, UnknownKeySerial
from services.payments.settings import PaymentsSettings
from services.payments.statements import StatementInvalid, parse_bank_statement

NOW = dt.datetime(2025, 12, 1, 2, 0, tzinfo=dt.UTC)
KINDS = ("wechatpay", "alipay", "bank")


def _settings(directory: Path, monkeypatch: pytest.MonkeyPatch) -> PaymentsSettings:
    for name, value in ensure_dev_channels(directory).payments_env().items():
        monkeypatch.setenv(name, value)
    return PaymentsSettings()


def test_material_is_created_once_and_kept(tmp_path: Path) -> None:
    first = ensure_dev_channels(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FILES)
    assert (tmp_path / "wechat_platform_private.pem").stat().st_mode & 0o077 == 0
    assert (tmp_path / "bank_webhook_secret.txt").read_text().startswith("whsec_")
    assert len((tmp_path / "wechat_apiv3_key.txt").read_text().strip()) == 32
    before = {name: (tmp_path / name).read_bytes() for name in FILES}
    again = ensure_dev_channels(tmp_path)  # a restart
    assert {name: (tmp_path / name).read_bytes() for name in FILES} == before
    assert again.identifiers == first.identifiers
    ids = json.loads((tmp_path / "channels.json").read_text())
    assert ids["wechatpay"]["platform_key_serial"] == first.wechat_serial
    assert ids["bank"]["webhook_path"] == "/v1/webhooks/bank_dev"
    assert load_dev_channels(tmp_path).bank_secret == first.bank_secret


def test_a_region_edited_in_channels_json_moves_the_account(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ensure_dev_channels(tmp_path)
    ids = json.loads((tmp_path / "channels.json").read_text())
    ids["alipay"]["region"] = "370124"
    ids["bank"]["region"] = None
    (tmp_path / "channels.json").write_text(json.dumps(ids))
    regions = _settings(tmp_path, monkeypatch).channel_regions()
    assert regions == {"wechatpay": "370481", "alipay": "370124"}


@pytest.mark.parametrize("kind", KINDS)
def test_pay_notifications_verify_and_forged_ones_do_not(
        kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(tmp_path / "dev", monkeypatch)
    adapters = settings.adapters()
    assert sorted(adapters) == ["alipay", "bank_dev", "wechatpay"]
    dev = load_dev_channels(tmp_path / "dev")
    paid = NOW - dt.timedelta(days=3)
    out = payment_notification(dev, kind, order_no="CB2025X1", amount_fen=38000, paid_at=paid,
                               now=NOW)
    channel = out.path.rsplit("/", 1)[1]
    n = adapters[channel].verify_and_parse(out.headers, out.body, NOW)
    assert (n.order_no, n.amount_fen, n.paid_at, n.kind) == ("CB2025X1", 38000, paid, "payment")
    assert n.channel_txn_id == out.channel_txn_id
    # signed with other keys under the same identifiers: refused
    forged_dir = tmp_path / "forged"
    ensure_dev_channels(forged_dir)
    (forged_dir / "channels.json").write_text((tmp_path / "dev" / "channels.json").read_text())
    (forged_dir / "wechat_serial.txt").write_text(dev.wechat_serial)
    forged = payment_notification(load_dev_channels(forged_dir), kind, order_no="CB2025X1",
                                  amount_fen=38000, paid_at=paid, now=NOW)
    with pytest.raises((SignatureInvalid, UnknownKeySerial)):
        adapters[channel].verify_and_parse(forged.headers, forged.body, NOW)


@pytest.mark.parametrize("kind", KINDS)
def test_every_parser_refuses_an_amount_beyond_the_ledger(
        kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    adapters = _settings(tmp_path, monkeypatch).adapters()
    dev = load_dev_channels(tmp_path)
    out = payment_notification(dev, kind, order_no="CB2025X2", amount_fen=2**70, paid_at=NOW,
                               now=NOW)
    with pytest.raises(PayloadInvalid) as refused:
        adapters[out.path.rsplit("/", 1)[1]].verify_and_parse(out.headers, out.body, NOW)
    assert refused.value.code in ("bad_amount", "payload_invalid")
    assert "amount" in refused.value.reason


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("paid_at", [dt.datetime(1, 1, 1, tzinfo=dt.UTC),
                                     dt.datetime(9999, 12, 31, tzinfo=dt.UTC)])
def test_every_parser_refuses_times_at_the_ends_of_the_calendar(
        kind: str, paid_at: dt.datetime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    adapters = _settings(tmp_path, monkeypatch).adapters()
    out = payment_notification(load_dev_channels(tmp_path), kind, order_no="CB2025X3",
                               amount_fen=100, paid_at=paid_at, now=NOW)
    with pytest.raises(PayloadInvalid) as refused:
        adapters[out.path.rsplit("/", 1)[1]].verify_and_parse(out.headers, out.body, NOW)
    assert refused.value.code in ("bad_time", "payload_invalid")


def _bank_statement(amount: str, occurred_at: str) -> bytes:
    return ("channel_txn_id,order_no,kind,amount_yuan,status,occurred_at\n"
            f"T1,CB1,payment,{amount},succeeded,{occurred_at}\n"
            f"#summary,1,{amount},0.00\n").encode()


@pytest.mark.parametrize(("amount", "occurred_at"), [
    (f"{2**70}.00", "2025-12-01T10:00:00+08:00"),
    ("1.00", "0001-01-01T00:00:00+08:00"),
    ("1.00", "9999-12-31T23:59:59+08:00"),
])
def test_statements_refuse_what_the_ledger_cannot_hold(amount: str, occurred_at: str) -> None:
    assert parse_bank_statement(_bank_statement("1.00", "2025-12-01T10:00:00+08:00"), "bank")
    with pytest.raises(StatementInvalid):
        parse_bank_statement(_bank_statement(amount, occurred_at), "bank")
