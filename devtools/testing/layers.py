"""Source checks for a service's layers, shared by the layer tests: which names a module uses,
whether it runs SQL, whether a router opens a transaction, reads `request.app.state` or
imports another router."""

from __future__ import annotations

import ast
from pathlib import Path

# what a router must not name: a session it drives, or a transaction it opens or ends
TRANSACTION_NAMES = frozenset({"begin", "commit", "rollback", "SessionDep", "AsyncSession"})


def source(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def names(path: Path) -> set[str]:
    """Every name, attribute and definition in a module, and its string constants but the
    docstrings."""
    tree = ast.parse(source(path))
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                    ast.AsyncFunctionDef))
                  and n.body and isinstance(n.body[0], ast.Expr)
                  and isinstance(n.body[0].value, ast.Constant)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, ast.alias):
            found.add(node.name.rsplit(".", 1)[-1])
        elif isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            found.add(node.name)
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and id(node) not in docstrings):
            found.add(node.value)
    return found


def runs_sql(path: Path) -> bool:
    """Imports SQLAlchemy's `text`, or calls a session's or connection's statement methods."""
    for node in ast.walk(ast.parse(source(path))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy") \
                and any(a.name == "text" for a in node.names):
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr in ("execute", "fetch", "fetchrow", "fetchval", "executemany"):
            return True
    return False


def opens_transaction(router: Path) -> bool:
    """Names a session or begins, commits or rolls back a transaction."""
    return bool(names(router) & TRANSACTION_NAMES)


def reads_app_state(router: Path) -> bool:
    return "app.state" in source(router) or "state" in names(router)


def imports_a_router(router: Path) -> bool:
    """Imports another module called `router` (or something from one)."""
    for node in ast.walk(ast.parse(source(router))):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if module.rsplit(".", 1)[-1] == "router" or any(a.name == "router"
                                                             for a in node.names):
                return True
        elif isinstance(node, ast.Import) and any(a.name.rsplit(".", 1)[-1] == "router"
                                                  for a in node.names):
            return True
    return False
