"""The four services as real processes (`canbao serve`), for cross-service tests."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from devtools.infra import free_port
from shared.settings import SERVICES


@dataclass
class ServiceProcess:
    name: str
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, env: dict[str, str], launcher: str = "services.cli") -> None:
        """`launcher`: the module run as `python -m LAUNCHER serve NAME`
        (devtools.testing.failpoints arms fail points first)."""
        log = open(self.log_path, "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", launcher, "serve", self.name, "--port", str(self.port)],
            env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        code = self.process.returncode
        self.process = None
        return code

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class RunningSystem:
    services: dict[str, ServiceProcess] = field(default_factory=dict)

    def url(self, name: str) -> str:
        return self.services[name].url

    async def wait_ready(self, timeout: float = 60) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        async with httpx.AsyncClient(timeout=2) as client:
            for svc in self.services.values():
                while True:
                    try:
                        r = await client.get(f"{svc.url}/readyz")
                        if r.status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if svc.process is not None and svc.process.poll() is not None:
                        raise RuntimeError(f"{svc.name} exited:\n{svc.log_tail()}")
                    if asyncio.get_running_loop().time() > deadline:
                        raise TimeoutError(f"{svc.name} not ready:\n{svc.log_tail()}")
                    await asyncio.sleep(0.2)

    def stop(self) -> None:
        for svc in self.services.values():
            if svc.process is not None and svc.process.poll() is None:
                svc.process.send_signal(signal.SIGTERM)
        for svc in self.services.values():
            svc.stop()


def start_system(env: dict[str, str], log_dir: Path, names: tuple[str, ...] = SERVICES) -> RunningSystem:
    log_dir.mkdir(parents=True, exist_ok=True)
    system = RunningSystem()
    for name in names:
        svc = ServiceProcess(name, free_port(), log_dir / f"{name}.log")
        svc.start(env)
        system.services[name] = svc
    return system
