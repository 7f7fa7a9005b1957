"""One progress display for the long `canbao` tasks (imports, redetermination, rebuilds,
backups): stage, count, total, rate and ETA on one live line (rich), a summary line when the
output is not a terminal (logs of a cron job or a container stay readable)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class _Rate(TextColumn):
    def __init__(self, unit: str) -> None:
        super().__init__("")
        self.unit = unit

    def render(self, task: Any) -> Any:  # noqa: ANN401 (rich's own types)
        from rich.text import Text

        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} {self.unit}/s" if speed else f"- {self.unit}/s")


class TaskProgress:
    """`update(done, stage=...)` with the count so far; `total` may be learnt late."""

    def __init__(self, progress: Progress, task: TaskID, console: Console) -> None:
        self._progress = progress
        self._task = task
        self.console = console
        self.stage = ""

    def update(self, done: float, *, stage: str | None = None,
               total: float | None = None) -> None:
        if stage is not None:
            self.stage = stage
        self._progress.update(self._task, completed=done, description=self.stage,
                              total=total)  # None leaves the total as it is

    def advance(self, amount: float = 1, *, stage: str | None = None) -> None:
        if stage is not None:
            self.stage = stage
            self._progress.update(self._task, description=stage)
        self._progress.advance(self._task, amount)


@contextmanager
def task_progress(stage: str, *, total: float | None = None, unit: str = "rows",
                  console: Console | None = None) -> Iterator[TaskProgress]:
    console = console or Console(stderr=True)
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               _Rate(unit), TextColumn("ETA"), TimeRemainingColumn(), TimeElapsedColumn()]
    progress = Progress(*columns, console=console, transient=False,
                        disable=not console.is_terminal)
    task = progress.add_task(stage, total=total)
    handle = TaskProgress(progress, task, console)
    handle.stage = stage
    with progress:
        yield handle
    if not console.is_terminal:
        t = progress.tasks[0]
        elapsed = t.finished_time or t.elapsed or 0.0
        rate = t.completed / elapsed if elapsed else 0.0
        print(f"{handle.stage}: {t.completed:,.0f}"
              + (f"/{t.total:,.0f}" if t.total else "")
              + f" {unit}, {elapsed:,.1f}s, {rate:,.0f} {unit}/s", file=sys.stderr, flush=True)
