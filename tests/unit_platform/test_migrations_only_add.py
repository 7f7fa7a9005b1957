"""Every migration keeps the previous release working while replicas are replaced
(docs/OPERATIONS.md, "migrate first, then replace replicas"): its upgrade() adds tables, columns,
indexes and constraints, and never drops, renames or retypes what the previous release reads or
writes, nor makes it NOT NULL. A migration that must (once no release uses the thing any more)
says so in its docstring with a line starting `Contract:` naming what it removes and the release
that stopped using it; such a line is the reviewer's cue, not a way around this test."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = sorted(ROOT.glob("services/*/migrations/versions/*.py"))

# what breaks the previous release's statements (SQL text inside upgrade())
BREAKING = {
    "drops a column": re.compile(r"\bDROP\s+COLUMN\b", re.I),
    "drops a table": re.compile(r"\bDROP\s+TABLE\b", re.I),
    "renames": re.compile(r"\bRENAME\b", re.I),
    "changes a column's type": re.compile(r"\bALTER\s+COLUMN\s+\w+\s+(SET\s+DATA\s+)?TYPE\b", re.I),
    "makes a column NOT NULL": re.compile(r"\bSET\s+NOT\s+NULL\b", re.I),
    # an existing table's new column the previous release's inserts do not fill
    "adds a NOT NULL column without a default": re.compile(
        r"\bADD\s+COLUMN\s+\w+\s+[^,;)]*?\bNOT\s+NULL\b(?![^,;]*\bDEFAULT\b)", re.I),
}


def _upgrade_source(path: Path) -> tuple[str, str]:
    """(module docstring, source of upgrade())."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "upgrade":
            return ast.get_docstring(tree) or "", ast.get_source_segment(
                path.read_text(encoding="utf-8"), node) or ""
    raise AssertionError(f"{path} has no upgrade()")


def _is_initial(path: Path) -> bool:
    return "down_revision = None" in path.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", MIGRATIONS, ids=lambda p: f"{p.parts[-4]}/{p.stem}")
def test_upgrade_only_adds_unless_it_declares_a_contract(path: Path) -> None:
    if _is_initial(path):
        return  # creates the schema: there is no previous release to keep working
    doc, source = _upgrade_source(path)
    found = [what for what, pattern in BREAKING.items() if pattern.search(source)]
    declared = any(line.strip().startswith("Contract:") for line in doc.splitlines())
    assert not found or declared, (
        f"{path.relative_to(ROOT)} {', '.join(found)}: the previous release breaks while "
        "replicas are replaced. Add first (nullable, or with a default), stop using it in one "
        "release, remove it in a later one with a `Contract:` line in the docstring")


def test_the_check_catches_what_it_is_for() -> None:
    """The patterns find the breaking forms and pass the additive ones."""
    breaking = ["ALTER TABLE s.t DROP COLUMN trace", "DROP TABLE s.t",
                "ALTER TABLE s.t RENAME COLUMN a TO b", "ALTER TABLE s.t ALTER COLUMN a TYPE int8",
                "ALTER TABLE s.t ALTER COLUMN a SET NOT NULL",
                "ALTER TABLE s.t ADD COLUMN a text NOT NULL"]
    additive = ["ALTER TABLE s.t ADD COLUMN a uuid",
                "ALTER TABLE s.t ADD COLUMN a text NOT NULL DEFAULT '000000'",
                "ALTER TABLE s.t ALTER COLUMN a DROP NOT NULL", "CREATE TABLE s.x (id uuid)",
                "ALTER TABLE s.t DROP CONSTRAINT c_check", "CREATE INDEX i ON s.t (a)"]
    for sql in breaking:
        assert any(p.search(sql) for p in BREAKING.values()), sql
    for sql in additive:
        assert not any(p.search(sql) for p in BREAKING.values()), sql
