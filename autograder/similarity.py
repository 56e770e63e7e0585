"""Answer cells compared across a class, for a human to review: a lead, never a verdict.

`python -m autograder similarity --lab LAB` reads each graded notebook's answer cells
(autograded/<student>/<lab>/<lab>.ipynb), normalizes each one (parsed to an AST: docstrings
dropped, every name the cell binds renamed by order of first use, printed back, so comments,
formatting and naming are gone), cuts it into K-token shingles and drops the shingles of
the released stub (the signature and docstring every student got). Two students' cells
whose shingle sets overlap by at least the threshold (Jaccard) are listed as a pair;
pairs join into clusters. The page similarity/<lab>.html shows each pair's two cells side
by side. Cells with fewer than MIN_SHINGLES shingles of their own (a blank answer, a
one-liner everybody writes alike) are not compared: they cannot tell copying from
convergence. Two students who both submit the published solution form a pair too.
"""
from __future__ import annotations

import ast
import dataclasses
import io
import itertools
import tokenize
from pathlib import Path

from autograder.cli import course_argument, subparser
from autograder.config import Course, course_from
from course.notebook_rules import grade_id, nbgrader_meta, read_notebook

THRESHOLD = 0.8
K = 5
MIN_SHINGLES = 12
SHOWN_PAIRS = 200


class _Canonical(ast.NodeTransformer):
    """Docstrings out; every name bound in the cell renamed `v0, v1, ...` by first use
    (names it only reads, like `np`, `ops` or `len`, are kept: they are the API)."""

    def __init__(self, bound: set[str]):
        self.bound, self.names = bound, {}

    def _new(self, name: str) -> str:
        if name not in self.bound:
            return name
        return self.names.setdefault(name, f"v{len(self.names)}")

    def _body(self, node):
        node.body = [s for s in node.body if not (isinstance(s, ast.Expr) and isinstance(
            s.value, ast.Constant) and isinstance(s.value.value, str))] or [ast.Pass()]
        return node

    def visit_Module(self, node):
        return self._body(self.generic_visit(node))

    def visit_FunctionDef(self, node):
        node.name = self._new(node.name)
        return self._body(self.generic_visit(node))

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        node.name = self._new(node.name)
        return self._body(self.generic_visit(node))

    def visit_arg(self, node):
        node.arg, node.annotation = self._new(node.arg), None
        return node

    def visit_Name(self, node):
        node.id = self._new(node.id)
        return node


def _bound_names(tree: ast.AST) -> set[str]:
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
    return bound


def normalized(code: str) -> str:
    """The cell as canonical Python (see the module docstring); SyntaxError if it is not
    Python once IPython's magics are turned into calls."""
    from IPython.core.inputtransformer2 import TransformerManager

    tree = ast.parse(TransformerManager().transform_cell(code))
    return ast.unparse(ast.fix_missing_locations(_Canonical(_bound_names(tree)).visit(tree)))


def shingles(code: str) -> frozenset[tuple[str, ...]]:
    """K-token windows of the normalized cell."""
    skip = {tokenize.NL, tokenize.COMMENT, tokenize.ENCODING, tokenize.ENDMARKER}
    tokens = [t.string or tokenize.tok_name[t.type]
              for t in tokenize.generate_tokens(io.StringIO(normalized(code)).readline)
              if t.type not in skip]
    return frozenset(tuple(tokens[i:i + K]) for i in range(max(1, len(tokens) - K + 1)))


@dataclasses.dataclass(frozen=True)
class Answer:
    student: str
    cell: str
    source: str
    own: frozenset  # its shingles less the stub's


@dataclasses.dataclass(frozen=True)
class Pair:
    cell: str
    a: Answer
    b: Answer
    score: float


@dataclasses.dataclass
class SimilarityReport:
    lab: str
    threshold: float
    pairs: list[Pair]                    # highest first
    clusters: dict[str, list[list[str]]]  # cell -> groups of students joined by pairs
    compared: dict[str, int]             # cell -> answers long enough to compare
    skipped: list[tuple[str, str, str]]  # (student, cell, why)


def answer_cells(notebook) -> dict[str, str]:
    """grade_id -> source of the notebook's code answer cells (nbgrader solution cells)."""
    return {grade_id(c): str(c.source) for c in notebook.cells
            if c.get("cell_type") == "code" and nbgrader_meta(c).get("solution") and grade_id(c)}


def jaccard(a: frozenset, b: frozenset) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def _clusters(students: list[str], pairs: list[Pair]) -> list[list[str]]:
    """Connected groups (two or more students) of one cell's pairs."""
    parent = {s: s for s in students}

    def root(s):
        while parent[s] != s:
            parent[s] = parent[parent[s]]
            s = parent[s]
        return s

    for p in pairs:
        parent[root(p.a.student)] = root(p.b.student)
    groups: dict[str, list[str]] = {}
    for s in students:
        groups.setdefault(root(s), []).append(s)
    return sorted((sorted(g) for g in groups.values() if len(g) > 1), key=lambda g: (-len(g), g))


def compare_class(course: Course, lab: str, threshold: float = THRESHOLD) -> SimilarityReport:
    """Every pair of graded notebooks of `lab` whose answer cells are alike (see module doc)."""
    released, why = read_notebook(course.release_notebook(lab))
    if released is None:
        raise ValueError(f"the released notebook of {lab} cannot be read: {why}")
    stubs = {gid: shingles(src) for gid, src in answer_cells(released).items()}
    by_cell: dict[str, list[Answer]] = {gid: [] for gid in stubs}
    skipped = []
    for path in sorted(course.autograded.glob(f"*/{lab}/{lab}.ipynb")):
        student = path.parent.parent.name
        nb, why = read_notebook(path)
        if nb is None:
            skipped.append((student, "*", f"not a notebook: {why}"))
            continue
        for gid, source in answer_cells(nb).items():
            if gid not in by_cell:
                continue
            try:
                own = shingles(source) - stubs[gid]
            except (SyntaxError, ValueError, tokenize.TokenError) as exc:
                skipped.append((student, gid, f"not Python: {type(exc).__name__}"))
                continue
            if len(own) < MIN_SHINGLES:
                continue  # blank or too short to tell
            by_cell[gid].append(Answer(student, gid, source, own))
    pairs, clusters = [], {}
    for gid, answers in by_cell.items():
        found = [Pair(gid, a, b, s) for a, b in itertools.combinations(answers, 2)
                 if (s := jaccard(a.own, b.own)) >= threshold]
        pairs += found
        clusters[gid] = _clusters([a.student for a in answers], found)
    pairs.sort(key=lambda p: (-p.score, p.cell, p.a.student, p.b.student))
    return SimilarityReport(lab, threshold, pairs, clusters,
                            {gid: len(a) for gid, a in by_cell.items()}, skipped)


def render(report: SimilarityReport) -> str:
    """The page: the caution, clusters per cell, then each pair's cells side by side."""
    from autograder.report import template

    return template("similarity.html").render(
        report=report, pairs=report.pairs[:SHOWN_PAIRS], hidden=len(report.pairs[SHOWN_PAIRS:]),
        k=K, min_shingles=MIN_SHINGLES) + "\n"


def write_similarity(course: Course, lab: str, out: Path | None = None,
                     threshold: float = THRESHOLD) -> tuple[Path, SimilarityReport]:
    """Compare and write the page (default: <course>/similarity/<lab>.html)."""
    report = compare_class(course, lab, threshold)
    path = Path(out) if out else course.root / "similarity" / f"{lab}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(report), encoding="utf-8")
    return path, report


def summary(report: SimilarityReport) -> str:
    """The clusters per cell, as text (what the command prints)."""
    lines = [f"{report.lab}: answer cells alike at >= {report.threshold:g} (Jaccard of "
             f"{K}-token shingles after normalization): a lead for a human, never a verdict"]
    for gid, n in report.compared.items():
        groups = report.clusters.get(gid, [])
        lines.append(f"  {gid}: {n} answers compared, {len(groups)} clusters"
                     + "".join(f"\n    {', '.join(g)}" for g in groups))
    lines += [f"  skipped {s}/{c}: {why}" for s, c, why in report.skipped]
    return "\n".join(lines)


def add_parser(sub):
    p = subparser(sub, "similarity", __doc__,
                  "python -m autograder similarity --lab 01-backprop  "
                  "# <course>/similarity/01-backprop.html")
    p.add_argument("--lab", required=True)
    p.add_argument("--threshold", type=float, default=THRESHOLD,
                   help=f"least Jaccard similarity listed (default {THRESHOLD})")
    p.add_argument("--out", default=None,
                   help="where to write (default: <course>/similarity/LAB.html)")
    course_argument(p)
    return p


def main(args) -> int:
    path, report = write_similarity(course_from(args.course), args.lab, args.out, args.threshold)
    print(summary(report))
    print(f"{len(report.pairs)} pairs; wrote {path}")
    return 0
