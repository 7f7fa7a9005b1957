"""Every `canbao` command and every option of it says what it does (`canbao --help`,
`canbao COMMAND --help`), and every operational task of docs/OPERATIONS.md is a command."""

from __future__ import annotations

import argparse

from services.cli import build_parser

TASKS = {("import", "residents"), ("import", "lists"), ("import", "targets"),
         ("import", "villages"), ("import", "students"), ("rollover",), ("redetermine",),
         ("simulate",), ("rebuild-projections",), ("dlt", "replay"), ("migrate",),
         ("backup",), ("restore",), ("pii", "rotate"), ("init-secrets",), ("serve",), ("dev",)}


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
              ) -> dict[tuple[str, ...], argparse.ArgumentParser]:
    found = {path: parser}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                assert helps.get(name), f"canbao {' '.join((*path, name))} has no help text"
                found.update(_commands(sub, (*path, name)))
    return found


def test_every_command_and_option_has_help_text() -> None:
    commands = _commands(build_parser())
    missing = []
    for path, parser in commands.items():
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            if not action.help or action.help == argparse.SUPPRESS:
                option = "/".join(action.option_strings) or action.dest
                missing.append(f"canbao {' '.join(path)} {option}")
    assert not missing, f"options without help text: {missing}"
    assert TASKS <= set(commands), f"missing: {sorted(TASKS - set(commands))}"
