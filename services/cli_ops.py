"""Operational `canbao` commands: imports, rollover, redetermination, simulation, projection
rebuild, backup and restore. Each runs against the configured database and broker
(CANBAO_* variables, as the services read them) and shows its progress; the long ones can be
stopped and run again (see each command's help).

Uploads that the registration service checks row by row against the caller's region (certified
lists, villages, students) go through its HTTP API with a token, so that the command line gets
exactly the checks, error reports and audit entries of the web upload."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from shared.settings import SERVICES, get_settings

RAW = argparse.RawDescriptionHelpFormatter


# --- imports --------------------------------------------------------------------------------

def cmd_import_residents(args: argparse.Namespace) -> int:
    from services.registration.commands import import_residents_command

    return asyncio.run(import_residents_command(get_settings(), args.file, args.county))


def cmd_import_targets(args: argparse.Namespace) -> int:
    from services.registration.commands import load_targets

    count, total = asyncio.run(load_targets(get_settings(), args.year, args.file, args.county))
    print(f"已载入 loaded {count} 个乡镇目标 township targets for {args.year}, "
          f"合计 total {total:,}")
    return 0


class _ReadProgress:
    """A file object that moves a progress display as httpx reads it."""

    def __init__(self, path: Path, progress: Any) -> None:
        self._file = path.open("rb")
        self._progress = progress
        self._done = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._file.read(size)
        self._done += len(chunk)
        self._progress.update(self._done)
        return chunk

    def fileno(self) -> int:
        return self._file.fileno()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def close(self) -> None:
        self._file.close()


def _upload(args: argparse.Namespace, path: str, data: dict[str, str],
            params: dict[str, str] | None = None) -> int:
    import httpx

    from shared.progress import task_progress

    token = args.token or os.environ.get("CANBAO_TOKEN")
    if not token:
        print("需要令牌 a token is needed: --token or CANBAO_TOKEN (an access token of the "
              "identity provider for a user allowed to upload; `canbao token` on canbao dev)",
              file=sys.stderr)
        return 2
    file: Path = args.file
    size = file.stat().st_size
    with task_progress(f"上传 uploading {file.name}", total=size, unit="B") as progress:
        body = _ReadProgress(file, progress)
        try:
            response = httpx.post(
                args.url.rstrip("/") + path, params=params or {}, data=data,
                files={"file": (file.name, body)},  # type: ignore[dict-item]
                headers={"Authorization": f"Bearer {token}"}, timeout=args.timeout)
        finally:
            body.close()
        progress.update(size, stage=f"已上传 uploaded {file.name}")
    try:
        answer = response.json()
    except ValueError:
        answer = {"body": response.text[:500]}
    print(json.dumps(answer, ensure_ascii=False, indent=2))
    if response.is_success:
        return 0
    print(f"被拒绝 refused: HTTP {response.status_code}", file=sys.stderr)
    return 1


def cmd_import_lists(args: argparse.Namespace) -> int:
    params = {"version": args.version}
    if args.region:
        params["region_code"] = args.region
    return _upload(args, f"/v1/lists/{args.department}/{args.year}", {}, params)


def cmd_import_villages(args: argparse.Namespace) -> int:
    return _upload(args, "/v1/regions/villages", {"county_code": args.county} if args.county
                   else {})


def cmd_import_students(args: argparse.Namespace) -> int:
    data = {"plan_year": str(args.year), "township_code": args.township}
    if args.registered_on:
        data["registered_on"] = args.registered_on
    return _upload(args, "/v1/students/upload", data)


# --- campaign -------------------------------------------------------------------------------

def cmd_rollover(args: argparse.Namespace) -> int:
    from services.registration.commands import rollover

    n = asyncio.run(rollover(get_settings(), args.from_year, args.to_year, args.county))
    print(f"已续保 rolled {n:,} 条参保 enrollments from {args.from_year} into {args.to_year}")
    return 0


def cmd_redetermine(args: argparse.Namespace) -> int:
    from services.eligibility.commands import redetermine
    from shared.progress import task_progress

    with task_progress(f"重新认定 redetermining {args.region}-{args.year}",
                       unit="persons") as progress:
        def show(job: dict[str, Any]) -> None:
            progress.update(job["processed"], total=job["total"] or None,
                            stage=f"重新认定 redetermining {args.region}-{args.year} "
                                  f"({job['changed']:,} changed)")

        sizing = {"chunk_size": args.chunk_size} if args.chunk_size else {}
        job = asyncio.run(redetermine(args.region, args.year, **sizing,
                                      quiet=True, on_progress=show))
    print(f"job {job['id']} {job['status']}: {job['processed']:,} persons, "
          f"{job['changed']:,} changed, {job['adjustments']:,} adjustments due")
    return 0 if job["status"] == "done" else 1


def cmd_simulate(args: argparse.Namespace) -> int:
    from services.eligibility.plans.registry import PlanRegistry
    from services.eligibility.simulations.service import simulate
    from shared.db import make_engine

    settings = get_settings()
    plan = args.plan.read_text(encoding="utf-8")

    async def run() -> dict[str, Any]:
        engine = make_engine(settings, pool_size=2)
        try:
            plans = PlanRegistry.from_folder(settings.policies_dir)
            return await simulate(engine, plans, plan, principal=None)
        finally:
            await engine.dispose()

    result = asyncio.run(run())
    text = json.dumps(result, ensure_ascii=False, indent=2, default=str)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")
        print(f"已写入 wrote {args.output}")
    else:
        print(text)
    return 0


def cmd_rebuild_projections(args: argparse.Namespace) -> int:
    from services.reporting.commands import rebuild
    from shared.progress import task_progress

    with task_progress("重建 rebuilding reporting", unit="events") as progress:
        def show(done: int, total: int) -> None:
            progress.update(done, total=max(total, done) or None,
                            stage="重放 replaying the topics")

        result = asyncio.run(rebuild(get_settings(), limit_seconds=args.timeout,
                                     on_progress=show))
        progress.update(result.events_applied + result.duplicates + result.dead_lettered,
                        stage="重建完成 rebuilt")
    print(f"报表投影已重建 rebuilt reporting projections: {result.events_applied:,} events "
          f"applied, {result.duplicates:,} duplicates, {result.dead_lettered:,} dead-lettered, "
          f"{result.seconds:.1f}s")
    return 0


# --- backup and restore ---------------------------------------------------------------------

def _services(names: list[str]) -> tuple[str, ...]:
    unknown = set(names) - set(SERVICES)
    if unknown:
        raise SystemExit(f"unknown service(s): {', '.join(sorted(unknown))}")
    return tuple(names) or SERVICES


def cmd_backup(args: argparse.Namespace) -> int:
    from shared.backup import backup

    services = _services(args.services)
    manifest = asyncio.run(backup(get_settings(), services, args.to))
    print(f"已备份 backed up {', '.join(services)} to {args.to} "
          f"({sum(t['rows'] for s in manifest['services'].values() for t in s['tables']):,} rows)")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from shared.backup import RestoreRefused, restore

    services = _services(args.services)
    if not args.yes:
        print("恢复会删除这些服务当前的数据 restore replaces the current data of "
              f"{', '.join(services)}: stop them first, then run again with --yes",
              file=sys.stderr)
        return 2
    try:
        asyncio.run(restore(get_settings(), services, args.source,
                            check_stopped=not args.skip_stopped_check))
    except RestoreRefused as exc:
        print(f"未恢复 not restored: {exc}", file=sys.stderr)
        return 1
    print(f"已恢复 restored {', '.join(services)} from {args.source}; start the services again")
    return 0


# --- parsers --------------------------------------------------------------------------------

def _upload_options(p: argparse.ArgumentParser, url: str) -> None:
    p.add_argument("--url", default=url, help=f"the registration service (default {url})")
    p.add_argument("--token", help="Bearer token of the uploading user (default: $CANBAO_TOKEN)")
    p.add_argument("--timeout", type=float, default=600, help="seconds (default 600)")


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    registration = "http://127.0.0.1:8001"

    imp = sub.add_parser("import", help="import residents, lists, targets, villages, students",
                         description="导入 Import a file into the registration service.")
    isub = imp.add_subparsers(dest="what", required=True)
    p = isub.add_parser(
        "residents", help="bulk import residents (CSV/XLSX) straight into the database",
        description="居民批量导入: all rows or none; a file with errors writes FILE.errors.csv "
                    "and imports nothing. Running it again after a stop imports what is not "
                    "yet registered (people already registered are counted, not doubled).")
    p.add_argument("file", type=Path, help="CSV or XLSX in the resident layout")
    p.add_argument("--county", help="only this county's people (6-digit code)")
    p.set_defaults(func=cmd_import_residents)

    p = isub.add_parser("targets", help="township enrollment targets of a plan year",
                        description="乡镇参保目标: replaces the targets of the year.")
    p.add_argument("file", type=Path, help="CSV or XLSX: township code, target")
    p.add_argument("--year", type=int, required=True, help="plan year")
    p.add_argument("--county", help="the county the file is for (6-digit code)")
    p.set_defaults(func=cmd_import_targets)

    p = isub.add_parser("lists", help="a department's certified list (through the API)",
                        description="部门认定名单: a new version of the department's list of "
                                    "one region and plan year, whole or not at all.")
    p.add_argument("file", type=Path, help="CSV or XLSX in the department's layout")
    p.add_argument("--department", required=True, help="e.g. civil_affairs, disability")
    p.add_argument("--year", type=int, required=True, help="plan year")
    p.add_argument("--region", help="a region inside the uploader's (default: the uploader's)")
    p.add_argument("--version", choices=("preliminary", "final"), default="preliminary",
                   help="list version kind (default preliminary)")
    _upload_options(p, registration)
    p.set_defaults(func=cmd_import_lists)

    p = isub.add_parser("villages", help="villages under the shipped townships (through the API)",
                        description="村/社区名单 villages and communities.")
    p.add_argument("file", type=Path, help="CSV or XLSX: village code, name")
    p.add_argument("--county", help="the county the file is for (6-digit code)")
    _upload_options(p, registration)
    p.set_defaults(func=cmd_import_villages)

    p = isub.add_parser("students", help="a school's student list (through the API)",
                        description="学生参保名单: registers or updates each student and "
                                    "enrolls them for the plan year, whole or not at all.")
    p.add_argument("file", type=Path, help="CSV or XLSX in the student layout")
    p.add_argument("--year", type=int, required=True, help="plan year")
    p.add_argument("--township", required=True, help="the school's township (12-digit code)")
    p.add_argument("--registered-on", help="registration day, YYYY-MM-DD (default today)")
    _upload_options(p, registration)
    p.set_defaults(func=cmd_import_students)

    p = sub.add_parser("rollover", help="enroll last year's enrollees in the new plan year",
                       description="年度续保: every enrollment of --from not yet in --to is "
                                   "enrolled in --to; running it again adds only what is "
                                   "missing.")
    p.add_argument("--from", dest="from_year", type=int, required=True, help="last plan year")
    p.add_argument("--to", dest="to_year", type=int, required=True, help="the new plan year")
    p.add_argument("--county", help="only this county (6-digit code)")
    p.set_defaults(func=cmd_rollover)

    p = sub.add_parser("redetermine", help="re-determine a region's enrolled population",
                       description="重新认定: everyone enrolled under the region's plan for the "
                                   "year, in chunks; progress is stored after each chunk and "
                                   "running the command again continues an unfinished job.")
    p.add_argument("--region", required=True, help="the plan's region code")
    p.add_argument("--year", type=int, required=True, help="plan year")
    p.add_argument("--chunk-size", type=int, default=None,
                   help="persons per transaction (default: the service's, 100000)")
    p.set_defaults(func=cmd_redetermine)

    p = sub.add_parser("simulate", help="headcount and money under a draft plan (nothing stored)",
                       description="方案测算: a draft policy file against the plan in force, "
                                   "per budget line and township.")
    p.add_argument("plan", type=Path, help="the draft policy file (YAML)")
    p.add_argument("--output", "-o", type=Path, help="write the JSON result here")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("rebuild-projections",
                       help="rebuild reporting's projections from the topics",
                       description="重建报表投影: truncates reporting's projections and replays "
                                   "every topic from the beginning. Stop the reporting service "
                                   "first. Running it again starts over.")
    p.add_argument("--timeout", type=float, default=3600,
                   help="give up after this many seconds (default 3600)")
    p.set_defaults(func=cmd_rebuild_projections)

    p = sub.add_parser(
        "backup", help="back up services' schemas with their consumer offsets",
        description="备份: each service's schema in one consistent snapshot (every table, the "
                    "outbox and inbox included), its Alembic revision and its consumer groups' "
                    "committed offsets, read before the snapshot. docs/OPERATIONS.md.",
        formatter_class=RAW)
    p.add_argument("services", nargs="*", help=f"some of {', '.join(SERVICES)}; default all")
    p.add_argument("--to", type=Path, required=True, help="a new or empty folder")
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser(
        "restore", help="restore services from a backup (services stopped)",
        description="恢复: replaces each service's schema with the backup's, migrates it to "
                    "the current version and moves its consumer groups back to the backup's "
                    "offsets, so it consumes again what came after (the inbox drops what it "
                    "had). Unsent outbox rows are sent when the service starts.")
    p.add_argument("services", nargs="*", help=f"some of {', '.join(SERVICES)}; default all")
    p.add_argument("--from", dest="source", type=Path, required=True, help="the backup folder")
    p.add_argument("--yes", action="store_true", help="really replace the current data")
    p.add_argument("--skip-stopped-check", action="store_true",
                   help="do not ask the broker whether the consumer groups are empty")
    p.set_defaults(func=cmd_restore)
