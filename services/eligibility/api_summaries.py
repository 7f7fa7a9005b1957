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
    ("POST", "/v1/plans/drafts"): ("上传方案草案 (逐行指出问题)",
                                   "Upload a draft plan (every problem named by line)"),
    ("GET", "/v1/plans/drafts"): ("方案草案列表", "Draft plans"),
    ("GET", "/v1/plans/drafts/{draft_id}"): ("查看方案草案及与现行方案的差异",
                                             "A draft plan and its diff against the plan in force"),
    ("POST", "/v1/plans/drafts/{draft_id}/simulation"): (
        "草案测算: 人数和金额的变化 (不保存)", "Simulate a draft against the plan in force"),
    ("POST", "/v1/plans/drafts/{draft_id}/approve"): ("审核通过草案 (须另一人)",
                                                      "Approve a draft (a second officer)"),
    ("POST", "/v1/plans/drafts/{draft_id}/publish"): ("发布草案 (同年已有方案即为更正)",
                                                      "Publish an approved draft"),
    ("GET", "/v1/plans/{region_code}/{plan_year}/history"): (
        "某地某年方案的发布记录", "Publications of a region and year"),
    ("POST", "/v1/plans/{region_code}/{plan_year}/republish"): (
        "重新发布以前的版本", "Publish an earlier version again"),
    ("GET", "/v1/plans/{region_code}/{plan_year}/publications/{publication}/changes"): (
        "更正带来的变化: 多缴、少缴、应退、补助增减", "What a correction changed"),
}
