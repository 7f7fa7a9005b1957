"""Run every benchmark one after the other (`make bench`), each at its default size, and keep
each one's output in bench/results/NAME.txt. About 40 minutes on the 2-core machine; run it on
a quiet machine (each benchmark starts its own PostgreSQL and broker).

    .venv/bin/python bench/run_all.py [NAME ...]     # e.g. payments_webhooks event_bus
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ("event_bus", "eligibility_batch", "eligibility_preview", "eligibility_redetermine",
              "registration_import", "payments_webhooks", "reporting_progress")


def main(argv: list[str]) -> int:
    chosen = argv or list(BENCHMARKS)
    unknown = sorted(set(chosen) - set(BENCHMARKS))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}",
              file=sys.stderr)
        return 2
    (HERE / "results").mkdir(exist_ok=True)
    failed = []
    for name in chosen:
        out = HERE / "results" / f"{name}.txt"
        print(f"== {name} -> {out.relative_to(HERE.parent)}", flush=True)
        started = time.monotonic()
        with out.open("w") as sink:
            proc = subprocess.Popen([sys.executable, str(HERE / f"{name}.py")],
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            assert proc.stdout is not None
            for line in proc.stdout:
                sys.stdout.write(line)
                sink.write(line)
            code = proc.wait()
        print(f"== {name}: exit {code} after {time.monotonic() - started:.0f} s", flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
