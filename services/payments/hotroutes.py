"""The peak-season routes, specified once.

Each is served twice: by the documented FastAPI route (bills/router.py, webhooks/router.py,
which build their routes from these specifications) and by the fast lane (fastlane.py), which
takes from the same specifications, and from the FastAPI routes built from them, the path it
answers, the label metrics and the audit log record, the access check and the parameters. A
test (services/payments/tests/integration/test_payments_fastlane.py) fails when the two
diverge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from services.payments.bills.schemas import BillLookup


@dataclass(frozen=True)
class HotRoute:
    """`path`: the route template, which is also the label of its metrics and audit records
    and the key of its access rule (services/payments/access.py). `public`: authenticated by
    the channel's signature instead of a token (access.PUBLIC_PATHS is made of these).
    `channel`: a webhook route for that one channel (None: the `{channel}` path parameter).
    `body`: the model of a JSON body (None: the raw body, as a channel signed it)."""

    name: str
    kind: Literal["bill", "webhook"]
    method: str
    path: str
    public: bool
    channel: str | None = None
    body: type[BaseModel] | None = None


BILL_LOOKUP = HotRoute("lookup_bill", "bill", "POST", "/v1/bills/lookup", public=False,
                       body=BillLookup)
WECHATPAY_WEBHOOK = HotRoute("wechatpay", "webhook", "POST", "/v1/webhooks/wechatpay",
                             public=True, channel="wechatpay")
ALIPAY_WEBHOOK = HotRoute("alipay", "webhook", "POST", "/v1/webhooks/alipay", public=True,
                          channel="alipay")
CHANNEL_WEBHOOK = HotRoute("standard", "webhook", "POST", "/v1/webhooks/{channel}",
                           public=True)
# in routing order: a channel with its own route is never served by `{channel}`
WEBHOOKS = (WECHATPAY_WEBHOOK, ALIPAY_WEBHOOK, CHANNEL_WEBHOOK)
HOT_ROUTES = (BILL_LOOKUP, *WEBHOOKS)
OWN_ROUTE_CHANNELS = frozenset(r.channel for r in WEBHOOKS if r.channel)
