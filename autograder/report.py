"""The instructor's page on one lab: how the class did, check by check, as grading recorded it.

`python -m autograder report --lab LAB` writes reports/<lab>.html in the course directory:
one self-contained page (plots embedded as PNG, no server) with the score histogram; per
check, the share of the class that failed it and its most common message (hidden checks
included: this page is the instructor's, never a student's); per graded cell, its scores;
the time each notebook took and, per cell, the time used over the class (median and
longest: each code cell's run, each test cell's checks) with the runs that went past the
cell's time limit, killed the kernel or flooded output; integrity flags; the submissions
that did not run to the end and those collected but not graded. It reads the gradebook and
each results.json (nothing is graded again); every student-derived string reaches the page
HTML-escaped (the template autoescapes). Results recorded before the judge timed cells
have no per-cell times: the page counts them.
"""
from __future__ import annotations

import base64
import dataclasses
import io
import re
from pathlib import Path

import pandas as pd

from autograder.cli import course_argument, subparser
from autograder.config import Course, course_from
from autograder.feedback import TEMPLATES
from autograder.gradebook import read_results, scores

MESSAGE_CHARS = 300
# what the judge writes when a run stopped early (autograder/judge.py's error lines)
STOPPED = re.compile(r"ran past its|killed the kernel|printed too much output|"
                     r"could not start|could not be restarted")


@dataclasses.dataclass
class ClassReport:
    """Everything the page shows, as tables (compute first; :func:`render` only draws)."""

    lab: str
    submissions: pd.DataFrame  # student, score, max_score, seconds, ran, sandboxed
    checks: pd.DataFrame       # cell, check, hidden, students, failed, share_failed, message, ...
    cells: pd.DataFrame        # cell, points, mean_score, full_marks, not_judged, manual
    times: pd.DataFrame        # cell, kind, submissions, median_s, max_s, limit, timeout, ...
    untimed: int               # graded submissions recorded without per-cell times
    flags: pd.DataFrame        # student, code, cell, message
    unfinished: pd.DataFrame   # student, why
    ungraded: list[str]        # collected, not graded (yet)


def _short(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MESSAGE_CHARS else text[:MESSAGE_CHARS - 1] + "…"


def _stopped_early(result) -> list[str]:
    """Why a run did not reach its end: stop errors and graded cells never judged."""
    why = [_short(e) for e in result.errors if STOPPED.search(e)]
    why += [f"{c.grade_id} not judged: {_short(c.note)}" for c in result.cells
            if not c.manual and not c.checks and c.note]
    return why


def class_report(course: Course, lab: str) -> ClassReport:
    """The tables of `lab`'s report, from the gradebook's scores and the recorded results."""
    subs, checks, cells, flags, unfinished, times = [], [], [], [], [], []
    graded, untimed = set(), 0
    for row in scores(course):
        if row.lab != lab:
            continue
        recorded = read_results(course, row.student, lab)
        if recorded is None:
            continue
        graded.add(row.student)
        result = recorded.result
        subs.append({"student": row.student, "score": row.score, "max_score": row.max_score,
                     "seconds": result.seconds, "sandboxed": result.sandboxed,
                     "ran": any(c.checks for c in result.cells)})
        for cell in result.cells:
            cells.append({"cell": cell.grade_id, "points": cell.points, "score": cell.score,
                          "manual": cell.manual, "judged": bool(cell.checks)})
            for chk in cell.checks:
                checks.append({"cell": cell.grade_id, "check": chk.label, "hidden": chk.hidden,
                               "weight": chk.weight, "passed": chk.passed,
                               "message": "" if chk.passed else _short(chk.detail)})
        flags += [{"student": row.student, "code": f.code, "cell": f.cell or "",
                   "message": _short(f.message)} for f in result.flags]
        unfinished += [{"student": row.student, "why": why} for why in _stopped_early(result)]
        if result.cell_times:
            times += _timed_cells(row.student, result)
        elif any(c.checks for c in result.cells):  # it ran, before cells were timed
            untimed += 1
    submitted = course.submitted
    ungraded = sorted(p.parent.name for p in submitted.glob(f"*/{lab}") if p.is_dir()
                      and p.parent.name not in graded) if submitted.is_dir() else []
    return ClassReport(lab, pd.DataFrame(subs, columns=["student", "score", "max_score",
                                                        "seconds", "ran", "sandboxed"]),
                       _check_table(pd.DataFrame(checks)), _cell_table(pd.DataFrame(cells)),
                       _time_table(pd.DataFrame(times)), untimed,
                       pd.DataFrame(flags, columns=["student", "code", "cell", "message"]),
                       pd.DataFrame(unfinished, columns=["student", "why"]), ungraded)


def _timed_cells(student: str, result) -> list[dict]:
    """One row per run of a code cell and per test cell's checks, of one submission."""
    rows = [{"student": student, "cell": t.cell, "kind": "run", "seconds": t.seconds,
             "status": t.status, "limit": t.limit} for t in result.cell_times]
    rows += [{"student": student, "cell": c.grade_id, "kind": "checks", "seconds": c.seconds,
              "status": "ok", "limit": float("nan")} for c in result.cells if c.checks]
    return rows


def _table(df: pd.DataFrame, by, columns: list[str], row) -> pd.DataFrame:
    """One row per group of `df` by `by`, in first-seen order: ``row(key, group)``."""
    if df.empty:
        return pd.DataFrame(columns=columns)
    return pd.DataFrame([row(key, g) for key, g in df.groupby(by, sort=False)], columns=columns)


def _time_table(df: pd.DataFrame) -> pd.DataFrame:
    """One row per cell: over the submissions that ran it, the median and the longest time
    it used (a cell's runs in one submission added up), its time limit, and how many runs
    went past it, killed the kernel or flooded output. Slowest (median) first."""
    def row(key, g):
        per_student = g.groupby("student")["seconds"].sum()
        status = g["status"].value_counts()
        return {"cell": key[0], "kind": key[1], "submissions": len(per_student),
                "median_s": float(per_student.median()), "max_s": float(per_student.max()),
                "limit": float(g["limit"].max()),
                **{s: int(status.get(s, 0)) for s in ("timeout", "dead", "flood")}}
    return (_table(df, ["cell", "kind"], ["cell", "kind", "submissions", "median_s", "max_s",
                                          "limit", "timeout", "dead", "flood"], row)
            .sort_values(["median_s", "max_s"], ascending=False, kind="stable")
            .reset_index(drop=True))


def _most_common(messages: pd.Series) -> tuple[str, int]:
    counts = messages[messages != ""].value_counts()
    return (str(counts.index[0]), int(counts.iloc[0])) if len(counts) else ("", 0)


def _check_table(df: pd.DataFrame) -> pd.DataFrame:
    """One row per check: how many were judged on it, failed it, and the commonest message."""
    def row(key, g):
        failed = g[~g["passed"]]
        message, count = _most_common(failed["message"])
        return {"cell": key[0], "check": key[1], "hidden": bool(g["hidden"].any()),
                "weight": float(g["weight"].iloc[0]), "students": len(g),
                "failed": len(failed), "share_failed": len(failed) / len(g),
                "message": message, "message_count": count}
    return (_table(df, ["cell", "check"], ["cell", "check", "hidden", "weight", "students",
                                           "failed", "share_failed", "message",
                                           "message_count"], row)
            .sort_values(["share_failed", "cell"], ascending=[False, True], kind="stable")
            .reset_index(drop=True))


def _cell_table(df: pd.DataFrame) -> pd.DataFrame:
    """One row per graded cell: mean score, full marks, how many never judged."""
    def row(cell, g):
        manual = bool(g["manual"].all())
        return {"cell": cell, "points": float(g["points"].iloc[0]),
                "mean_score": float(g["score"].mean()),
                "full_marks": int((g["score"] >= g["points"]).sum()),
                "not_judged": 0 if manual else int((~g["judged"]).sum()), "manual": manual}
    return _table(df, "cell", ["cell", "points", "mean_score", "full_marks", "not_judged",
                               "manual"], row)


# ---------------------------------------------------------------------------- rendering

def _pyplot():
    import matplotlib
    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt
    return plt


def _png(fig) -> str:
    """A figure as a data: URI (the page needs no other file)."""
    plt = _pyplot()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _histogram(values: pd.Series, top: float, xlabel: str, title: str) -> str:
    fig, ax = _pyplot().subplots(figsize=(6.4, 3.0))
    ax.hist(values, bins=20, range=(0, top or 1), color="#4c72b0", edgecolor="white")
    ax.set(xlabel=xlabel, ylabel="submissions", title=title)
    return _png(fig)


def _failure_bars(checks: pd.DataFrame) -> str:
    shown = checks.head(25).iloc[::-1]
    fig, ax = _pyplot().subplots(figsize=(7.5, 0.3 * len(shown) + 1.0))
    labels = [f"{c}: {k}"[:70] + (" (hidden)" if h else "")
              for c, k, h in zip(shown["cell"], shown["check"], shown["hidden"])]
    ax.barh(labels, 100 * shown["share_failed"],
            color=["#8172b2" if h else "#c44e52" for h in shown["hidden"]])
    ax.set(xlabel="% of graded submissions failing", xlim=(0, 100))
    return _png(fig)


def _time_bars(times: pd.DataFrame) -> str:
    """The slowest cells: a bar to the class's median time, a tick at the longest."""
    shown = times.head(20).iloc[::-1]
    fig, ax = _pyplot().subplots(figsize=(7.5, 0.3 * len(shown) + 1.0))
    labels = [f"{c}{' (checks)' if k == 'checks' else ''}"[:60]
              for c, k in zip(shown["cell"], shown["kind"])]
    ax.barh(labels, shown["median_s"], color="#4c72b0", label="median")
    ax.scatter(shown["max_s"], labels, marker="|", s=200, color="#c44e52", label="longest")
    ax.set(xlabel="seconds per submission")
    ax.legend(loc="lower right")
    return _png(fig)


def template(name: str):
    """An instructor's page template of autograder/templates/, escaping every value."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    return env.get_template(name)


def render(report: ClassReport) -> str:
    """The page (autograder/templates/report.html) with its plots embedded."""
    subs = report.submissions
    top = float(subs["max_score"].max()) if len(subs) else 0.0
    plots = {}
    if len(subs):
        plots["scores"] = _histogram(subs["score"], top, "score", f"{report.lab}: scores")
        plots["time"] = _histogram(subs["seconds"], float(subs["seconds"].max()) * 1.05,
                                   "seconds per notebook", "time each notebook took")
    if len(report.checks):
        plots["checks"] = _failure_bars(report.checks)
    if len(report.times):
        plots["cell_times"] = _time_bars(report.times)
    stats = {"graded": len(subs), "mean": float(subs["score"].mean()) if len(subs) else 0.0,
             "median": float(subs["score"].median()) if len(subs) else 0.0, "max_score": top,
             "median_seconds": float(subs["seconds"].median()) if len(subs) else 0.0,
             "max_seconds": float(subs["seconds"].max()) if len(subs) else 0.0,
             "unsandboxed": int((subs["ran"] & ~subs["sandboxed"]).sum()) if len(subs) else 0}
    return template("report.html").render(
        lab=report.lab, stats=stats, plots=plots,
        submissions=subs.sort_values("score", kind="stable").to_dict("records"),
        checks=report.checks.to_dict("records"), cells=report.cells.to_dict("records"),
        times=report.times.to_dict("records"), untimed=report.untimed,
        flags=report.flags.to_dict("records"),
        unfinished=report.unfinished.to_dict("records"),
        ungraded=report.ungraded) + "\n"


def write_report(course: Course, lab: str, out: Path | None = None) -> tuple[Path, ClassReport]:
    """Compute and write the page (default: <course>/reports/<lab>.html)."""
    report = class_report(course, lab)
    path = Path(out) if out else course.root / "reports" / f"{lab}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(report), encoding="utf-8")
    return path, report


def add_parser(sub):
    p = subparser(sub, "report", __doc__,
                  "python -m autograder report --lab 01-backprop   # reports/01-backprop.html")
    p.add_argument("--lab", required=True)
    p.add_argument("--out", default=None,
                   help="where to write (default: <course>/reports/LAB.html)")
    course_argument(p)
    return p


def main(args) -> int:
    path, report = write_report(course_from(args.course), args.lab, args.out)
    hardest = report.checks.head(3)
    print(f"{len(report.submissions)} graded submissions of {args.lab}")
    for r in hardest.itertuples():
        print(f"  {100 * r.share_failed:3.0f}% fail {r.cell}: {r.check}"
              + (" (hidden)" if r.hidden else ""))
    for r in report.times.head(3).itertuples():
        print(f"  {r.median_s:5.1f} s median, {r.max_s:5.1f} s longest: {r.cell}"
              + (" (checks)" if r.kind == "checks" else "")
              + (f", {r.timeout} past its time limit" if r.timeout else ""))
    print(f"{len(report.unfinished.student.unique())} did not run to the end, "
          f"{len(report.flags)} integrity flags, {len(report.ungraded)} collected but not graded")
    print(f"wrote {path}")
    return 0
