"""`canbao plans ...`: the plan registry from the command line (eligibility's API over HTTP).

    canbao plans new --from 370481-2025 --year 2026 -o 370481-2026.yaml   # start next year's
    canbao plans check 370481-2026.yaml                                    # offline checks
    canbao plans upload 370481-2026.yaml          # a draft (officer A)
    canbao plans approve DRAFT_ID                 # a second officer (B), never the author
    canbao plans publish DRAFT_ID [--on 2025-10-01]
    canbao plans simulate DRAFT_ID [--people changes.csv]
    canbao plans history 370481 2026
    canbao plans republish 370481 2026 --publication 7 [--on DATE]
    canbao plans changes 370481 2026 8 [--people changes.csv]   # a correction's change report

The token is `--token` or CANBAO_TOKEN (a medical insurance officer's); on `canbao dev`,
`--officer NAME --region CODE` mints one with the development key. The service is
`--url` or CANBAO_ELIGIBILITY_URL (default http://127.0.0.1:8002).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import os
import re
import sys
from pathlib import Path
from typing import Any

import httpx
import yaml

from shared.money import fen_to_yuan

STATE_DIR = Path(os.environ.get("CANBAO_STATE_DIR", ".canbao"))
REVISIT = "待核对"
_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
# keys whose value must be read again in next year's 实施方案 (besides every date)
_REVISIT_KEYS = ("yuan", "percent", "source", "title", "document_number", "issued_on",
                 "seed_file", "min_days", "persons", "enrollment_tasks_total")


def build_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--url", default=os.environ.get("CANBAO_ELIGIBILITY_URL",
                                                        "http://127.0.0.1:8002"),
                        help="eligibility's address (CANBAO_ELIGIBILITY_URL; default "
                             "http://127.0.0.1:8002)")
    parser.add_argument("--token", default=os.environ.get("CANBAO_TOKEN"),
                        help="a medical insurance officer's access token (CANBAO_TOKEN)")
    parser.add_argument("--officer", help="canbao dev: mint a medical insurance officer token "
                                          "for this name")
    parser.add_argument("--region", default="370000", help="with --officer: the officer's region")
    parser.add_argument("--keys-dir", type=Path, default=STATE_DIR / "keys",
                        help="with --officer: canbao dev's signing keys (default .canbao/keys)")
    sub = parser.add_subparsers(dest="plans_command", required=True)
    new = sub.add_parser("new", help="start next year's plan from an earlier one")
    new.add_argument("--from", dest="source", required=True, help="REGION-YEAR, e.g. 370481-2025")
    new.add_argument("--year", type=int, required=True, help="the new plan's year")
    new.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    check = sub.add_parser("check", help="check a plan file without uploading it")
    check.add_argument("file", type=Path, help="the plan file (YAML)")
    up = sub.add_parser("upload", help="upload a draft plan")
    up.add_argument("file", type=Path, help="the plan file (YAML)")
    for name, text in (("show", "a draft, its warnings and its diff"),
                       ("approve", "approve a draft (not its author)")):
        p = sub.add_parser(name, help=text)
        p.add_argument("draft_id", help="the draft's id (from upload)")
    pub = sub.add_parser("publish", help="publish an approved draft")
    pub.add_argument("draft_id", help="the approved draft's id")
    pub.add_argument("--on", type=dt.date.fromisoformat, help="in force from (default today)")
    sim = sub.add_parser("simulate", help="simulate a draft against the plan in force")
    sim.add_argument("draft_id", help="the draft's id")
    sim.add_argument("--people", type=Path, help="write the people whose amount changes (CSV)")
    hist = sub.add_parser("history", help="every publication of a region's plan for a year")
    hist.add_argument("region_code", help="the plan's region (6 digits)")
    hist.add_argument("plan_year", type=int, help="the plan year")
    rep = sub.add_parser("republish", help="publish an earlier version again")
    rep.add_argument("region_code", help="the plan's region (6 digits)")
    rep.add_argument("plan_year", type=int, help="the plan year")
    rep.add_argument("--publication", type=int, required=True,
                     help="the earlier publication to publish again (see history)")
    rep.add_argument("--on", type=dt.date.fromisoformat, help="in force from (default today)")
    chg = sub.add_parser("changes", help="what a correction changed (owe more or less, refunds, "
                                         "budget lines)")
    chg.add_argument("region_code", help="the plan's region (6 digits)")
    chg.add_argument("plan_year", type=int, help="the plan year")
    chg.add_argument("publication", type=int, help="the correction's publication (see history)")
    chg.add_argument("--people", type=Path, help="write the people (CSV)")
    parser.set_defaults(func=cmd_plans)
    return parser


def _token(args: argparse.Namespace) -> str | None:
    if args.token or not args.officer:
        return args.token  # type: ignore[no-any-return]
    from shared.auth import ensure_dev_keypair, mint_token
    from shared.security_settings import SecuritySettings

    if not args.keys_dir.is_dir():
        raise SystemExit(f"canbao plans: no development signing key in {args.keys_dir} "
                         "(run `canbao dev` first, or pass --token)")
    private_path, _, kid = ensure_dev_keypair(args.keys_dir)
    settings = SecuritySettings()
    return mint_token(private_path.read_bytes(), kid, sub=args.officer,
                      role="medical_insurance_officer", region=args.region, ttl_seconds=600,
                      issuer=settings.jwt_issuer, audience=settings.jwt_audience)


def _shift(value: Any, years: int) -> Any:
    """Every ISO date in `value` moved by `years` (29 February becomes the 28th)."""
    if isinstance(value, dict):
        return {k: _shift(v, years) for k, v in value.items()}
    if isinstance(value, list):
        return [_shift(v, years) for v in value]
    if isinstance(value, (str, dt.date)) and _DATE.fullmatch(str(value)):
        day = dt.date.fromisoformat(str(value))
        if (day.month, day.day) == (2, 29):
            day = day.replace(day=28)
        return day.replace(year=day.year + years).isoformat()
    return value


def next_year_text(content: dict[str, Any], year: int) -> str:
    """The plan moved to `year`: the periods and the issue date shifted by the years between
    (other dates, such as a certification cut-off, are law and stay), and every figure, quote,
    date and document detail marked `# 待核对` (to revisit against the new 实施方案), and so is
    every text that names the old plan's year ("2025减出生年份" in an assumption's statement
    would otherwise explain a 2027 plan with 2025's arithmetic)."""
    shift = year - int(content["plan_year"])
    old_year = re.compile(rf"(?<!\d){int(content['plan_year'])}(?!\d)")
    draft = dict(content, plan_year=year, periods=_shift(content["periods"], shift))
    draft["source"] = dict(content["source"],
                           issued_on=_shift(str(content["source"]["issued_on"]), shift))
    text = yaml.safe_dump(draft, allow_unicode=True, sort_keys=False, width=1_000_000)
    out = [f"# {content.get('region_name', '')} {year} 年度方案草稿：由 {content['plan_year']} "
           f"年度方案生成（canbao plans new）。标有“# {REVISIT}”的每一项都要对照新一年的实施方案"
           "核对，改好后删去标记。"]
    for line in text.splitlines():
        key = line.strip().lstrip("- ").split(":", 1)[0]
        value = line.split(":", 1)[1].strip() if ":" in line else ""
        names_old_year = key != "id" and old_year.search(value)  # an id is a name, not a text
        if value and (_DATE.search(line) or key in _REVISIT_KEYS or names_old_year):
            line = f"{line}  # {REVISIT}"
        out.append(line)
    return "\n".join(out) + "\n"


def _print_problems(problems: list[dict[str, Any]]) -> None:
    for p in problems:
        mark = "错误" if p["severity"] == "error" else "提示"
        print(f"  [{mark}] {p['text']}")


def _check_file(path: Path) -> int:
    from kernels.policy import PolicyFileError, parse_policy
    from services.eligibility.plans.checks import ERROR, check_plan

    content = path.read_text(encoding="utf-8")
    policy, problems = check_plan(content)
    if policy is not None and not any(p.severity == ERROR for p in problems):
        print(f"{path}: {policy.region_name} {policy.plan_year} 年度，版本 {policy.short_version}")
    _print_problems([p.to_dict() for p in problems])
    try:
        parse_policy(content)
    except PolicyFileError:
        return 1
    return 1 if any(p.severity == ERROR for p in problems) else 0


async def run(args: argparse.Namespace, client: httpx.AsyncClient) -> int:
    """One command against eligibility's API (the client carries the base URL and token)."""
    c = args.plans_command

    def fail(r: httpx.Response) -> int:
        try:
            error = r.json().get("error") or {}
        except ValueError:
            error = {"message": r.text[:300]}
        print(f"失败 HTTP {r.status_code} {error.get('code', '')}: {error.get('message', '')}")
        _print_problems(error.get("problems") or [])
        return 1

    if c == "new":
        region, _, year = args.source.partition("-")
        r = await client.get(f"/v1/plans/{region}/{year}")
        if r.status_code != 200:
            return fail(r)
        text = next_year_text(r.json()["content"], args.year)
        if args.output:
            args.output.write_text(text, encoding="utf-8")
            print(f"已写入 {args.output}：{text.count(REVISIT) - 1} 处待核对")
        else:
            sys.stdout.write(text)
        return 0
    if c == "upload":
        r = await client.post("/v1/plans/drafts",
                              json={"plan": args.file.read_text(encoding="utf-8")})
        if r.status_code != 201:
            return fail(r)
        draft = r.json()
        print(f"草案 {draft['id']}：{draft['region_code']}-{draft['plan_year']}，"
              f"版本 {draft['version'][:16]}，起草人 {draft['author']}，等待另一名经办人批准")
        _print_problems(draft["warnings"])
        for d in draft["diff"]:
            print(f"  · {d['text']}")
        return 0
    if c == "show":
        r = await client.get(f"/v1/plans/drafts/{args.draft_id}")
        if r.status_code != 200:
            return fail(r)
        d = r.json()
        print(f"草案 {d['id']}：{d['region_code']}-{d['plan_year']} 状态 {d['status']}，"
              f"起草人 {d['author']}（{d['created_at']}），批准人 {d['approved_by'] or '—'}")
        _print_problems(d["warnings"])
        for x in d["diff"]:
            print(f"  · {x['text']}")
        return 0
    if c == "approve":
        r = await client.post(f"/v1/plans/drafts/{args.draft_id}/approve")
        if r.status_code != 200:
            return fail(r)
        print(f"已批准：{r.json()['approved_by']}（{r.json()['approved_at']}）")
        return 0
    if c in ("publish", "republish"):
        body: dict[str, Any] = {"effective_on": args.on.isoformat() if args.on else None}
        if c == "publish":
            r = await client.post(f"/v1/plans/drafts/{args.draft_id}/publish", json=body)
        else:
            body["publication"] = args.publication
            r = await client.post(f"/v1/plans/{args.region_code}/{args.plan_year}/republish",
                                  json=body)
        if r.status_code != 200:
            return fail(r)
        p = r.json()
        kind = "更正" if p["correction"] else "发布"
        print(f"已{kind}：{p['region_code']}-{p['plan_year']} 第 {p['publication']} 号发布，"
              f"版本 {p['version'][:16]}，{p['effective_on']} 起施行"
              + ("；将重新确定该地区已登记人员的缴费" if p["correction"] else ""))
        return 0
    if c == "simulate":
        r = await client.post(f"/v1/plans/drafts/{args.draft_id}/simulation")
        if r.status_code != 200:
            return fail(r)
        s = r.json()
        print(f"测算 {s['region_code']}-{s['plan_year']}：{s['population']} 人"
              + (f"；{s['basis']}" if s.get("basis") else ""))
        diff = s.get("difference") or {}
        if diff:
            print(f"  个人缴费合计变化 {fen_to_yuan(diff['personal_fen'])} 元")
            for line, d in diff.get("budget_lines", {}).items():
                print(f"  {line}: 人数变化 {d['headcount']}，"
                      f"金额变化 {fen_to_yuan(d['amount_fen'])} 元")
        people = s.get("people") or []
        print(f"  缴费金额改变的人数：{s.get('people_changed', len(people))}")
        if args.people:
            with args.people.open("w", newline="", encoding="utf-8-sig") as fh:
                writer = csv.writer(fh)
                writer.writerow(["person_id", "township_code", "current_personal_fen",
                                 "draft_personal_fen", "difference_fen"])
                for row in people:
                    writer.writerow([row["person_id"], row["township_code"],
                                     row["current_personal_fen"], row["draft_personal_fen"],
                                     row["difference_fen"]])
            print(f"  名单已写入 {args.people}")
        return 0
    if c == "history":
        r = await client.get(f"/v1/plans/{args.region_code}/{args.plan_year}/history")
        if r.status_code != 200:
            return fail(r)
        for p in r.json()["publications"]:
            mark = "（在用）" if p["in_force"] else ""
            print(f"  #{p['publication']} {p['version'][:16]} {p['effective_on']} 起施行{mark}："
                  f"起草 {p['author'] or '—'}，批准 {p['approved_by'] or '—'}，"
                  f"发布 {p['published_by']}（{p['published_at']}）"
                  + (f"，重新发布第 {p['republished_from']} 号" if p["republished_from"] else ""))
        return 0
    if c == "changes":
        base = f"/v1/plans/{args.region_code}/{args.plan_year}/publications/{args.publication}"
        r = await client.get(f"{base}/changes")
        if r.status_code != 200:
            return fail(r)
        rep = r.json()
        print(f"第 {rep['publication']} 号发布（版本 {rep['version'][:16]}）改变了 "
              f"{rep['people_changed']} 人的缴费：")
        for key, label in (("owe_more", "多缴"), ("owe_less", "少缴"), ("refunds", "应退")):
            part = rep[key]
            print(f"  {label} {part['headcount']} 人，共 {fen_to_yuan(part['amount_fen'])} 元")
        for line, d in rep["budget_lines"].items():
            print(f"  {line}：增加资助 {fen_to_yuan(d['added_fen'])} 元，减少 "
                  f"{fen_to_yuan(d['withdrawn_fen'])} 元（{d['headcount']} 人）")
        if args.people:
            r = await client.get(f"{base}/changes", params={"format": "csv"})
            if r.status_code != 200:
                return fail(r)
            args.people.write_bytes(r.content)
            print(f"  名单已写入 {args.people}")
        return 0
    raise SystemExit(f"unknown command {c}")


def cmd_plans(args: argparse.Namespace) -> int:
    if args.plans_command == "check":
        return _check_file(args.file)
    token = _token(args)
    headers = {"authorization": f"Bearer {token}"} if token else {}

    async def go() -> int:
        async with httpx.AsyncClient(base_url=args.url, headers=headers, timeout=60) as client:
            return await run(args, client)

    return asyncio.run(go())
