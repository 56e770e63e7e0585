"""Per-student feedback: feedback/<student>/<lab>/<lab>.html from what grading recorded.

Every check has a line: a visible check with its details (expected vs received, the hint),
a hidden check by its label and verdict only. Integrity flags and grading problems are
listed. Hidden test code, inputs and expected values never reach this page: it is built
from the recorded check lines (results.json), not from the instructor's notebook.
"""
from __future__ import annotations

import dataclasses
import html
from pathlib import Path

from autograder.cli import course_argument, subparser
from autograder.config import Course, course_from
from autograder.gradebook import read_results, scores

STYLE = """body{font:15px/1.45 system-ui,sans-serif;max-width:52em;margin:2em auto;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
.pass{color:#176f2c}.fail{color:#b3261e}.hidden{color:#666;font-style:italic}
li{margin:.2em 0}code{background:#f4f4f4;padding:0 .2em}.flag{background:#fff4e5;padding:.5em 1em}"""


@dataclasses.dataclass
class FeedbackFile:
    student: str
    lab: str
    path: Path
    score: float
    max_score: float


def student_lines(results: dict) -> list[tuple[dict, list[str]]]:
    """(cell, lines) per graded cell, as the student may read them: hidden details dropped."""
    out = []
    for cell in results.get("cells", []):
        lines = []
        for chk in cell.get("checks", []):
            verdict = "PASS" if chk.get("passed") else "FAIL"
            if chk.get("hidden"):
                lines.append(f"{verdict}  {chk.get('label', '')} (hidden check)")
            else:
                detail = chk.get("detail") or ""
                lines.append(f"{verdict}  {chk.get('label', '')}" + (f": {detail}" if detail else ""))
        out.append((cell, lines))
    return out


def render(results: dict) -> str:
    """The feedback page for one graded submission (results.json's content)."""
    e = html.escape
    score, max_score = results.get("score", 0.0), results.get("max_score", 0.0)
    parts = [f"<!doctype html><meta charset='utf-8'><title>{e(results['lab'])}: feedback for "
             f"{e(results['student'])}</title><style>{STYLE}</style>",
             f"<h1>{e(results['lab'])}: {score:g} / {max_score:g} points</h1>",
             f"<p>Student <code>{e(results['student'])}</code>, submission of "
             f"{e(str(results.get('timestamp', '')))}. Each check of each test cell has a line "
             "below; hidden checks show their verdict only.</p>"]
    flags = results.get("flags", [])
    if flags:
        parts.append("<div class='flag'><b>Integrity</b><ul>" + "".join(
            f"<li><code>{e(str(f.get('code')))}</code> {e(str(f.get('message', '')))}"
            + (f" (cell <code>{e(str(f['cell']))}</code>)" if f.get("cell") else "") + "</li>"
            for f in flags) + "</ul></div>")
    errors = results.get("errors", [])
    if errors:
        parts.append("<div class='flag'><b>Problems while running your notebook</b><ul>"
                     + "".join(f"<li>{e(str(x))[:500]}</li>" for x in errors) + "</ul></div>")
    for cell, lines in student_lines(results):
        parts.append(f"<h2><code>{e(cell.get('grade_id', ''))}</code>: "
                     f"{cell.get('score', 0):g} / {cell.get('points', 0):g}</h2>")
        if cell.get("note"):
            parts.append(f"<p>{e(str(cell['note']))}</p>")
        items = []
        for line in lines:
            css = "pass" if line.startswith("PASS") else "fail"
            if line.endswith("(hidden check)"):
                css += " hidden"
            items.append(f"<li class='{css}'>{e(line)}</li>")
        parts.append("<ul>" + "".join(items) + "</ul>" if items else "<p>No checks ran.</p>")
    return "\n".join(parts) + "\n"


def generate_feedback(course: Course, lab: str | None = None,
                      student: str | None = None) -> list[FeedbackFile]:
    """Write the feedback page of every graded submission (optionally one lab / student)."""
    made = []
    for row in scores(course):
        if (lab and row.lab != lab) or (student and row.student != student):
            continue
        results = read_results(course, row.student, row.lab)
        if results is None:
            continue
        results.setdefault("student", row.student)
        results.setdefault("lab", row.lab)
        results["score"], results["max_score"] = row.score, row.max_score  # the gradebook's
        path = course.feedback / row.student / row.lab / f"{row.lab}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(results), encoding="utf-8")
        made.append(FeedbackFile(row.student, row.lab, path, row.score, row.max_score))
    return made


def add_parser(sub):
    p = subparser(sub, "feedback", __doc__,
                  "python -m autograder feedback --lab 01-backprop")
    p.add_argument("--lab", default=None)
    p.add_argument("--student", default=None)
    course_argument(p)
    return p


def main(args) -> int:
    course = course_from(args.course)
    made = generate_feedback(course, args.lab, args.student)
    for f in made:
        print(f"{f.student:20s} {f.lab:16s} {f.score:g}/{f.max_score:g}  {f.path}")
    print(f"{len(made)} feedback pages under {course.feedback}")
    return 0
