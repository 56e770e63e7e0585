"""Integrity: what a submission changed that it should not have, compared with the source.

    flags, nb = check_submission(source_nb, submission_path, lab="01-backprop")

Every finding is a :class:`Flag` (code, message, cell). The structural ones (deleted,
duplicated, renamed or unknown graded cells, changed points or metadata, edited test cells)
follow the rules the student's validator applies too (course/notebook_rules.py); here are
added:

- ``invalid-json``: the file is not a notebook (nothing is graded; every cell scores 0);
- ``forbidden-import``: an answer cell imports what it must not (``autograder``,
  ``solutions``, and per lab more, :data:`FORBIDDEN`, or the source notebook's
  ``metadata.course.forbidden_imports``);
- ``suspicious-code``: code a human should look at (process control, sockets, ctypes,
  kernel and IPython hooks, sys.modules tampering, rebinding numpy's functions (its file
  I/O above all: the query harness saves and loads with it), reading outside the working
  folder, raising text built from data, which can carry what the grader sent the kernel).

Flags inform a human; only ``invalid-json`` changes a score by itself. The judge never runs
a submission's copy of a test cell, so ``edited-test-cell`` is graded with the original.
"""
from __future__ import annotations

import ast
import copy
import re
from pathlib import Path

from course.notebook_rules import (Flag, grade_id, is_test_cell, nbgrader_meta,  # noqa: F401
                                   normalized, read_notebook, structure_flags)

HIDDEN_BLOCK = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?^[ \t]*### END HIDDEN TESTS[^\n]*\n?",
                          re.S | re.M)

# Modules no answer cell may import, per lab ("*" applies to every lab). Lab authors add
# entries here (or a lab's source notebook sets metadata.course.forbidden_imports).
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "*": ("autograder", "solutions"),
    "01-backprop": ("course.gradients",),   # autodiff: lab 01 asks for gradients by hand
}

# (pattern, why) pairs: code that is fine in a lab only rarely, so a human looks.
SUSPICIOUS: tuple[tuple[str, str], ...] = (
    (r"\bos\s*\.\s*_exit\b", "os._exit ends the kernel"),
    (r"\bos\s*\.\s*(fork|forkpty|kill|killpg|setsid|exec\w*|spawn\w*|system|popen)\b",
     "process control"),
    (r"\bsubprocess\b", "starts processes"),
    (r"\bmultiprocessing\b", "starts processes"),
    (r"\bsocket\b|\burllib\b|\brequests\b|\bhttp\.client\b", "network access"),
    (r"\bctypes\b|\bcffi\b", "calls native code"),
    (r"get_ipython\s*\(\s*\)\s*\.\s*events|\.events\s*\.\s*register", "registers kernel event hooks"),
    (r"\bget_ipython\b|\bipykernel\b|\bIPython\s*\.\s*(core|kernel|terminal)\b"
     r"|\bsys\s*\.\s*(displayhook|excepthook)\b|\bset_custom_exc\b|\bshowtraceback\b"
     r"|\bdisplay_formatter\b|\bdisplay_pub\b", "reaches into IPython or its hooks"),
    (r"input_transformers|ast_transformers|input_transformer_manager|register_magic",
     "changes how the kernel reads cells"),
    (r"\bsys\s*\.\s*modules\b|\bbuiltins\b|__builtins__", "tampers with modules or builtins"),
    (r"\bsys\s*\.\s*(settrace|setprofile)|\bsys\.meta_path|\bimportlib\b", "hooks the interpreter"),
    (r"(open|Path|listdir|scandir|glob)\s*\(\s*[rfb]*['\"](/|\.\./|~)", "reads outside its folder"),
    (r"\bsignal\s*\.\s*signal\b|\batexit\b", "signal or exit hooks"),
    # builtins only: model.compile(...) and the like are methods, not dynamic code
    (r"\b__import__\b|(?<![.\w])(exec|eval|compile)\s*\(", "dynamic code"),
)


NUMPY_FILE_IO = {"save", "savez", "savez_compressed", "load", "lib", "fromfile", "tofile",
                 "frombuffer", "ndarray", "asarray", "array", "format", "npyio"}
DATA_SHAPED = {"join", "repr", "dumps", "tolist", "tobytes", "hex", "b64encode", "format"}


def _numpy_names(tree: ast.AST) -> set[str]:
    names = {"np", "numpy"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.asname or a.name for a in node.names if a.name.split(".")[0] == "numpy"}
    return names


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _calls(node: ast.AST) -> set[str]:
    return {getattr(n.func, "attr", getattr(n.func, "id", "")) for n in ast.walk(node)
            if isinstance(n, ast.Call)}


def structural_reasons(code: str) -> set[str]:
    """What the regular expressions cannot see: rebinding numpy's functions (its file I/O
    first of all), and raising text built from data (at a cell's top level, or by joining
    or printing out a container anywhere)."""
    try:
        tree = ast.parse(_strip_magics(code))
    except SyntaxError:
        return set()
    numpy = _numpy_names(tree)
    found = set()
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("setattr", "delattr") \
                and node.args:
            targets = [ast.Attribute(node.args[0], "?")]
        for t in targets:
            if isinstance(t, ast.Attribute) and _root_name(t) in numpy:
                attrs = {n.attr for n in ast.walk(t) if isinstance(n, ast.Attribute)}
                found.add("rebinds numpy's file I/O" if attrs & NUMPY_FILE_IO or "?" in attrs
                          else "rebinds a numpy function")
    top_level = {id(n) for n in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            message = node.exc.args if isinstance(node.exc, ast.Call) else [node.exc]
            computed = [a for a in message if not isinstance(a, ast.Constant)]
            if any(_calls(a) & DATA_SHAPED for a in computed) or (
                    id(node) in top_level and computed):
                found.add("raises text built from data")
    return found


def forbidden_modules(source_nb, lab: str) -> tuple[str, ...]:
    extra = source_nb.get("metadata", {}).get("course", {}).get("forbidden_imports", ())
    return tuple(FORBIDDEN.get("*", ())) + tuple(FORBIDDEN.get(lab, ())) + tuple(extra or ())


def imported_modules(code: str) -> list[str]:
    """Modules a cell imports (``import a.b``, ``from a.b import c`` -> a.b, a.b.c)."""
    found = []
    try:
        tree = ast.parse(_strip_magics(code))
    except SyntaxError:
        return re.findall(r"^\s*(?:from|import)\s+([\w.]+)", code, flags=re.M)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
            found += [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) \
                in ("__import__", "import_module") and node.args \
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            found.append(node.args[0].value)
    return found


def _strip_magics(code: str) -> str:
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in code.splitlines())


def _is_forbidden(module: str, forbidden: tuple[str, ...]) -> bool:
    return any(module == f or module.startswith(f + ".") for f in forbidden)


def code_flags(source_nb, nb, lab: str) -> list[Flag]:
    """Forbidden imports and suspicious code in the submission's cells (test cells aside)."""
    flags = []
    tests = {grade_id(c) for c in source_nb.cells if is_test_cell(c)}
    forbidden = forbidden_modules(source_nb, lab)
    instructor_code = {normalized(c.source) for c in source_nb.cells
                       if c.get("cell_type") == "code"}
    for cell in nb.cells:
        gid = grade_id(cell)
        if cell.get("cell_type") != "code" or gid in tests:
            continue
        code = str(cell.get("source", ""))
        bad = sorted({m for m in imported_modules(code) if _is_forbidden(m, forbidden)})
        if bad:
            flags.append(Flag("forbidden-import", f"{gid or 'a cell'} imports {', '.join(bad)}, "
                              "which this lab does not allow", gid))
        if normalized(code) in instructor_code:
            continue  # the lab's own code, as released
        reasons = sorted({why for pattern, why in SUSPICIOUS if re.search(pattern, code)}
                         | structural_reasons(code))
        if reasons:
            flags.append(Flag("suspicious-code", f"{gid or 'an ungraded cell'}: "
                              + "; ".join(reasons) + " (for a human to look at)", gid))
    return flags


def as_released(source_nb):
    """A copy of the source notebook with its test cells as students receive them: the
    hidden blocks removed, as nbgrader's release does."""
    released = copy.deepcopy(source_nb)
    for cell in released.cells:
        if is_test_cell(cell):
            cell.source = HIDDEN_BLOCK.sub("", normalized(cell.source) + "\n")
    return released


def check_submission(source_nb, submission: Path, *, lab: str):
    """(flags, submission notebook or None) for one submission against its source."""
    nb, why = read_notebook(submission)
    if nb is None:
        return (Flag("invalid-json", f"the submission is not a valid notebook: {why}"),), None
    source_tests = {grade_id(c): normalized(c.source) for c in source_nb.cells
                    if is_test_cell(c)}
    as_in_source = {grade_id(c) for c in nb.cells  # the instructor's own copy is no edit
                    if source_tests.get(grade_id(c)) == normalized(c.get("source", ""))}
    structure = [f for f in structure_flags(as_released(source_nb), nb)
                 if not (f.code == "edited-test-cell" and f.cell in as_in_source)]
    return tuple(structure + code_flags(source_nb, nb, lab)), nb
