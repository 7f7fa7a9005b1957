"""Who may call reporting's routes (see shared/access.py)."""

from shared.access import FINANCE, MEDICAL, SUPERVISOR, TAX, TOWNSHIP, allow
from shared.auth import AccessRule, Principal, authorize
from shared.errors import Forbidden

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

# The staff who phone the people on a reminder list (township staff, the medical insurance
# bureau, administrators) see their contact details: the name, phone and address in full and
# the household number (户号). Everyone else (supervisors, system callers) sees the masked name
# and phone and neither address nor household: a full name never stands next to what would
# single the person out for a reader who does not call them.
CONTACT_DETAILS: AccessRule = allow(TOWNSHIP, MEDICAL)


def sees_contact_details(principal: Principal, region_code: str) -> bool:
    """Whether `principal` sees the contact details of the people of `region_code`'s reminder
    list: their role is one of CONTACT_DETAILS' (no system scope is) and the region lies
    inside their own."""
    try:
        authorize(principal, CONTACT_DETAILS, {}, {})
    except Forbidden:
        return False
    return principal.can_see_region(region_code)
