"""Error messages by code (or message key): each a list of (Chinese, English) templates, the
most precise first. Placeholders are filled from the error's `params` and `details`; the first
template whose placeholders are all given is used. Codes never change; texts may."""

from __future__ import annotations

T = tuple[tuple[str, str], ...]

ERRORS: dict[str, T] = {
    # the framework's own errors
    "bad_request": (("请求有误", "bad request"),),
    "malformed_request": (("请求格式不正确（例如正文不是有效的 JSON）",
                           "the request is malformed (e.g. the body is not valid JSON)"),),
    "unauthenticated": (
        ("未能确认身份：{reason}", "not authenticated: {reason}"),
        ("需要登录或有效的 Authorization: Bearer 令牌",
         "sign in or send a valid Authorization: Bearer token"),),
    "forbidden": (("无权进行此操作", "you may not make this call"),),
    "not_found": (("没有这个地址或资源", "no such resource"),),
    "method_not_allowed": (("该地址不支持此请求方法", "the method is not allowed here"),),
    "not_acceptable": (("无法按请求的格式答复", "cannot answer in the requested format"),),
    "request_too_large": (("请求过大", "the request is too large"),),
    "unsupported_media_type": (("不支持的内容类型", "unsupported content type"),),
    "rate_limited": (("请求过于频繁，请稍后再试", "too many requests; try again later"),),
    "internal_error": (("服务内部错误，已记录；请稍后重试", "internal error, logged; try again later"),),
    "conflict": (("操作与当前状态冲突", "the call conflicts with the current state"),),
    "busy_retry": (("与同时进行的其他操作冲突，本次未做任何更改；请稍后重试",
                    "it collided with other work done at the same time and changed nothing; "
                    "try again shortly"),),
    "invalid": (("{field}：取值无效", "{field}: invalid value"),
                ("请求中的取值无效", "a value in the request is invalid")),
    "invalid_request": (("{field}：{reason}", "{field}: {reason}"),
                        ("请求正文：{reason}", "request body: {reason}"),
                        ("请求字段校验未通过", "the request failed validation")),
    "invalid_value": (("请求中的某个值超出范围或无法保存"
                       "（数字过大、含空字符、文字过长或日期不可能）",
                       "a value in the request is out of range or cannot be stored (too large a "
                       "number, a NUL character, an overlong text or an impossible date)"),),

    # access
    "forbidden_role": (("您的角色无权进行此操作", "your role may not make this call"),),
    "forbidden_scope": (("系统调用方缺少此操作所需的权限范围",
                         "the calling system lacks the scope this call needs"),),
    "forbidden_region": (
        ("地区 {region} 不在您的管辖范围内", "region {region} is outside your region"),
        ("所涉人员或款项不在您的管辖范围内",
         "the persons or money concerned are outside your region")),
    "suspense_account_without_region": (
        ("此款项未关联任何人员，且渠道 {channel} 的账户未指定地区：仅全国范围的用户和管理员可以处理",
         "money naming no person, on a {channel} account without a region: only nationwide "
         "callers and administrators may act on it"),),
    "suspense_account_outside_region": (
        ("此款项未关联任何人员，属于渠道 {channel} 账户所在地区 {account_region}，"
         "不在您的地区 {region} 内",
         "money naming no person belongs to the region {account_region} of the {channel} "
         "account it arrived on, outside your region {region}"),),
    "forbidden_department": (
        ("您只能代表本部门操作，不能代表 {department}",
         "you act for your own department only, not {department}"),
        ("您只能代表本部门操作", "you act for your own department only")),
    "forbidden_origin": (("来自其他网站或缺少来源的修改请求被拒绝",
                          "a change from another site, or without Origin/Referer, is refused"),),
    "invalid_cursor": (("分页游标无效，请从第一页重新查询",
                        "the cursor is not one this service handed out; start from page 1"),),

    # people, households, enrollments
    "person_not_found": (("查无此人（或不在您的管辖范围内）",
                          "no such person (or not in your region)"),),
    "person_exists": (("该身份证号的人员已登记", "a person with this ID number is already "
                       "registered"),),
    "household_not_found": (("查无此户", "no such household"),),
    "invalid_id_number": (("{field}：{reason}", "{field}: {reason}"),
                          ("身份证号无效", "invalid ID number")),
    "village_not_in_township": (("村（社区）不在所填的镇（街道）内",
                                 "the village is not in the township given"),),
    "already_enrolled": (("该人员已登记 {plan_year} 年度参保", "already enrolled for "
                          "{plan_year}"), ("该人员已登记该年度参保", "already enrolled for "
                                           "this plan year")),
    "enrollment_not_found": (("查无此参保登记", "no such enrollment"),),
    "enrollment_ended": (("该参保登记已终止", "the enrollment has ended"),),
    "invalid_years": (("结束年度必须晚于起始年度", "--to must be after --from"),),
    "unknown_plan_year": (
        ("{field}：{plan_year} 年度没有实施方案，且不在 {first}—{last} 年之间",
         "{field}: no plan for {plan_year}, and it is not between {first} and {last}"),
        ("没有该年度的实施方案", "no plan for this plan year")),
    "date_in_future": (("{field}：日期 {date} 晚于今天（{today}）",
                        "{field}: {date} is after today ({today})"),
                       ("日期不能是将来的日期", "the date cannot be in the future")),
    "date_out_of_range": (("{field}：日期 {date} 早于 {earliest}，不可能属于 {plan_year} 年度",
                           "{field}: {date} is before {earliest}, too early for {plan_year}"),
                          ("日期超出允许范围", "the date is out of range")),
    "born_after_plan_year": (("{field}：出生日期 {date} 晚于 {plan_year} 年度",
                              "{field}: born {date}, after plan year {plan_year}"),
                             ("出生日期晚于参保年度", "born after the plan year")),
    "registered_before_birth": (("登记日期早于身份证号中的出生日期",
                                 "registered_on is before the birth date in the ID number"),),
    "parent_not_registered": (("父母一方尚未登记，请先登记父母",
                               "the parent is not registered; register the parent first"),),
    "parent_without_household": (("父母一方没有户籍（户）信息，请先补登父母的户",
                                  "the parent has no household on file; set it first"),),
    "membership_not_found": (("该人员不属于 {group}", "the person is not in {group}"),
                             ("该人员不属于此类人群", "the person is not in this group")),
    "unknown_department": (("未知的部门：{department}", "unknown department: {department}"),
                           ("未知的部门", "unknown department")),
    "list_not_found": (("没有该部门该年度的名单", "no such list for this department and year"),),
    "error_report_not_found": (("查无此错误报告", "no such error report"),),
    "upload_too_large": (("文件超过 {limit_mb} MB", "the file is larger than {limit_mb} MB"),
                         ("文件过大", "the file is too large")),
    "empty_upload": (("上传的文件是空的", "the uploaded file is empty"),),
    "upload_has_errors": (("文件未应用：共 {count} 处错误；{where}：{first}",
                           "the file was not applied: {count} errors; {where}: {first}"),
                          ("上传的文件有错误，请按行查看", "the upload has errors; see the rows")),
    "upload_outside_region": (
        ("文件未应用：{count} 行所列人员不在您的辖区内登记（第 {row_list} 行），不能由您上传或修改",
         "the file was not applied: {count} rows name people registered outside your region "
         "(rows {row_list})"),),
    "newborn_registration_late": (
        ("出生后 {days} 日才登记：新生儿须在出生后 {limit} 日内登记才能自出生之日起享受待遇；"
         "请按普通居民登记（POST /v1/persons）",
         "registered {days} days after birth: newborn registration (covered from birth) is only "
         "possible within {limit} days; register the child as an ordinary resident "
         "(POST /v1/persons)"),),
    "in_employee_scheme": (("该人员已参加职工基本医疗保险，不能重复参保",
                            "the person is in the employee medical insurance scheme; nobody "
                            "may be insured twice"),),
    "out_of_scope": (("户籍在 {hukou}，不在 {county}：须持本地居住证、父母一方持有居住证，"
                      "或在本地学校就读，才能在此参保",
                      "household registration is in {hukou}, not in {county}: enrolling here "
                      "needs a local residence permit, a parent holding one, or study at a "
                      "local school"),
                     ("不在本地参保范围内", "outside the scope of enrollment here")),

    # regions
    "invalid_region_code": (("{field}：{code} 不是有效的行政区划代码（6位或12位）",
                             "{field}: {code} is not a valid 6- or 12-digit region code"),
                            ("行政区划代码无效（应为6位或12位）",
                             "invalid region code (6 or 12 digits)")),
    "not_a_village": (("village_code {code} 不是村（社区）代码", "village_code {code} is not a "
                       "village code"),),
    "not_a_township": (("township_code {code} 不是镇（街道）代码", "township_code {code} is not a "
                        "township code"),),
    "cannot_clear": (("{field} 不能清空", "{field} cannot be cleared"),),
    "region_not_found": (("没有行政区划 {code}", "no region {code}"),
                         ("没有该行政区划", "no such region")),
    "unknown_region": (("没有区县 {code}", "no county {code}"),
                       ("未知的行政区划", "unknown region")),
    "unknown_county": (("没有区县 {code}", "no county {code}"),
                       ("未知的区县", "unknown county")),
    "unknown_township": (("没有镇（街道）{code}", "no township {code}"),
                         ("未知的镇（街道）", "unknown township")),
    "missing_county": (("请给出 county_code 或 township_code", "county_code or township_code "
                        "is required"),),
    "township_outside_county": (("镇（街道）{township} 不属于区县 {county}",
                                 "township {township} is not in county {county}"),
                                ("镇（街道）不属于所给区县", "the township is not in the county")),
    "region_mismatch": (("{field}：{code} 不在 {wider} 范围内", "{field}: {code} is not in "
                         "{wider}"), ("所给区域互不包含", "the regions given do not nest")),
    "region_required": (("名单须指定区域：请给出 county_code、township_code 或 village_code",
                         "give county_code, township_code or village_code"),),
    "as_of_in_future": (("as_of：{as_of} 晚于今天（{today}，北京时间），还没有这一天的数字",
                         "as_of: {as_of} is after today ({today}, Beijing time): there are no "
                         "figures for that day yet"),),
    "as_of_before_campaign": (
        ("as_of：{as_of} 早于 {plan_year} 年度集中征缴开始日（{start}），那时还没有征缴进度",
         "as_of: {as_of} is before the {plan_year} collection opened ({start}): there was no "
         "progress yet"),),
    "level_too_wide": (("level {level} 比所查区域更大", "level {level} is wider than the region"),),
    "invalid_format": (("不支持的文件格式：{format}", "{format} is not a file format"),),
    "unknown_reason": (("未知的原因 {reason}，可选：{choices}",
                        "unknown reason {reason}; one of {choices}"),),
    "note_required": (("原因为“其他”时须填写说明", "reason 'other' needs a note saying why"),),
    "unknown_budget_line": (("未知的资金渠道 {budget_line}", "unknown budget line {budget_line}"),),
    "invalid_person_id": (("person_id 不是有效的 UUID", "person_id is not a UUID"),),

    # eligibility
    "plan_not_found": (("{region_code} 没有 {plan_year} 年度的实施方案",
                        "no plan for region {region_code} and plan year {plan_year}"),
                       ("没有该地区该年度的实施方案", "no plan for this region and year")),
    "invalid_plan": (("草案方案有误：{problems}", "the draft plan is invalid: {problems}"),
                     ("草案方案有误", "the draft plan is invalid")),
    "determination_not_found": (("该人员该年度还没有确定结果",
                                 "no determination for this person and plan year"),),
    "job_not_found": (("查无此重新确定任务", "no such redetermination job"),),
    "birth_date_mismatch": (("{field}：出生日期 {given} 与身份证号中的 {from_id} 不一致",
                             "{field}: {given} differs from the birth date in the ID number "
                             "({from_id})"), ("出生日期与身份证号不一致",
                                              "the birth date differs from the ID number")),
    "birth_date_required": (("person.birth_date：请给出出生日期或身份证号",
                             "person.birth_date: give a birth date or an ID number"),),
    "unknown_group_code": (("{field}：未知的人群代码 {code}", "{field}: unknown group code {code}"),
                           ("未知的人群代码", "unknown group code")),
    "invalid_declaration": (("{field}：{reason}", "{field}: {reason}"),
                            ("申报的信息不能被方案接受", "the plan cannot accept the declaration")),
    "unknown_insured_category": (
        ("{field}：未知的参保类别 {category}"
         "（只能是 adult 成年居民、minor 少年儿童、student 学生）",
         "{field}: unknown insured category {category} (adult, minor or student)"),),
    "impossible_insured_category": (("{field}：{reason}", "{field}: {reason}"),
                                    ("该人员不可能属于所申报的参保类别",
                                     "the person cannot be in the declared category")),
    "plan_year_closed": (("{reason}", "{reason}"),
                         ("该年度已不再受理缴费", "the plan year takes no more payments")),

    # payments
    "unknown_channel": (("未配置渠道 {channel}", "channel {channel} is not configured"),
                        ("未配置该渠道", "the channel is not configured")),
    "statement_invalid": (("对账单无法使用（第 {line} 行）：{reason}",
                           "the statement cannot be used (line {line}): {reason}"),
                          ("对账单无法使用：{reason}", "the statement cannot be used: {reason}"),
                          ("对账单无法使用（第 {line} 行）", "the statement cannot be used "
                           "(line {line})"), ("对账单无法使用", "the statement cannot be used")),
    "already_reconciled": (("渠道 {channel} {day} 的对账单已经对过账",
                            "the {channel} statement of {day} was already reconciled"),
                           ("该对账单已经对过账", "the statement was already reconciled")),
    "reconciliation_not_found": (("查无此对账记录", "no such reconciliation"),),
    "range_reversed": (("结束日期早于开始日期", "`date_to` is before `date_from`"),),
    "date_required": (("空对账单须给出 ?date=YYYY-MM-DD", "an empty statement needs "
                       "?date=YYYY-MM-DD"),),
    "refund_not_found": (("查无此退款", "no such refund"),),
    "already_completed": (("该退款已完成", "this refund is already completed"),),
    "reference_used": (("退款流水号 {reference} 已在 {channel} 记账",
                        "refund reference {reference} is already booked on {channel}"),
                       ("该退款流水号已记账", "the refund reference is already booked")),
    "suspense_not_found": (("查无此待查款项", "no such suspense item"),),
    "already_resolved": (("该待查款项已处理", "this suspense item is already resolved"),),
    "not_matched": (("只有已匹配到人员的款项才能撤销匹配",
                     "only a payment matched to a person can be reversed"),),
    "not_paid": (("订单 {order_no} 已不由这笔款项支付", "order {order_no} is no longer paid by "
                  "this money"), ("订单已不由这笔款项支付", "the order is no longer paid by this "
                                  "money")),
    "already_reversed": (("该匹配已撤销", "this match was already reversed"),),
    "not_payment": (("只有缴费款项才能匹配到人员", "only payments can be matched to a person"),),
    "person_and_year_required": (("须给出 person_id 和 plan_year",
                                  "person_id and plan_year are required"),),
    "not_enrolled": (("该人员未登记该年度参保", "the person is not enrolled for this plan year"),),
    "nothing_open": (("该人员该年度没有待缴的订单", "the person has nothing open to pay for this "
                      "year"),),
    "amount_mismatch": (
        ("待缴订单为 {order_yuan} 元，这笔款项为 {money_yuan} 元：请改为退款",
         "the open order is {order_yuan} yuan, the money {money_yuan} yuan: refund it instead"),
        ("款项金额与待缴订单不符：请改为退款", "the amount differs from the open order: "
         "refund it instead")),
    "batch_exists": (("批次 {batch_no} 已经记录过", "batch {batch_no} was already recorded"),
                     ("该批次已经记录过", "the batch was already recorded")),
    "proxy_batch_rejected": (("整批退回，未记任何一笔：请按 problems 和 rows 修改后重报",
                              "the batch is rejected as a whole; nothing was booked"),),
    "paid_on_in_future": (("paid_on：{paid_on} 晚于今天（{today}，北京时间）："
                           "代缴资金的支付日期不能是将来",
                           "paid_on: {paid_on} is after today ({today}, Beijing time)"),
                          ("支付日期不能是将来的日期", "paid_on cannot be in the future")),
    "paid_on_before_collection": (
        ("paid_on：{paid_on} 早于 {plan_year} 年度的集中缴费期开始日（{earliest}）",
         "paid_on: {paid_on} is before the {plan_year} collection period opened ({earliest})"),
        ("支付日期早于该年度集中缴费期", "paid_on is before the collection period")),

    # the tax bureau's exchange and reconciliation (services/payments/tax): the raise site
    # writes the Chinese with its particulars
    "tax_file_refused": (("{raised}", "the tax bureau's file is refused as a whole; see the "
                                      "reasons per row"),),
    "tax_file_unreadable": (("{raised}", "the tax bureau's file cannot be read"),),
    "tax_file_not_found": (("{raised}", "no such exchange file"),),
    "tax_reconciliation_exists": (("{raised}", "this period is already reconciled"),),
    "tax_reconciliation_not_found": (("{raised}", "no such reconciliation"),),
    "difference_not_found": (("{raised}", "no such reconciliation difference"),),
    "difference_resolved": (("{raised}", "this difference is already resolved"),),
    "invalid_month": (("{raised}", "not a month of the form YYYY-MM"),),
    "no_determination": (("{raised}", "payments holds no enrolled determination for this "
                                      "person and year"),),
    "person_mismatch": (("{raised}", "the ID number and the person id name different people"),),
    # village collectors (services/payments/collectors)
    "collected_in_future": (("{raised}", "the collection time is in the future"),),
    "collector_region_not_village": (("{raised}", "a collector acts for one village: the "
                                                  "account's region must be a village"),),
    "receipt_not_found": (("{raised}", "no such receipt"),),
    "receipt_voided": (("{raised}", "the receipt is already voided"),),
    "receipt_handed_over": (("{raised}", "the receipt is already handed over and cannot be "
                                         "voided"),),
    "handover_exists": (("{raised}", "this hand-over is already recorded"),),
    "handover_in_future": (("{raised}", "the hand-over day is in the future"),),
    "handover_not_found": (("{raised}", "no such hand-over"),),
    "deposit_exists": (("{raised}", "this bank deposit is already recorded"),),
    "deposit_file_refused": (("{raised}", "the bank's deposit file is refused as a whole; see "
                                          "the reasons per row"),),
    # reporting
    "no_figures": (("{raised}", "nothing is registered and no target is set for this region "
                                "and year"),),
    # the plan registry (services/eligibility/plans)
    "draft_not_found": (("{raised}", "no such draft plan"),),
    "draft_not_open": (("{raised}", "the draft is no longer open for this step"),),
    "draft_not_approved": (("{raised}", "the draft must be approved by a second officer "
                                        "before it is published"),),
    "four_eyes": (("{raised}", "the author of a draft cannot approve it: a second officer "
                               "must"),),
    "effective_in_past": (("{raised}", "the publication date is in the past"),),
    "publication_not_found": (("{raised}", "no such publication"),),
}
