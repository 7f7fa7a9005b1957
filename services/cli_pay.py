"""`canbao pay`: pay a bill the way a channel does, on the `canbao dev` stack.

Looks the bill up (`POST /v1/bills/lookup`, as a channel's system caller with the development
signing key), then sends the payments service a signed notification in the channel's own
format with the development channel keys of `.canbao/channels/`, and says what it answered.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx

from services.payments.channels._support import CHINA_TZ
from shared.money import InvalidAmount, fen_to_yuan, yuan_to_fen

STATE_DIR = Path(os.environ.get("CANBAO_STATE_DIR", ".canbao"))
KIND_CHOICES = ("wechatpay", "alipay", "bank")


def build_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.description = ("Pay a bill as a channel would (signed notification in the channel's "
                          "format) on the `canbao dev` stack. 以渠道身份缴费。")
    who = parser.add_argument_group("the bill 账单")
    who.add_argument("--id-number", help="身份证号 of the person (looked up by POST body)")
    who.add_argument("--plan-year", type=int, help="plan year 年度")
    who.add_argument("--order-no", help="pay this order number without a lookup")
    who.add_argument("--amount", help="amount in yuan 元 (with --order-no), e.g. 380.00")
    parser.add_argument("--channel", choices=KIND_CHOICES, default="wechatpay",
                        help="which channel's notification to send (default wechatpay)")
    parser.add_argument("--paid-at", help="when the money was paid: YYYY-MM-DD or an ISO time "
                                          "(Beijing time unless it has an offset); default now")
    parser.add_argument("--duplicate", action="store_true",
                        help="send the same notification twice, as channels retry")
    parser.add_argument("--url", default=None,
                        help="payments service (default: channels.json payments_url)")
    parser.add_argument("--channels-dir", type=Path, default=STATE_DIR / "channels",
                        help="the development channel keys canbao dev made (.canbao/channels)")
    parser.add_argument("--keys-dir", type=Path, default=STATE_DIR / "keys",
                        help="development signing key, for the bill lookup")
    parser.add_argument("--token", help="bearer token for the bill lookup (default: minted "
                                        "with the development key, scope payments:bills)")
    return parser


def _paid_at(text: str | None, now: dt.datetime) -> dt.datetime:
    if not text:
        return now
    try:
        if len(text) == 10:
            moment = dt.datetime.combine(dt.date.fromisoformat(text), dt.time(10, 0))
        else:
            moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise SystemExit(f"canbao pay: --paid-at {text!r} is not YYYY-MM-DD or an ISO time "
                         "(日期格式不对)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CHINA_TZ)
    return moment.astimezone(dt.UTC)


def _token(args: argparse.Namespace) -> str:
    if args.token:
        return str(args.token)
    from shared.auth import ensure_dev_keypair, mint_token
    from shared.security_settings import SecuritySettings

    if not args.keys_dir.is_dir():
        raise SystemExit(f"canbao pay: no development signing key in {args.keys_dir} "
                         "(run `canbao dev` first, or pass --token / --order-no)")
    private_path, _, kid = ensure_dev_keypair(args.keys_dir)
    settings = SecuritySettings()
    return mint_token(private_path.read_bytes(), kid, sub="canbao-pay",
                      scopes=("payments:bills",), ttl_seconds=300,
                      issuer=settings.jwt_issuer, audience=settings.jwt_audience)


def _error(response: httpx.Response) -> tuple[str, str]:
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        return "", response.text[:300]
    return str(error.get("code", "")), str(error.get("message", ""))


def _lookup(client: httpx.Client, args: argparse.Namespace,
            paid_at: dt.datetime) -> tuple[str, int] | None:
    body: dict[str, Any] = {"id_number": args.id_number, "plan_year": args.plan_year}
    if args.paid_at:
        body["on"] = paid_at.astimezone(CHINA_TZ).date().isoformat()
    response = client.post("/v1/bills/lookup", json=body,
                           headers={"authorization": f"Bearer {_token(args)}"})
    if response.status_code != 200:
        code, message = _error(response)
        print(f"查询账单失败 bill lookup failed: HTTP {response.status_code} {code}: {message}")
        if code in ("not_found", "method_not_allowed"):
            print("  此服务还没有 POST /v1/bills/lookup: 请用 --order-no 和 --amount "
                  "(this service has no POST /v1/bills/lookup yet: use --order-no and --amount)")
        return None
    bill = response.json()
    status = bill.get("status")
    who = f"{bill.get('name_masked', '')} {bill.get('id_number_masked', '')}".strip()
    print(f"账单 bill {args.plan_year}: {who}: {status}")
    if status != "due" or not bill.get("order_no"):
        print(f"  无需缴费 nothing to pay: {bill.get('reason', status)}")
        return None
    amount = int(bill["amount_fen"])
    print(f"  应缴 due {fen_to_yuan(amount)} 元, 订单号 order {bill['order_no']}")
    for key in ("coverage_start", "coverage_start_if_paid_in_period"):
        if bill.get(key):
            print(f"  待遇开始 coverage starts {bill[key]}")
            break
    if bill.get("explanation"):
        print(f"  说明 explanation: {bill['explanation']}")
    return str(bill["order_no"]), amount


def _describe(kind: str, response: httpx.Response) -> bool:
    accepted = 200 <= response.status_code < 300 and (
        kind != "alipay" or response.text.strip() == "success")
    if accepted:
        print(f"  应答 answer: HTTP {response.status_code} 已受理 accepted "
              "(通知已保存, 随后入账匹配 / stored; matching follows)")
    else:
        detail = response.text.strip()[:300] or "(no body)"
        print(f"  应答 answer: HTTP {response.status_code} 被拒绝 refused: {detail}")
    return accepted


def cmd_pay(args: argparse.Namespace) -> int:
    from services.cli import require_devtools

    if not require_devtools("pay"):
        return 2
    from devtools.channels.dev import DevChannelsMissing, load_dev_channels
    from devtools.channels.sender import NAMES, payment_notification

    try:
        dev = load_dev_channels(args.channels_dir)
    except DevChannelsMissing as exc:
        print(f"canbao pay: {exc}", file=sys.stderr)
        return 2
    now = dt.datetime.now(dt.UTC)
    paid_at = _paid_at(args.paid_at, now)
    url = args.url or dev.identifiers.get("payments_url") or "http://127.0.0.1:8003"
    with httpx.Client(base_url=url, timeout=30) as client:
        if args.order_no:
            if not args.amount:
                print("canbao pay: --order-no needs --amount (元)", file=sys.stderr)
                return 2
            try:
                target = (args.order_no, yuan_to_fen(args.amount))
            except InvalidAmount as exc:
                print(f"canbao pay: --amount {args.amount!r}: {exc}", file=sys.stderr)
                return 2
        elif args.id_number and args.plan_year:
            found = _lookup(client, args, paid_at)
            if found is None:
                return 1
            target = found
        else:
            print("canbao pay: give --id-number and --plan-year, or --order-no and --amount",
                  file=sys.stderr)
            return 2
        order_no, amount_fen = target
        outgoing = payment_notification(dev, args.channel, order_no=order_no,
                                        amount_fen=amount_fen, paid_at=paid_at, now=now)
        print(f"发送 sending {NAMES[args.channel]}: {fen_to_yuan(amount_fen)} 元 for order "
              f"{order_no}, paid {paid_at.astimezone(CHINA_TZ).isoformat(timespec='seconds')}, "
              f"txn {outgoing.channel_txn_id} -> POST {url}{outgoing.path}")
        ok = True
        for attempt in range(2 if args.duplicate else 1):
            if attempt:
                print("  再次发送同一通知 sending the same notification again (duplicate)")
            response = client.post(outgoing.path, content=outgoing.body,
                                   headers=outgoing.headers)
            ok = _describe(args.channel, response) and ok
    print(json.dumps({"accepted": ok, "channel": args.channel, "order_no": order_no,
                      "amount_fen": amount_fen, "channel_txn_id": outgoing.channel_txn_id},
                     ensure_ascii=False))
    return 0 if ok else 1
