"""Generate the student notebooks: labs/<lab>/ from solutions/<lab>/, answers and hidden tests
stripped, through nbgrader's GenerateAssignment (so the gradebook learns each lab's cells).

The output is deterministic (sorted JSON keys, stable cell ids), so the committed labs/ can be
compared with a fresh release: `release --check` exits 1 when they differ.
"""
from __future__ import annotations

import dataclasses
import filecmp
import json
import os
import shutil
import tempfile
from pathlib import Path

from autograder.cli import course_argument, subparser
from autograder.config import Course, course_from, nbgrader_config


@dataclasses.dataclass
class Released:
    lab: str
    files: list[str]
    changed: list[str]  # files that differ from (or are missing in) labs/<lab>/


def generate(course: Course, lab: str, out: Path, db_url: str) -> Path:
    """Run nbgrader's GenerateAssignment for `lab` into out/<lab>/ recording cells in db_url."""
    from nbgrader.converters import GenerateAssignment
    from nbgrader.coursedir import CourseDirectory

    if not course.source_notebook(lab).is_file():
        raise FileNotFoundError(f"no source notebook for lab {lab!r}: expected "
                                f"{course.source_notebook(lab)}")
    config = nbgrader_config(course)
    out.mkdir(parents=True, exist_ok=True)
    config.CourseDirectory.root = str(out.parent)
    config.CourseDirectory.source_directory = str(course.source)
    config.CourseDirectory.release_directory = str(out)
    config.CourseDirectory.db_url = db_url
    config.CourseDirectory.assignment_id = lab
    config.GenerateAssignment.force = True
    config.GenerateAssignment.create_assignment = True
    coursedir = CourseDirectory(config=config)
    converter = GenerateAssignment(coursedir=coursedir, config=config)
    converter.log.setLevel("ERROR")
    cwd = os.getcwd()
    try:
        converter.start()  # it chdirs into the course root
    finally:
        os.chdir(cwd)
    dest = out / lab
    for nb_path in dest.rglob("*.ipynb"):
        normalize(nb_path)
    return dest


def normalize(path: Path) -> None:
    """Rewrite a notebook canonically: stable cell ids, no outputs, sorted keys."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    seen: set[str] = set()
    for i, cell in enumerate(nb.get("cells", [])):
        if nb.get("nbformat_minor", 0) >= 5 or "id" in cell:
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            cid = cell.get("id") or grade_id or f"cell-{i}"
            if cid in seen:
                cid = f"{cid}-{i}"
            seen.add(cid)
            cell["id"] = cid
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
    path.write_text(json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n",
                    encoding="utf-8")


def release(course: Course, labs: list[str] | None = None, *, check: bool = False,
            db_url: str | None = None) -> list[Released]:
    """Release `labs` (default: every lab in solutions/) into labs/; with check, write nothing."""
    results = []
    with tempfile.TemporaryDirectory(prefix="release-") as tmp:
        tmp = Path(tmp)
        for lab in labs or course.labs():
            fresh = generate(course, lab, tmp / "labs", db_url or f"sqlite:///{tmp}/gradebook.db")
            target = course.release / lab
            files = sorted(str(p.relative_to(fresh)) for p in fresh.rglob("*") if p.is_file())
            old = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()) \
                if target.is_dir() else []
            changed = [f for f in files if not (target / f).is_file()
                       or not filecmp.cmp(fresh / f, target / f, shallow=False)]
            changed += [f for f in old if f not in files]
            if not check and changed:
                if target.exists():
                    shutil.rmtree(target)
                shutil.copytree(fresh, target)
            results.append(Released(lab, files, changed))
    return results


def add_parser(sub):
    p = subparser(sub, "release", __doc__,
                  "python -m autograder release            # all labs\n"
                  "  python -m autograder release --check    # exit 1 if labs/ is stale")
    p.add_argument("labs", nargs="*", help="labs to release (default: all in solutions/)")
    p.add_argument("--check", action="store_true",
                   help="only compare with the committed labs/; exit 1 when they differ")
    course_argument(p)
    return p


def main(args) -> int:
    course = course_from(args.course)
    results = release(course, args.labs or None, check=args.check)
    if not results:
        print(f"no labs found in {course.source}")
        return 1
    stale = False
    for r in results:
        if not r.changed:
            print(f"{r.lab}: up to date ({len(r.files)} files)")
        else:
            stale = True
            verb = "differs from a fresh release" if args.check else "released"
            print(f"{r.lab}: {verb}: {', '.join(r.changed)}")
    return 1 if (args.check and stale) else 0
