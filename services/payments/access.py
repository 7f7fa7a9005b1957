"""Who may call payments' routes (see shared/access.py). Webhooks are authenticated by the
channels' own signatures, not by tokens."""

from services.payments.hotroutes import BILL_LOOKUP, HOT_ROUTES
from shared.access import COLLECTOR, FINANCE, MEDICAL, SUPERVISOR, TAX, TOWNSHIP, allow

READ = ("payments:read",)
EXCHANGE = ("payments:tax_exchange",)

PUBLIC_PATHS = {r.path for r in HOT_ROUTES if r.public}  # the channels' webhooks

RULES = {
    # payment channels (system callers) look up what a person owes
    (BILL_LOOKUP.method, BILL_LOOKUP.path): allow(TOWNSHIP, MEDICAL, TAX,
                                                  scopes=("payments:bills",)),
    ("POST", "/v1/proxy-batches"): allow(FINANCE, scopes=("payments:proxy",)),
    ("POST", "/v1/statements/{channel}"): allow(TAX, MEDICAL, scopes=("payments:statements",)),
    ("GET", "/v1/reconciliations/compare"): allow(TAX, MEDICAL, FINANCE, SUPERVISOR, scopes=READ),
    ("GET", "/v1/reconciliations/{reconciliation_id}"): allow(TAX, MEDICAL, FINANCE, SUPERVISOR,
                                                              scopes=READ),
    ("GET", "/v1/suspense"): allow(TAX, MEDICAL, scopes=READ),
    ("POST", "/v1/suspense/{suspense_id}/resolve"): allow(MEDICAL, TAX, scopes=("payments:resolve",)),
    ("POST", "/v1/suspense/{suspense_id}/reverse"): allow(MEDICAL, TAX,
                                                        scopes=("payments:resolve",)),
    ("GET", "/v1/refunds"): allow(TAX, MEDICAL, FINANCE, scopes=READ),
    ("POST", "/v1/refunds/{refund_id}/complete"): allow(TAX, MEDICAL, scopes=("payments:resolve",)),
    # the exchange with the tax bureau (docs/EXCHANGE.md)
    ("POST", "/v1/tax/exchange/outgoing/{kind}"): allow(MEDICAL, scopes=EXCHANGE),
    ("GET", "/v1/tax/exchange/outgoing"): allow(MEDICAL, TAX, scopes=EXCHANGE),
    ("GET", "/v1/tax/exchange/outgoing/{file_id}"): allow(MEDICAL, TAX, scopes=EXCHANGE),
    ("GET", "/v1/tax/exchange/outgoing/{file_id}/file"): allow(MEDICAL, TAX, scopes=EXCHANGE),
    ("POST", "/v1/tax/exchange/payments"): allow(TAX, scopes=EXCHANGE),
    ("POST", "/v1/tax/reconciliations"): allow(TAX, MEDICAL, scopes=EXCHANGE),
    ("GET", "/v1/tax/reconciliations/schedule"): allow(TAX, MEDICAL, FINANCE, SUPERVISOR,
                                                        scopes=READ),
    ("GET", "/v1/tax/reconciliations/{reconciliation_id}"): allow(
        TAX, MEDICAL, FINANCE, SUPERVISOR, scopes=READ),
    ("GET", "/v1/tax/reconciliations/{reconciliation_id}/report.xlsx"): allow(
        TAX, MEDICAL, FINANCE, SUPERVISOR, scopes=READ),
    ("POST",
     "/v1/tax/reconciliations/{reconciliation_id}/differences/{difference_id}/resolve"): allow(
        TAX, MEDICAL, scopes=("payments:resolve",)),
    # village collectors (代收): receipts, voids, daily hand-overs, the bank's deposits
    ("POST", "/v1/collections"): allow(COLLECTOR),
    ("GET", "/v1/collections"): allow(COLLECTOR, TOWNSHIP, TAX, MEDICAL, scopes=READ),
    ("POST", "/v1/collections/{receipt_no}/void"): allow(COLLECTOR),
    ("POST", "/v1/collections/handovers"): allow(COLLECTOR),
    ("GET", "/v1/collections/handovers"): allow(COLLECTOR, TOWNSHIP, TAX, MEDICAL, FINANCE,
                                                scopes=READ),
    ("POST", "/v1/collections/handovers/{handover_no}/deposit"): allow(
        TAX, FINANCE, scopes=("payments:deposits",)),
    ("POST", "/v1/collections/deposits"): allow(TAX, FINANCE, scopes=("payments:deposits",)),
}
