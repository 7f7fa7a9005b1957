"""Payments' operations in Chinese and English (OpenAPI summaries; shared/api_docs.py). The
routes' own docstrings stay their English descriptions."""

SUMMARIES: dict[tuple[str, str], tuple[str, str]] = {
    ("POST", "/v1/bills/lookup"): ("查询账单: 应缴金额和订单号",
                                   "A bill: what is owed and the order to pay"),
    ("POST", "/v1/webhooks/wechatpay"): ("微信支付回调 (平台签名)",
                                         "WeChat Pay notification (platform signature)"),
    ("POST", "/v1/webhooks/alipay"): ("支付宝异步通知 (RSA2)", "Alipay notification (RSA2)"),
    ("POST", "/v1/webhooks/{channel}"): ("银行、POS、税务大厅回调 (Standard Webhooks)",
                                         "Bank, POS and tax hall notifications"),
    ("GET", "/v1/suspense"): ("挂账列表", "Money that could not be applied (suspense)"),
    ("POST", "/v1/suspense/{suspense_id}/resolve"): ("处理挂账", "Resolve a suspense item"),
    ("POST", "/v1/suspense/{suspense_id}/reverse"): ("冲正错配的缴费",
                                                     "Reverse a wrong match"),
    ("POST", "/v1/proxy-batches"): ("政府代缴批次", "Record a budget line's proxy payment"),
    ("GET", "/v1/refunds"): ("应退费列表", "Refunds due"),
    ("POST", "/v1/refunds/{refund_id}/complete"): ("确认退费完成", "Complete a refund"),
    ("POST", "/v1/statements/{channel}"): ("上传渠道日对账单", "Reconcile a channel statement"),
    ("GET", "/v1/reconciliations/compare"): ("税务与医保对账 (任意日期区间)",
                                             "Channel statements versus the ledger"),
    ("GET", "/v1/reconciliations/{rec_id}"): ("查看对账结果", "A reconciliation"),
}
