"""`leakhunter rules list|show ID|check DIR`: browse the rule library, validate user rules."""

from __future__ import annotations

import argparse
import sys
import textwrap
from typing import ClassVar

from leakhunter.cli.base import EXIT_ERROR, EXIT_OK
from leakhunter.errors import UsageError

__all__ = ["RulesCommand"]


def _rule_dirs(args: argparse.Namespace) -> tuple[str, ...]:
    from leakhunter.rules import rule_dirs_from_env

    return rule_dirs_from_env() + tuple(args.rules or ())


def _list(args: argparse.Namespace) -> int:
    from leakhunter.rules import load_rules

    rules = sorted(load_rules(_rule_dirs(args)), key=lambda r: (r.generic, r.id))
    if not rules:
        print("no rules")
        return EXIT_OK
    w_id = max(len(r.id) for r in rules)
    w_title = min(72, max(len(r.title) for r in rules))
    print(f"{'ID':<{w_id}}  {'TITLE':<{w_title}}  SOURCE")
    for r in rules:
        title = r.title if len(r.title) <= w_title else r.title[: w_title - 1] + "…"
        print(f"{r.id:<{w_id}}  {title:<{w_title}}  {r.source}")
    return EXIT_OK


def _paragraph(label: str, text: str, width: int = 88) -> list[str]:
    body = textwrap.fill(" ".join(text.split()), width=width - 4)
    return [f"{label}:", textwrap.indent(body, "    ")]


def _show(args: argparse.Namespace) -> int:
    from leakhunter.rules import load_rules

    rules = {r.id: r for r in load_rules(_rule_dirs(args))}
    rule = rules.get(args.id) or rules.get(args.id.upper())
    if rule is None:
        near = [i for i in sorted(rules) if args.id.upper() in i]
        hint = f" (did you mean {', '.join(near[:5])}?)" if near else ""
        raise UsageError(f"no rule with id {args.id}{hint}; `leakhunter rules list` shows all")
    lines = [
        f"{rule.id}: {rule.title}",
        f"source: {rule.source}:{rule.line}" + ("" if rule.builtin else " (user rule)"),
        f"runtime: {rule.runtime or 'any'}",
        f"confidence adjustment: {rule.confidence:+.2f}",
        "",
        *_paragraph("what it means and why it leaks", rule.explanation),
        "",
        *_paragraph("fix", rule.fix),
    ]
    if rule.sketch:
        lines += ["", "sketch:", textwrap.indent(rule.sketch.strip("\n"), "    ")]
    if rule.references:
        lines += ["", "references:", *(f"    {ref}" for ref in rule.references)]
    lines += ["", "matches when any of these blocks holds (every condition in a block):"]
    for n, block in enumerate(rule.when, start=1):
        where = f", line {block.line}" if block.line else ""
        lines.append(f"  block {n} (specificity {block.specificity()}{where}):")
        lines += [f"    - {d}" for d in block.describe()]
    print("\n".join(lines))
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    from leakhunter.rules import check_paths

    rules, problems = check_paths(args.paths)
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} problem(s); {len(rules)} valid rule(s)", file=sys.stderr)
        return EXIT_ERROR
    print(f"ok: {len(rules)} valid rule(s)")
    return EXIT_OK


class RulesCommand:
    """List, show and check leak-pattern rules (builtin and user rule dirs)."""

    name: ClassVar[str] = "rules"
    help: ClassVar[str] = "list, show or check the leak-pattern rules"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Declare the list, show and check subcommands."""
        sub = parser.add_subparsers(dest="rules_command", metavar="SUBCOMMAND")
        sub.required = True
        lst = sub.add_parser("list", help="table of rules: id, title, source file")
        show = sub.add_parser("show", help="everything about one rule, incl. its conditions")
        show.add_argument("id", metavar="ID", help="rule id, e.g. GO-GRPC-STREAM-NOT-CLOSED")
        for p in (lst, show):
            p.add_argument(
                "--rules",
                action="append",
                metavar="DIR",
                help="also load the *.toml rule files of DIR (repeatable; "
                "LEAKHUNTER_RULES adds more)",
            )
        check = sub.add_parser(
            "check", help="validate rule files; problems as file:line (exit 2 on errors)"
        )
        check.add_argument("paths", nargs="+", metavar="DIR", help="rule dir or .toml file")

    def run(self, args: argparse.Namespace) -> int:
        """Run the requested subcommand."""
        handlers = {"list": _list, "show": _show, "check": _check}
        return handlers[args.rules_command](args)
