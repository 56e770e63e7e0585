"""`python -m autograder <command>`: one module per command, each with its own --help.

Every command module defines `add_parser(subparsers)` (its arguments, with an example in
the epilog) and `main(args) -> int`; the work itself is a Python function returning
dataclasses, which the command only renders.
"""
from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = ["release", "publish", "collect", "grade", "feedback", "export", "validate", "demo",
            "samples", "bench"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m autograder",
        description="Release, collect, grade, give feedback on and export the course's labs.",
        epilog="Example: python -m autograder demo   (the whole pipeline on the bundled samples)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        module = importlib.import_module(f"autograder.{name}")
        p = module.add_parser(sub)
        p.set_defaults(_main=module.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    from autograder.config import prepare_environment

    prepare_environment()
    args = build_parser().parse_args(argv)
    try:
        return int(args._main(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def course_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--course", metavar="DIR", default=None,
                        help="course directory holding submitted/, autograded/, feedback/ and "
                             "gradebook.db (default: $AUTOGRADER_COURSE or the repository root)")


def subparser(sub, name: str, doc: str, example: str) -> argparse.ArgumentParser:
    first = doc.strip().splitlines()[0]
    return sub.add_parser(name, help=first, description=doc.strip(),
                          epilog=f"Example:\n  {example}",
                          formatter_class=argparse.RawDescriptionHelpFormatter)
