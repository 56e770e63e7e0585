"""Sample submissions with known grades, built from autograder/samples/<lab>/samples.toml.

Each sample starts from the released lab (`base = "release"`: the blank notebook) or from
it with every answer cell filled in from solutions/ (`base = "solution"`), then has answer
cells replaced by grade_id (`[sample.answers]`) and broken ones mutated
(`[sample.mutations]`: invalid_json, delete_cells, duplicate_cells, rename_cells,
edit_cells). The manifest states the expected total at COURSE_SCALE=tiny, optionally per
cell, and the integrity flags expected. Format: docs/checks.md. A sample marked
`demo_only = true` is graded by `make demo` but not by the test suite's pipeline run (its
mistake is proven in process by the lab's own test, which is much faster).
"""
from __future__ import annotations

import copy
import dataclasses
import json
import tomllib
from pathlib import Path
from typing import Any

from autograder.cli import course_argument, subparser
from autograder.config import SAMPLES, Course, course_from

KINDS = ("correct", "blank", "partial", "wrong", "broken", "hostile")
MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


@dataclasses.dataclass
class Sample:
    lab: str
    name: str
    kind: str
    description: str
    base: str
    expected: float
    expected_cells: dict[str, float] = dataclasses.field(default_factory=dict)
    flags: list[str] = dataclasses.field(default_factory=list)
    answers: dict[str, str] = dataclasses.field(default_factory=dict)
    mutations: dict[str, Any] = dataclasses.field(default_factory=dict)
    demo_only: bool = False


def manifest(lab: str, samples_dir: Path = SAMPLES) -> Path:
    return samples_dir / lab / "samples.toml"


def load(lab: str, samples_dir: Path = SAMPLES) -> list[Sample]:
    """The samples of one lab; ValueError naming the problem when the manifest is malformed."""
    path = manifest(lab, samples_dir)
    if not path.is_file():
        raise FileNotFoundError(f"lab {lab} has no samples: expected {path}")
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    out = []
    for i, s in enumerate(data.get("sample", [])):
        missing = [k for k in ("name", "kind", "expected") if k not in s]
        if missing:
            raise ValueError(f"{path}: sample #{i + 1} lacks {', '.join(missing)}")
        if s["kind"] not in KINDS:
            raise ValueError(f"{path}: sample {s['name']!r} has kind {s['kind']!r}; "
                             f"expected one of {', '.join(KINDS)}")
        base = s.get("base", "solution")
        if base not in ("solution", "release"):
            raise ValueError(f"{path}: sample {s['name']!r}: base must be 'solution' or "
                             f"'release'; got {base!r}")
        out.append(Sample(lab, s["name"], s["kind"], s.get("description", ""), base,
                          float(s["expected"]),
                          {k: float(v) for k, v in s.get("expected_cells", {}).items()},
                          list(s.get("flags", [])), dict(s.get("answers", {})),
                          dict(s.get("mutations", {})), bool(s.get("demo_only", False))))
    names = [s.name for s in out]
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: sample names must be unique; got {names}")
    return out


def _text(source: Any) -> str:
    return "".join(source) if isinstance(source, list) else str(source)


def _grade_id(cell: dict) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _index(nb: dict, grade_id: str, what: str) -> int:
    for i, cell in enumerate(nb["cells"]):
        if _grade_id(cell) == grade_id:
            return i
    raise KeyError(f"{what}: no cell with grade_id {grade_id!r} in the lab")


def strip_markers(source: str) -> str:
    return "".join(line for line in source.splitlines(keepends=True)
                   if line.strip() not in MARKERS)


def build(course: Course, sample: Sample) -> bytes:
    """The submission file of `sample` (bytes: an invalid_json sample is not JSON)."""
    released = json.loads(course.release_notebook(sample.lab).read_text(encoding="utf-8"))
    nb = copy.deepcopy(released)
    if sample.base == "solution":
        source = json.loads(course.source_notebook(sample.lab).read_text(encoding="utf-8"))
        answers = {_grade_id(c): _text(c["source"]) for c in source["cells"]
                   if c.get("metadata", {}).get("nbgrader", {}).get("solution")}
        for cell in nb["cells"]:
            gid = _grade_id(cell)
            if cell.get("metadata", {}).get("nbgrader", {}).get("solution") and gid in answers:
                cell["source"] = strip_markers(answers[gid])
    for gid, text in sample.answers.items():
        nb["cells"][_index(nb, gid, f"sample {sample.name}")]["source"] = text
    m = sample.mutations
    for gid, text in m.get("edit_cells", {}).items():
        nb["cells"][_index(nb, gid, f"sample {sample.name}")]["source"] = text
    for gid in m.get("duplicate_cells", []):
        i = _index(nb, gid, f"sample {sample.name}")
        twin = copy.deepcopy(nb["cells"][i])
        if "id" in twin:
            twin["id"] = f"{twin['id']}-copy"
        nb["cells"].insert(i + 1, twin)
    for old, new in m.get("rename_cells", {}).items():
        cell = nb["cells"][_index(nb, old, f"sample {sample.name}")]
        cell["metadata"]["nbgrader"]["grade_id"] = new
    for gid in m.get("delete_cells", []):
        del nb["cells"][_index(nb, gid, f"sample {sample.name}")]
    text = json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    if m.get("invalid_json"):
        text = text[: len(text) // 2]  # a truncated upload
    return text.encode("utf-8")


def build_all(course: Course, out: Path, labs: list[str] | None = None,
              samples_dir: Path = SAMPLES, *, demo_only: bool = True) -> list[tuple[Sample, Path]]:
    """Write every sample as out/<sample name>/<lab>.ipynb (a folder per 'student');
    `demo_only=False` leaves out the samples marked demo_only."""
    made = []
    for lab in labs or course.labs():
        for sample in load(lab, samples_dir):
            if sample.demo_only and not demo_only:
                continue
            path = out / sample.name / f"{lab}.ipynb"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(build(course, sample))
            made.append((sample, path))
    return made


def add_parser(sub):
    p = subparser(sub, "samples", __doc__,
                  "python -m autograder samples --out /tmp/samples --lab 01-backprop")
    p.add_argument("--out", required=True, help="folder to write <sample>/<lab>.ipynb into")
    p.add_argument("--lab", action="append", default=None, help="only these labs")
    course_argument(p)
    return p


def main(args) -> int:
    course = course_from(args.course)
    made = build_all(course, Path(args.out), args.lab)
    for sample, path in made:
        print(f"{sample.lab:16s} {sample.kind:8s} {sample.name:28s} expect {sample.expected:g}  {path}")
    return 0
