"""Who may call registration's routes (see shared/access.py)."""

from shared.access import ALL_STAFF, DEPARTMENT, MEDICAL, SUPERVISOR, TOWNSHIP, allow
from shared.auth import PII_READ_SCOPE

READ = ("registration:read",)
WRITE = ("registration:write",)
read_people = allow(TOWNSHIP, MEDICAL, SUPERVISOR, scopes=READ)
write_people = allow(TOWNSHIP, MEDICAL, scopes=WRITE)
bureau_only = allow(MEDICAL, scopes=WRITE)

RULES = {
    ("POST", "/v1/persons"): write_people,
    ("GET", "/v1/persons"): read_people,
    ("POST", "/v1/persons/lookup"): allow(TOWNSHIP, MEDICAL, DEPARTMENT, scopes=READ),
    ("GET", "/v1/persons/{person_id}"): read_people,
    ("PATCH", "/v1/persons/{person_id}"): write_people,
    ("GET", "/v1/persons/{person_id}/history"): allow(MEDICAL, SUPERVISOR, scopes=READ),
    # The full ID number: the bureau (and administrators) for people in their region, township
    # staff for people of their own township (they register residents and check their papers
    # in person), systems holding pii:read. Supervisors, departments, tax and finance work
    # with the masked number. The handler checks the person's region against the caller's
    # and audits every call.
    ("GET", "/v1/persons/{person_id}/id-number"): allow(TOWNSHIP, MEDICAL,
                                                         scopes=(PII_READ_SCOPE,)),
    ("GET", "/v1/households/{household_id}"): read_people,
    ("POST", "/v1/enrollments"): write_people,
    ("POST", "/v1/enrollments/rollover"): bureau_only,
    ("GET", "/v1/enrollments/{person_id}/{plan_year}"): read_people,
    ("POST", "/v1/enrollments/{person_id}/{plan_year}/stop"): write_people,
    ("PUT", "/v1/persons/{person_id}/groups"): allow(MEDICAL, DEPARTMENT, scopes=WRITE),
    ("DELETE", "/v1/persons/{person_id}/groups/{group_code}"): allow(MEDICAL, DEPARTMENT, scopes=WRITE),
    ("PUT", "/v1/targets/{plan_year}/{township_code}"): bureau_only,
    ("GET", "/v1/targets/{plan_year}"): allow(TOWNSHIP, MEDICAL, SUPERVISOR, scopes=READ),
    ("POST", "/v1/targets/{plan_year}/upload"): bureau_only,
    # the division tree is public data
    ("GET", "/v1/regions/{code}"): allow(*ALL_STAFF, scopes=READ, regions=False),
    ("GET", "/v1/regions/{code}/children"): allow(*ALL_STAFF, scopes=READ, regions=False),
    ("POST", "/v1/regions/villages"): allow(TOWNSHIP, MEDICAL, scopes=WRITE),
    ("GET", "/v1/lists/error-reports/{report_id}"): allow(TOWNSHIP, MEDICAL, DEPARTMENT, scopes=READ),
    # a department uploads and reads only its own lists
    ("POST", "/v1/lists/{department}/{plan_year}"): allow(
        MEDICAL, DEPARTMENT, scopes=("registration:lists",), department_param="department"),
    ("GET", "/v1/lists/{department}/{plan_year}"): allow(
        MEDICAL, DEPARTMENT, SUPERVISOR, scopes=READ, department_param="department"),
    # the current list with full ID numbers, to correct and resend: the department that sends
    # it and the bureau (audited)
    ("GET", "/v1/lists/{department}/{plan_year}/current"): allow(
        MEDICAL, DEPARTMENT, scopes=("registration:lists",), department_param="department"),
    ("POST", "/v1/newborns"): write_people,
    ("POST", "/v1/students/upload"): allow(TOWNSHIP, MEDICAL, DEPARTMENT, scopes=WRITE),
    ("POST", "/v1/reference/{kind}"): bureau_only,
    ("GET", "/v1/missing"): read_people,
    ("GET", "/v1/missing/townships"): read_people,
    ("GET", "/v1/duplicates"): read_people,
}
