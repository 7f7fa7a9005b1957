"""Drive a load with `wrk` (Debian's package; C, cheap on a 2-core machine) from a file of
pre-built requests, one per line, each used once. Used by the benchmarks when wrk is installed;
they fall back to their own Python load generator otherwise."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

LUA = r"""
local lines = {}
local n = 0
local pos = 0
local stride = 1
setup = function(thread)
  thread:set("offset", counter or 0)
  counter = (counter or 0) + 1
end
init = function(args)
  stride = tonumber(args[2])
  for line in io.lines(args[1]) do
    n = n + 1
    lines[n] = line
  end
  pos = offset + 1
end
request = function()
  local line = lines[pos]
  pos = pos + stride
  if line == nil then
    return wrk.format("GET", "/exhausted")
  end
  local method, path, hdrs, body = line:match("^(%S+)\t(%S+)\t([^\t]*)\t(.*)$")
  local headers = {}
  for k, v in hdrs:gmatch("([^|=]+)=([^|]*)") do headers[k] = v end
  if body == "" then body = nil end
  return wrk.format(method, path, headers, body)
end
done = function(summary, latency, requests)
  io.write(string.format("WRKSTATS %d %d %.3f %.3f %.3f\n", summary.requests,
    summary.errors.status, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.duration / 1e6))
end
"""


@dataclass
class WrkResult:
    requests: int
    non_2xx: int
    p50_ms: float
    p99_ms: float
    seconds: float

    @property
    def ok(self) -> int:
        return self.requests - self.non_2xx

    @property
    def rate(self) -> float:
        return self.ok / self.seconds


def available() -> bool:
    return shutil.which("wrk") is not None


def request_line(method: str, path: str, headers: dict[str, str], body: str = "") -> str:
    hdrs = "|".join(f"{k}={v}" for k, v in headers.items())
    assert "\t" not in body and "\n" not in body
    return f"{method}\t{path}\t{hdrs}\t{body}"


def run(url: str, lines: list[str], seconds: float, threads: int = 2,
        connections: int = 64) -> WrkResult:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "requests.tsv"
        data.write_text("\n".join(lines) + "\n")
        script = Path(tmp) / "load.lua"
        script.write_text(LUA)
        out = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{int(seconds)}s", "--timeout", "10s",
             "-s", str(script), url, "--", str(data), str(threads)],
            capture_output=True, text=True, check=True,
        ).stdout
    m = re.search(r"WRKSTATS (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+)", out)
    if not m:
        raise RuntimeError(f"wrk printed no statistics:\n{out}")
    return WrkResult(int(m[1]), int(m[2]), float(m[3]), float(m[4]), float(m[5]))
