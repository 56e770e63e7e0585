"""Integrity: what a submission changed that it should not have, compared with the source.

    flags, nb = check_submission(source_nb, submission_path, lab="01-backprop")

Every finding is a :class:`Flag` (code, message, cell). Codes:

- ``invalid-json``: the file is not a notebook (nothing is graded; every cell scores 0).
- ``deleted-cell`` / ``deleted-test-cell``: a graded cell of the source is missing (nbgrader
  misses these; the judge still runs a missing test cell's checks).
- ``duplicated-cell``: a grade_id appears more than once (the first copy counts).
- ``renamed-cell``: a graded cell's id is not one of the source's, where a source id is
  missing (a likely rename).
- ``unknown-cell``: a graded cell the source does not have.
- ``edited-test-cell``: a test cell's source differs from the instructor's (graded with the
  original anyway: the judge never runs the student's copy).
- ``changed-metadata`` / ``changed-points``: nbgrader metadata of a graded cell changed.
- ``forbidden-import``: an answer cell imports what it must not (``autograder``,
  ``solutions``, and per lab more, :data:`FORBIDDEN`).
- ``suspicious-code``: code a human should look at (process control, sockets, ctypes,
  kernel hooks, sys.modules tampering, reading outside the working folder).

Flags inform a human; only ``invalid-json`` changes a score by itself.
"""
from __future__ import annotations

import ast
import copy
import dataclasses
import json
import re
from pathlib import Path

import nbformat

# Modules no answer cell may import, per lab ("*" applies to every lab). Lab authors add
# entries here (or a lab's source notebook sets metadata.course.forbidden_imports).
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "*": ("autograder", "solutions"),
    "01-backprop": ("course.counting",),
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
    (r"input_transformers|ast_transformers|input_transformer_manager|register_magic",
     "changes how the kernel reads cells"),
    (r"\bsys\s*\.\s*modules\b|\bbuiltins\b|__builtins__", "tampers with modules or builtins"),
    (r"\bsys\s*\.\s*(settrace|setprofile)|\bsys\.meta_path|\bimportlib\b", "hooks the interpreter"),
    (r"(open|Path|listdir|scandir|glob)\s*\(\s*[rfb]*['\"](/|\.\./|~)", "reads outside its folder"),
    (r"\bsignal\s*\.\s*signal\b|\batexit\b", "signal or exit hooks"),
    # builtins only: model.compile(...) and the like are methods, not dynamic code
    (r"\b__import__\b|(?<![.\w])(exec|eval|compile)\s*\(", "dynamic code"),
)

GRADE_KEYS = ("grade", "solution", "locked", "points", "grade_id", "task")


@dataclasses.dataclass(frozen=True)
class Flag:
    """One integrity finding. `cell` is the grade_id concerned, if any."""

    code: str
    message: str
    cell: str | None = None


def nbgrader_meta(cell) -> dict:
    return dict(cell.get("metadata", {}).get("nbgrader", {}) or {})


def grade_id(cell) -> str | None:
    gid = nbgrader_meta(cell).get("grade_id")
    return gid if isinstance(gid, str) else None


def is_test_cell(cell) -> bool:
    m = nbgrader_meta(cell)
    return cell.get("cell_type") == "code" and bool(m.get("grade")) and not m.get("solution")


def is_graded(cell) -> bool:
    m = nbgrader_meta(cell)
    return bool(m.get("grade") or m.get("solution") or m.get("task") or m.get("locked"))


def _norm(source) -> str:
    text = "".join(source) if isinstance(source, list) else str(source or "")
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


HIDDEN_BLOCK = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?^[ \t]*### END HIDDEN TESTS[^\n]*\n?",
                          re.S | re.M)


def released_source(source) -> str:
    """A test cell as students receive it: the hidden block removed, as nbgrader does."""
    text = "".join(source) if isinstance(source, list) else str(source or "")
    return _norm(HIDDEN_BLOCK.sub("", text))


def read_notebook(path: Path):
    """(notebook, None) or (None, reason) for a file that is not a readable notebook."""
    try:
        raw = Path(path).read_bytes()
        data = json.loads(raw.decode("utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
            return None, "not a notebook (no list of cells)"
        nb = nbformat.from_dict(data)
        if nb.get("nbformat", 0) < 4:
            nb = nbformat.convert(nb, 4)
        for cell in nb.cells:
            if not isinstance(cell, dict) or "cell_type" not in cell:
                return None, "a cell without a cell_type"
            cell.setdefault("metadata", {})
            cell.setdefault("source", "")
            if isinstance(cell["source"], list):
                cell["source"] = "".join(map(str, cell["source"]))
        return nb, None
    except Exception as exc:  # any malformed file is "not a notebook", never a crash
        return None, f"{type(exc).__name__}: {str(exc)[:200]}"


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


def check_submission(source_nb, submission: Path, *, lab: str):
    """(flags, submission notebook or None) for one submission against its source."""
    flags: list[Flag] = []
    nb, why = read_notebook(submission)
    if nb is None:
        return (Flag("invalid-json", f"the submission is not a valid notebook: {why}"),), None

    src_cells = {grade_id(c): c for c in source_nb.cells if grade_id(c)}
    seen: dict[str, int] = {}
    for cell in nb.cells:
        gid = grade_id(cell)
        if gid:
            seen[gid] = seen.get(gid, 0) + 1
    missing = [g for g in src_cells if g not in seen]
    unknown = [g for g in seen if g not in src_cells]

    for gid in missing:
        test = is_test_cell(src_cells[gid])
        flags.append(Flag("deleted-test-cell" if test else "deleted-cell",
                          f"{'test' if test else 'graded'} cell {gid} was deleted"
                          + (" (its checks were run anyway)" if test else ""), gid))
    for gid in unknown:
        if missing:
            flags.append(Flag("renamed-cell", f"cell {gid} is not in the lab: renamed from one "
                              f"of {', '.join(missing)}?", gid))
        else:
            flags.append(Flag("unknown-cell", f"cell {gid} is not in the lab", gid))
    for gid, n in seen.items():
        if n > 1:
            flags.append(Flag("duplicated-cell", f"cell {gid} appears {n} times (the first "
                              "copy counts)", gid))

    forbidden = forbidden_modules(source_nb, lab)
    instructor_code = {_norm(c.source) for c in source_nb.cells if c.get("cell_type") == "code"}
    checked: set[str] = set()
    for cell in nb.cells:
        gid = grade_id(cell)
        if gid in src_cells and gid not in checked:
            checked.add(gid)
            src = src_cells[gid]
            sm, m = nbgrader_meta(src), nbgrader_meta(cell)
            if float(sm.get("points", 0) or 0) != _float(m.get("points", 0)):
                flags.append(Flag("changed-points", f"cell {gid}: points changed from "
                                  f"{sm.get('points', 0)} to {m.get('points')}", gid))
            changed = [k for k in GRADE_KEYS if k != "points" and sm.get(k) != m.get(k)]
            if changed or src.get("cell_type") != cell.get("cell_type"):
                what = ", ".join(changed) or "cell_type"
                flags.append(Flag("changed-metadata", f"cell {gid}: nbgrader metadata changed "
                                  f"({what})", gid))
            if is_test_cell(src) and _norm(cell.get("source", "")) not in (
                    released_source(src.source), _norm(src.source)):
                flags.append(Flag("edited-test-cell", f"test cell {gid} was edited (graded "
                                  "with the original)", gid))
        if cell.get("cell_type") != "code" or (gid in src_cells and is_test_cell(src_cells[gid])):
            continue
        code = str(cell.get("source", ""))
        bad = sorted({m for m in imported_modules(code) if _is_forbidden(m, forbidden)})
        if bad:
            flags.append(Flag("forbidden-import", f"{gid or 'a cell'} imports {', '.join(bad)}, "
                              "which this lab does not allow", gid))
        if _norm(code) in instructor_code:
            continue  # the lab's own code, as released
        reasons = sorted({why for pattern, why in SUSPICIOUS if re.search(pattern, code)})
        if reasons:
            flags.append(Flag("suspicious-code", f"{gid or 'an ungraded cell'}: "
                              + "; ".join(reasons) + " (for a human to look at)", gid))
    return tuple(flags), nb


def _float(x) -> float:
    try:
        return float(x or 0)
    except (TypeError, ValueError):
        return float("nan")
