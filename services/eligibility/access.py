"""Who may call eligibility's routes (see shared/access.py)."""

from shared.access import ALL_STAFF, FINANCE, MEDICAL, SUPERVISOR, TOWNSHIP, allow

READ = ("eligibility:read",)

RULES = {
    ("POST", "/v1/determinations/preview"): allow(*ALL_STAFF, scopes=("eligibility:preview", *READ)),
    ("GET", "/v1/determinations/{person_id}/{plan_year}"): allow(
        TOWNSHIP, MEDICAL, FINANCE, SUPERVISOR, scopes=READ),
    # plans are public documents: readable whatever the caller's region
    ("GET", "/v1/plans"): allow(*ALL_STAFF, scopes=READ, regions=False),
    ("GET", "/v1/plans/{region_code}/{plan_year}"): allow(*ALL_STAFF, scopes=READ, regions=False),
    # the plan registry: policy officers of the medical insurance bureau, in their region
    # (drafts named by id are checked against the draft's region in the service)
    ("POST", "/v1/plans/drafts"): allow(MEDICAL, scopes=("eligibility:plans",)),
    ("GET", "/v1/plans/drafts"): allow(MEDICAL, SUPERVISOR, scopes=("eligibility:plans",)),
    ("GET", "/v1/plans/drafts/{draft_id}"): allow(MEDICAL, SUPERVISOR,
                                                  scopes=("eligibility:plans",)),
    ("POST", "/v1/plans/drafts/{draft_id}/simulation"): allow(MEDICAL, FINANCE,
                                                              scopes=("eligibility:plans",)),
    ("POST", "/v1/plans/drafts/{draft_id}/approve"): allow(MEDICAL, scopes=("eligibility:plans",)),
    ("POST", "/v1/plans/drafts/{draft_id}/publish"): allow(MEDICAL, scopes=("eligibility:plans",)),
    ("GET", "/v1/plans/{region_code}/{plan_year}/history"): allow(
        *ALL_STAFF, scopes=READ, regions=False),
    ("GET", "/v1/plans/{region_code}/{plan_year}/publications/{publication}/changes"): allow(
        MEDICAL, FINANCE, SUPERVISOR, scopes=("eligibility:plans",)),
    ("POST", "/v1/plans/{region_code}/{plan_year}/republish"): allow(
        MEDICAL, scopes=("eligibility:plans",)),
    ("POST", "/v1/redeterminations"): allow(MEDICAL, scopes=("eligibility:redetermine",)),
    ("GET", "/v1/redeterminations/{job_id}"): allow(MEDICAL, SUPERVISOR, scopes=READ),
    ("POST", "/v1/simulations"): allow(MEDICAL, FINANCE, scopes=("eligibility:simulate",),
                                       regions=False),
}
