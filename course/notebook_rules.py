"""What a lab notebook must keep: its graded cells, their points and its test cells.

The grader compares each submission with the instructor's source notebook
(``autograder.integrity``); the student's validator (:mod:`course.validate`) compares a
notebook with the released lab. Both use these rules, so a student is warned about exactly
what the grader will flag. Findings are :class:`Flag` s:

- ``deleted-cell`` / ``deleted-test-cell``: a graded cell of the lab is missing;
- ``duplicated-cell``: a grade_id appears more than once (the first copy counts);
- ``renamed-cell``: a graded cell's id is not the lab's, where one of the lab's is missing;
- ``unknown-cell``: a graded cell the lab does not have;
- ``changed-points`` / ``changed-metadata``: nbgrader metadata of a graded cell changed;
- ``edited-test-cell``: a test cell differs from the lab's (it is run as the lab has it).

Reading a notebook never raises: :func:`read_notebook` turns any file into a notebook or a
reason why it is not one (a hostile upload is just a file that is not a notebook).
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

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


def is_manual(cell) -> bool:
    """A manually graded answer (a written answer with points, graded by the instructor)."""
    m = nbgrader_meta(cell)
    return bool(m.get("grade")) and bool(m.get("solution"))


def points(cell) -> float:
    return float(nbgrader_meta(cell).get("points", 0) or 0)


def normalized(source) -> str:
    """A cell's source with trailing blanks and surrounding blank lines dropped."""
    text = "".join(source) if isinstance(source, list) else str(source or "")
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def read_notebook(path: Path):
    """(notebook, None), or (None, reason) for a file that is not a readable notebook."""
    import nbformat

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


def _float(x) -> float:
    try:
        return float(x or 0)
    except (TypeError, ValueError):
        return float("nan")


def structure_flags(lab_nb, nb) -> list[Flag]:
    """What `nb` changed in the graded cells of `lab_nb`, the lab as released (the grader
    removes the hidden blocks of its source first: the student edition never names them)."""
    flags: list[Flag] = []
    lab_cells = {grade_id(c): c for c in lab_nb.cells if grade_id(c)}
    seen: dict[str, int] = {}
    for cell in nb.cells:
        gid = grade_id(cell)
        if gid:
            seen[gid] = seen.get(gid, 0) + 1
    missing = [g for g in lab_cells if g not in seen]
    for gid in missing:
        test = is_test_cell(lab_cells[gid])
        flags.append(Flag("deleted-test-cell" if test else "deleted-cell",
                          f"{'test' if test else 'graded'} cell {gid} was deleted"
                          + (" (its checks were run anyway)" if test else ""), gid))
    for gid in (g for g in seen if g not in lab_cells):
        if missing:
            flags.append(Flag("renamed-cell", f"cell {gid} is not in the lab: renamed from one "
                              f"of {', '.join(missing)}?", gid))
        else:
            flags.append(Flag("unknown-cell", f"cell {gid} is not in the lab", gid))
    for gid, n in seen.items():
        if n > 1:
            flags.append(Flag("duplicated-cell", f"cell {gid} appears {n} times (the first "
                              "copy counts)", gid))
    checked: set[str] = set()
    for cell in nb.cells:
        gid = grade_id(cell)
        if gid not in lab_cells or gid in checked:
            continue
        checked.add(gid)
        ours, theirs = nbgrader_meta(cell), nbgrader_meta(lab_cells[gid])
        if points(lab_cells[gid]) != _float(ours.get("points", 0)):
            flags.append(Flag("changed-points", f"cell {gid}: points changed from "
                              f"{theirs.get('points', 0)} to {ours.get('points')}", gid))
        changed = [k for k in GRADE_KEYS if k != "points" and theirs.get(k) != ours.get(k)]
        if changed or lab_cells[gid].get("cell_type") != cell.get("cell_type"):
            flags.append(Flag("changed-metadata", f"cell {gid}: nbgrader metadata changed "
                              f"({', '.join(changed) or 'cell_type'})", gid))
        if is_test_cell(lab_cells[gid]) and normalized(cell.get("source", "")) != normalized(
                lab_cells[gid].source):
            flags.append(Flag("edited-test-cell", f"test cell {gid} was edited (graded "
                              "with the original)", gid))
    return flags
