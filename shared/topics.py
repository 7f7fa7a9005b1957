"""Topic names: the contract between services. One topic per aggregate, keyed by its opaque id."""

REGISTRATION_PERSON = "registration.person.v1"
REGISTRATION_ENROLLMENT = "registration.enrollment.v1"
REGISTRATION_GROUP_MEMBERSHIP = "registration.group_membership.v1"
REGISTRATION_TARGET = "registration.target.v1"
REGISTRATION_REGION = "registration.region.v1"  # villages uploaded, with their names
ELIGIBILITY_DETERMINATION = "eligibility.determination.v1"
ELIGIBILITY_PLAN = "eligibility.plan.v1"  # published plans, the whole content (contracts/plan.py)
PAYMENTS_NOTIFICATION = "payments.notification.v1"  # payments' own work queue
PAYMENTS_PAYMENT = "payments.payment.v1"
PAYMENTS_SUSPENSE = "payments.suspense.v1"
PAYMENTS_RECONCILIATION = "payments.reconciliation.v1"

PRODUCED_BY = {
    "registration": (
        REGISTRATION_PERSON,
        REGISTRATION_ENROLLMENT,
        REGISTRATION_GROUP_MEMBERSHIP,
        REGISTRATION_TARGET,
        REGISTRATION_REGION,
    ),
    "eligibility": (ELIGIBILITY_DETERMINATION, ELIGIBILITY_PLAN),
    "payments": (
        PAYMENTS_NOTIFICATION,
        PAYMENTS_PAYMENT,
        PAYMENTS_SUSPENSE,
        PAYMENTS_RECONCILIATION,
    ),
    "reporting": (),
}


def dead_letter_topic(consumer: str) -> str:
    return f"canbao.dlt.{consumer}"
