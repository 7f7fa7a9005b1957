"""Eligibility's operations in Chinese and English (OpenAPI summaries; shared/api_docs.py)."""

SUMMARIES: dict[tuple[str, str], tuple[str, str]] = {
    ("POST", "/v1/determinations/preview"): ("缴费测算: 应缴多少、谁补助、依据",
                                             "Preview what a person owes, who pays, and why"),
    ("GET", "/v1/determinations/{person_id}/{plan_year}"): (
        "人员的缴费认定及历史", "A person's determinations of a year"),
    ("GET", "/v1/plans"): ("已载入的政策方案", "Plan versions loaded"),
    ("GET", "/v1/plans/{region_code}/{plan_year}"): ("某地某年适用的政策方案",
                                                     "The plan of a region and year"),
    ("POST", "/v1/redeterminations"): ("重新认定 (后台任务)",
                                       "Start a redetermination (background job)"),
    ("GET", "/v1/redeterminations/{job_id}"): ("重新认定进度", "A redetermination's progress"),
    ("POST", "/v1/simulations"): ("方案测算 (不保存)", "Simulate a draft plan (nothing stored)"),
}
