"""Who may call payments' routes (see shared/access.py). Webhooks are authenticated by the
channels' own signatures, not by tokens."""

from services.payments.hotroutes import BILL_LOOKUP, HOT_ROUTES
from shared.access import FINANCE, MEDICAL, SUPERVISOR, TAX, TOWNSHIP, allow

READ = ("payments:read",)

PUBLIC_PATHS = {r.path for r in HOT_ROUTES if r.public}  # the channels' webhooks

RULES = {
    # payment channels (system callers) look up what a person owes
    (BILL_LOOKUP.method, BILL_LOOKUP.path): allow(TOWNSHIP, MEDICAL, TAX,
                                                  scopes=("payments:bills",)),
    ("POST", "/v1/proxy-batches"): allow(FINANCE, scopes=("payments:proxy",)),
    ("POST", "/v1/statements/{channel}"): allow(TAX, MEDICAL, scopes=("payments:statements",)),
    ("GET", "/v1/reconciliations/compare"): allow(TAX, MEDICAL, FINANCE, SUPERVISOR, scopes=READ),
    ("GET", "/v1/reconciliations/{rec_id}"): allow(TAX, MEDICAL, FINANCE, SUPERVISOR, scopes=READ),
    ("GET", "/v1/suspense"): allow(TAX, MEDICAL, scopes=READ),
    ("POST", "/v1/suspense/{suspense_id}/resolve"): allow(MEDICAL, TAX, scopes=("payments:resolve",)),
    ("POST", "/v1/suspense/{suspense_id}/reverse"): allow(MEDICAL, TAX,
                                                        scopes=("payments:resolve",)),
    ("GET", "/v1/refunds"): allow(TAX, MEDICAL, FINANCE, scopes=READ),
    ("POST", "/v1/refunds/{refund_id}/complete"): allow(TAX, MEDICAL, scopes=("payments:resolve",)),
}
