"""Reporting's operations in Chinese and English (OpenAPI summaries; shared/api_docs.py)."""

SUMMARIES: dict[tuple[str, str], tuple[str, str]] = {
    ("GET", "/v1/progress"): ("参保缴费进度 (JSON/CSV/XLSX)",
                              "Enrollment and payment progress (JSON/CSV/XLSX)"),
    ("GET", "/v1/publicity-lists"): ("缴费公示表 (JSON/CSV/XLSX/HTML)",
                                     "Publicity list (JSON/CSV/XLSX/HTML)"),
    ("GET", "/v1/reminders"): ("催缴名单 (JSON/CSV/XLSX)", "Who still owes (JSON/CSV/XLSX)"),
    ("POST", "/v1/reminders/{person_id}/{plan_year}/reason"): ("登记未缴原因",
                                                               "Record why someone has not paid"),
    ("GET", "/v1/funding-applications"): ("财政补助资金申请表 (JSON/CSV/XLSX)",
                                          "Funding applications (JSON/CSV/XLSX)"),
    ("GET", "/v1/fund-summary"): ("基金收入汇总 (按县)", "Fund summary per county"),
    ("GET", "/v1/reconciliation-summary"): ("对账汇总", "Reconciliation summary"),
    ("GET", "/dashboard"): ("进度看板 (网页)", "Progress dashboard (web page)"),
}
