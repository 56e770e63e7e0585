"""Check a notebook before submitting it: run it as the grader will and list every check.

The instructor's entry to the student's validator (`python -m course.validate`, which is
what students run): the same code, with the repository's labs/ as the released labs.
"""
from __future__ import annotations

from autograder.cli import subparser
from autograder.config import REPO
from course import validate


def add_parser(sub):
    p = subparser(sub, "validate", __doc__ + "\n" + validate.__doc__,
                  "python -m autograder validate 01-backprop.ipynb")
    validate.add_arguments(p, labs_dir=str(REPO / "labs"))
    return p


def main(args) -> int:
    return validate.run(args)
