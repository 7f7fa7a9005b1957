"""Who may call reporting's routes (see shared/access.py)."""

from shared.access import FINANCE, MEDICAL, SUPERVISOR, TAX, TOWNSHIP, allow

READ = ("reporting:read",)

RULES = {
    ("GET", "/v1/progress"): allow(TOWNSHIP, MEDICAL, FINANCE, TAX, SUPERVISOR, scopes=READ),
    ("GET", "/v1/publicity-lists"): allow(TOWNSHIP, MEDICAL, SUPERVISOR, scopes=READ),
    ("GET", "/v1/reminders"): allow(TOWNSHIP, MEDICAL, SUPERVISOR, scopes=READ),
    ("POST", "/v1/reminders/{person_id}/{plan_year}/reason"): allow(TOWNSHIP, MEDICAL,
                                                                    scopes=("reporting:write",)),
    ("GET", "/v1/funding-applications"): allow(FINANCE, MEDICAL, SUPERVISOR, scopes=READ),
    ("GET", "/v1/fund-summary"): allow(FINANCE, MEDICAL, SUPERVISOR, scopes=READ),
    ("GET", "/v1/reconciliation-summary"): allow(TAX, MEDICAL, FINANCE, SUPERVISOR, scopes=READ),
    ("GET", "/dashboard"): allow(TOWNSHIP, MEDICAL, FINANCE, SUPERVISOR, scopes=READ),
}
