"""The data sets a lab loads, made available before its notebooks run sandboxed.

Sandboxed kernels have no network, so a data set that is neither cached nor bundled would
fail inside every student's kernel and cost each of them the same points. The grader (and
the demo, and the notebook tests) fetch it beforehand on the host, or refuse the lab with
the reason and the fix. They also decode it there once (``course.data.decode``), so that no
kernel spends its time limit decompressing (CIFAR-10: about a minute on a loaded 2-core machine);
the held-out view (autograder/heldout.py) carries the decoded copies into the sandbox.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat

LOADS = re.compile(r"""\bdata\.load\(\s*["'](\w+)["']""")


def lab_data(notebook: Path) -> list[str]:
    """The names passed to `data.load("...")` in the notebook's code cells."""
    nb = nbformat.read(notebook, as_version=4)
    return sorted({name for cell in nb.cells if cell.cell_type == "code"
                   for name in LOADS.findall(cell.source)})


def prepare_data(notebook: Path, print_fn=print) -> str | None:
    """Fetch and decode what the notebook loads; None when all is there, else why not."""
    from course import data
    for name in lab_data(notebook):
        try:
            data.ensure(name, print_fn)
        except data.DataError as e:
            return str(e)
    return None
