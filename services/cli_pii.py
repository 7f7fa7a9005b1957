"""`canbao pii rotate`: re-encrypt and re-hash personal data under the current PII key.

    CANBAO_PII_KEY=<new secret> CANBAO_PII_KEY_VERSION=2 CANBAO_PII_SUITE=sm4 \\
    CANBAO_PII_PREVIOUS_KEYS='{"1": {"suite": "aes", "key": "<old secret>"}}' \\
    canbao pii rotate [--batch-size 500] [--max-batches N]

Give every service the new settings first (they then write under version 2 and read both);
then run this, while they keep running. It can be stopped at any time (Ctrl-C, kill) and run
again: it carries on with what is not rotated yet. See services/pii_rotation.py.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from services.pii_rotation import RotationError, StepReport, rotate, summary
from shared.pii import SUITE_NAMES, vault_for
from shared.settings import get_settings


class RateColumn(ProgressColumn):
    """Rows per second."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} 行/s rows/s" if speed else "-- rows/s", style="cyan")


def build_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    sub = parser.add_subparsers(dest="pii_command", required=True)
    rot = sub.add_parser("rotate", help="re-encrypt and re-hash personal data under the current "
                                        "key (resumable, while the services run)")
    rot.add_argument("--batch-size", type=int, default=500,
                     help="rows per transaction (default 500)")
    rot.add_argument("--max-batches", type=int, default=None,
                     help="stop after this many batches (run again to carry on)")
    rot.set_defaults(func=cmd_pii_rotate)
    return parser


def cmd_pii_rotate(args: argparse.Namespace) -> int:
    settings = get_settings()
    vault = vault_for(settings)
    console = Console(stderr=True)
    dsn = settings.async_database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    current = vault.current
    console.print(f"当前密钥 current key v{current.version} ({SUITE_NAMES[current.suite]}); "
                  f"可读 readable: {', '.join(vault.labels)}")
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  RateColumn(), TimeElapsedColumn(), TextColumn("剩余 ETA"),
                  TimeRemainingColumn(), console=console) as bar:
        tasks: dict[str, int] = {}

        def on_plan(steps: list[StepReport]) -> None:
            for s in steps:
                tasks[s.name] = bar.add_task(f"{s.name} {s.description}", total=s.remaining)

        def on_batch(step: str, rows: int) -> None:
            bar.advance(tasks[step], rows)

        try:
            report = asyncio.run(rotate(dsn, vault, batch_size=args.batch_size,
                                        max_batches=args.max_batches, progress=on_batch,
                                        on_plan=on_plan))
        except RotationError as exc:
            console.print(f"[red]换钥中止 rotation stopped: {exc}[/red]")
            return 1
        except KeyboardInterrupt:
            console.print("已中断：再次运行 canbao pii rotate 即从中断处继续 (interrupted: run "
                          "again to carry on)")
            return 130
    for line in summary(report):
        print(line)
    return 0 if report.complete or report.stopped else 3


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(argparse.ArgumentParser(prog="canbao pii"))
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    return int(args.func(args))
