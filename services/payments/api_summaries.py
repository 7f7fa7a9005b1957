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
    ("GET", "/v1/reconciliations/{reconciliation_id}"): ("查看对账结果", "A reconciliation"),
    ("POST", "/v1/tax/exchange/outgoing/{kind}"): (
        "生成下一份费源或特殊缴费单据文件 (只含变化)",
        "The next dues or special-payment file for the tax bureau"),
    ("GET", "/v1/tax/exchange/outgoing"): ("已发送税务的文件 (不含内容)",
                                           "Files sent to the tax bureau"),
    ("GET", "/v1/tax/exchange/outgoing/{file_id}"): ("重发已发送的文件 (内容不变)",
                                                     "A sent file again"),
    ("GET", "/v1/tax/exchange/outgoing/{file_id}/file"): ("已发送的文件 (CSV)",
                                                          "A sent file as CSV"),
    ("POST", "/v1/tax/exchange/payments"): ("导入税务缴费明细文件",
                                            "Apply the tax bureau's payments file"),
    ("POST", "/v1/tax/reconciliations"): ("医保与税务对账 (提交税务对账文件)",
                                          "Reconcile a period against the tax bureau's file"),
    ("GET", "/v1/tax/reconciliations/schedule"): ("某月的对账日程",
                                                  "The reconciliation schedule of a month"),
    ("GET", "/v1/tax/reconciliations/{reconciliation_id}"): (
        "对账报告", "A tax reconciliation's report"),
    ("GET", "/v1/tax/reconciliations/{reconciliation_id}/report.xlsx"): (
        "对账报告 (Excel)", "A tax reconciliation's report as XLSX"),
    ("POST", "/v1/tax/reconciliations/{reconciliation_id}/differences/{difference_id}/resolve"): (
        "处理一条对账差异 (须说明理由, 留痕)", "Resolve one difference with a reason"),
    ("POST", "/v1/collections"): ("村级代收: 登记一笔收款并开收据",
                                  "Record a village collector's payment with its receipt"),
    ("GET", "/v1/collections"): ("代收收据列表", "Receipts of village collection"),
    ("POST", "/v1/collections/{receipt_no}/void"): ("作废收据 (须说明理由, 解缴前)",
                                                    "Void a receipt"),
    ("POST", "/v1/collections/handovers"): ("当日解缴 (含合计)", "The day's hand-over"),
    ("GET", "/v1/collections/handovers"): ("解缴列表", "Hand-overs"),
    ("POST", "/v1/collections/handovers/{handover_no}/deposit"): (
        "解缴的银行入账记录: 相符、短款或长款", "The bank's deposit record for a hand-over"),
    ("POST", "/v1/collections/deposits"): ("导入银行入账文件", "Apply the bank's deposit file"),
}
