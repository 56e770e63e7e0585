"""Take submitted notebooks into the course's submitted/<student>/<lab>/<lab>.ipynb layout.

Accepts a folder of files named by student (`alice_01-backprop.ipynb`,
`01-backprop-bob.ipynb`), a folder per student (`alice/01-backprop.ipynb`), or an LMS zip
export of either (Canvas `alice_12345_67890_01-backprop.ipynb`, Moodle
`Alice Smith_12345_assignsubmission_file_/01-backprop.ipynb`). Files that are not notebooks
are refused with a message and the rest go on. Zip members are read in memory and written
only to paths built from a checked student id and a known lab name (no zip-slip).
A `timestamp.txt` beside each notebook marks the submission's version: grading redoes a
submission only when it changed.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import re
import zipfile
from pathlib import Path, PurePosixPath

from autograder.cli import course_argument, subparser
from autograder.config import STUDENT_ID, Course, course_from
from autograder.gradebook import format_timestamp

MAX_NOTEBOOK_BYTES = 50 * 2**20
IGNORED = re.compile(r"(^|/)(__MACOSX|\.ipynb_checkpoints|\.DS_Store)(/|$)")


@dataclasses.dataclass
class Collected:
    student: str
    lab: str
    path: Path
    source: str
    status: str  # "new" | "updated" | "unchanged"
    warning: str = ""


@dataclasses.dataclass
class Refused:
    source: str
    reason: str


@dataclasses.dataclass
class CollectReport:
    collected: list[Collected]
    refused: list[Refused]


def student_id(raw: str) -> str | None:
    """A safe student id from a file or folder name, or None when nothing usable remains."""
    raw = raw.strip()
    # LMS exports append submission numbers and markers: Canvas "name_12345_67890",
    # Moodle "Full Name_12345_assignsubmission_file_".
    raw = re.sub(r"_assignsubmission_[a-z]+_?$", "", raw)
    raw = re.sub(r"(_\d+)+$", "", raw)
    raw = re.sub(r"_late$", "", raw)
    cleaned = re.sub(r"[^A-Za-z0-9._@-]+", "_", raw).strip("._-")
    return cleaned if STUDENT_ID.match(cleaned) and ".." not in cleaned else None


def identify(name: str, labs: list[str], lab: str | None) -> tuple[str | None, str | None, str]:
    """(student, lab, reason) for one member path like 'alice/01-backprop.ipynb'."""
    parts = PurePosixPath(name).parts
    stem = PurePosixPath(name).stem
    found = lab
    if found is None:
        matches = [l for l in labs if l in name]
        found = max(matches, key=len) if matches else None
    if found is None:
        return None, None, f"no lab name ({', '.join(labs) or 'none known'}) in the file name; " \
                           "use --lab"
    rest = stem.replace(found, "").strip("_- .")
    if rest:
        raw = rest
    elif len(parts) >= 2:
        raw = parts[-2]
    else:
        return None, found, "cannot tell the student from the file name"
    sid = student_id(raw)
    if sid is None:
        return None, found, f"unusable student id {raw!r}"
    return sid, found, ""


def _members(path: Path):
    """(name, read) for every file in a folder or zip, names as posix relative paths."""
    if path.is_file() and zipfile.is_zipfile(path):
        archive = zipfile.ZipFile(path)
        for info in archive.infolist():
            if info.is_dir():
                continue
            name = info.filename.replace("\\", "/")
            if name.startswith("/") or ".." in PurePosixPath(name).parts or ":" in name:
                yield name, None, "unsafe path in the zip (absolute or with ..)"
                continue
            if info.file_size > MAX_NOTEBOOK_BYTES:
                yield name, None, f"larger than {MAX_NOTEBOOK_BYTES // 2**20} MB"
                continue
            yield name, (lambda info=info: archive.read(info)), ""
    elif path.is_dir():
        for p in sorted(path.rglob("*")):
            if p.is_file():
                if p.is_symlink():
                    yield str(p.relative_to(path)), None, "symbolic link"
                elif p.stat().st_size > MAX_NOTEBOOK_BYTES:
                    yield str(p.relative_to(path)), None, \
                        f"larger than {MAX_NOTEBOOK_BYTES // 2**20} MB"
                else:
                    yield p.relative_to(path).as_posix(), p.read_bytes, ""
    elif path.is_file():
        yield path.name, path.read_bytes, ""
    else:
        raise FileNotFoundError(f"nothing to collect at {path}")


def collect(course: Course, source: Path, *, lab: str | None = None,
            labs: list[str] | None = None) -> CollectReport:
    """Copy every notebook under `source` (folder, zip or one file) into submitted/."""
    labs = labs if labs is not None else course.labs()
    report = CollectReport([], [])
    stamp = format_timestamp()
    for name, read, problem in _members(Path(source)):
        if IGNORED.search(name):
            continue
        if problem:
            report.refused.append(Refused(name, problem))
            continue
        if not name.lower().endswith(".ipynb"):
            report.refused.append(Refused(name, "not a notebook (.ipynb): left out"))
            continue
        sid, found, reason = identify(name, labs, lab)
        if sid is None:
            report.refused.append(Refused(name, reason))
            continue
        data = read()
        warning = ""
        try:
            import json
            json.loads(data.decode("utf-8"))
        except Exception:
            warning = "not valid notebook JSON: it will be graded 0 and flagged"
        dest = course.submission(sid, found)
        status = "new"
        if dest.is_file():
            if hashlib.sha256(dest.read_bytes()).digest() == hashlib.sha256(data).digest():
                report.collected.append(Collected(sid, found, dest, name, "unchanged", warning))
                continue
            status = "updated"
        if any(c.student == sid and c.lab == found for c in report.collected):
            report.refused.append(Refused(name, f"a second {found} notebook for {sid}: kept the first"))
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_suffix(".partial")
        tmp.write_bytes(data)
        tmp.replace(dest)
        (dest.parent / "timestamp.txt").write_text(stamp + "\n")
        report.collected.append(Collected(sid, found, dest, name, status, warning))
    return report


def add_parser(sub):
    p = subparser(sub, "collect", __doc__,
                  "python -m autograder collect canvas-export.zip --lab 01-backprop")
    p.add_argument("source", help="a folder, a zip export or one notebook")
    p.add_argument("--lab", default=None, help="the lab, when file names do not say it")
    course_argument(p)
    return p


def main(args) -> int:
    course = course_from(args.course)
    report = collect(course, Path(args.source), lab=args.lab)
    for c in report.collected:
        print(f"{c.status:9s} {c.student:20s} {c.lab:16s} <- {c.source}"
              + (f"  ({c.warning})" if c.warning else ""))
    for r in report.refused:
        print(f"refused   {r.source}: {r.reason}")
    print(f"{len(report.collected)} notebooks collected into {course.submitted}, "
          f"{len(report.refused)} refused")
    return 0
