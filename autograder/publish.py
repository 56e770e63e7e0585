"""Write the student edition: the repository students clone and Colab installs from.

It holds `course/` (the library), `labs/` (as `release` made them), a student README (the
labs with their Colab badges, how to open one, self-check, data), a pyproject that packages
`course` alone, and the licence: nothing else. No solutions, references, samples, tests or
grader. The same repository gives the same bytes; the Colab badges point at
course.env.REPO_URL (set COURSE_REPO_URL for a fork). Every file is first scanned for answer
text (autograder/leaks.py): one hit and nothing is written.

OUT is made, or updated in place (a clone of the student repository: its .git is kept,
every other file not in the edition is removed). labs/ must be exactly what `release` makes
(no outputs saved by hand, no stray files): publish checks, and asks to release first.
"""
from __future__ import annotations

import dataclasses
import json
import string
import tomllib
from pathlib import Path

from autograder.cli import subparser
from autograder.config import Course, course_from, prepare_environment
from autograder.leaks import Report, files_under, scan, secrets
from autograder.release import release

TEMPLATES = Path(__file__).resolve().parent / "edition"
MARK = "# The student edition's package"   # the first line of the pyproject publish writes


@dataclasses.dataclass
class Published:
    out: Path
    files: list[str]
    changed: list[str]    # written, or (with check) differing from or missing in OUT
    removed: list[str]    # in OUT but not in the edition: deleted (with check: reported)
    leaks: Report

    @property
    def stale(self) -> bool:
        return bool(self.changed or self.removed)


def _tree(root: Path, folder: str) -> dict[str, bytes]:
    """The files of repo/folder as they would be committed: no caches, checkpoints, bytecode."""
    junk = {"__pycache__", ".ipynb_checkpoints"}
    return {f"{folder}/{rel}": data for rel, data in files_under(root / folder)
            if not junk & set(rel.split("/")) and not rel.endswith((".pyc", ".pyo"))}


def _lab_title(notebook: bytes, lab: str) -> str:
    """'Orientation' from a lab whose first heading is '# Lab 00: Orientation'."""
    for cell in json.loads(notebook)["cells"]:
        text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "markdown" and text.startswith("# "):
            return text[2:].splitlines()[0].split(":", 1)[-1].strip()
    return lab


def _render(template: str, **values: str) -> bytes:
    text = string.Template((TEMPLATES / template).read_text(encoding="utf-8")).substitute(values)
    return text.encode("utf-8")


def edition(course: Course, repo_url: str | None = None) -> dict[str, bytes]:
    """Every file of the student edition: relative path -> bytes."""
    from course.env import REPO_URL, colab_url

    repo_url = (repo_url or REPO_URL).rstrip("/")
    repo = course.repo
    project = tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    files = {**_tree(repo, "course"), **_tree(repo, "labs")}
    rows = []
    for lab in sorted({p.split("/")[1] for p in files if p.startswith("labs/")}):
        nb = f"labs/{lab}/{lab}.ipynb"
        title = _lab_title(files[nb], lab) if nb in files else lab
        badge = ("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
                 f"({colab_url(nb, repo_url)})")
        rows.append(f"| [{lab}](labs/{lab}/) | {title} | {badge} |")
    licence = (repo / "LICENSE").read_bytes()
    files["LICENSE"] = licence
    files["README.md"] = _render("README.md.tmpl", repo_url=repo_url, labs_table="\n".join(rows),
                                 license_name=licence.decode().splitlines()[0].strip())
    files["pyproject.toml"] = _render(
        "pyproject.toml.tmpl", repo_url=repo_url, name=project["name"],
        version=project["version"], license=project["license"],
        requires_python=project["requires-python"],
        dependencies="\n".join(f"    {json.dumps(d)}," for d in project["dependencies"]))
    return dict(sorted(files.items()))


def _is_edition(out: Path) -> bool:
    """May publish write into `out`: missing, empty (a .git aside), or an edition already."""
    if not out.exists():
        return True
    if not out.is_dir():
        return False
    if not [p for p in out.iterdir() if p.name != ".git"]:
        return True
    pyproject = out / "pyproject.toml"
    return pyproject.is_file() and pyproject.read_text(encoding="utf-8").startswith(MARK)


def publish(out: Path, course: Course | None = None, *, check: bool = False,
            repo_url: str | None = None, check_release: bool = True) -> Published:
    """Write (or with check, only compare) the student edition in `out`.

    Refuses (ValueError) a folder holding anything but a student edition, and labs/ when it
    is not what `release` makes (`check_release=False` skips that slow check); writes
    nothing when the scan finds answer text in the edition (`Published.leaks.hits`).
    """
    course = course or course_from(None)
    out = Path(out).resolve()
    repo = course.repo.resolve()
    if out == repo or repo.is_relative_to(out):
        raise ValueError(f"the student edition cannot be written over the repository: {out}")
    if not _is_edition(out):
        raise ValueError(f"{out} holds files that are not a student edition: publish writes "
                         "only into a new or empty folder, or over an edition it wrote")
    if check_release:
        prepare_environment()
        stale = {r.lab: r.changed for r in release(course, check=True) if r.changed}
        if stale:
            raise ValueError(f"labs/ is not what release makes ({stale}): run "
                             "python -m autograder release first")
    files = edition(course, repo_url)
    report = scan(files.items(), secrets(course))
    existing = dict(files_under(out)) if out.is_dir() else {}
    changed = [f for f, data in files.items() if existing.get(f) != data]
    removed = sorted(set(existing) - set(files))
    result = Published(out, list(files), changed, removed, report)
    if check or report.hits:
        return result
    for rel in changed:
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(files[rel])
    for rel in removed:
        (out / rel).unlink()
    for folder in sorted((p for p in out.rglob("*") if p.is_dir() and ".git" not in
                          p.relative_to(out).parts), key=lambda p: -len(p.parts)):
        if not any(folder.iterdir()):
            folder.rmdir()
    return result


def add_parser(sub):
    p = subparser(sub, "publish", __doc__,
                  "python -m autograder publish ../dl-labs           # write the student edition\n"
                  "  python -m autograder publish --check ../dl-labs   # exit 1 if it is stale")
    p.add_argument("out", metavar="OUT", help="the student edition's folder (a clone of its "
                                              "repository, or a new folder)")
    p.add_argument("--check", action="store_true",
                   help="only compare OUT with a fresh edition; exit 1 when it differs")
    return p


def main(args) -> int:
    try:
        result = publish(Path(args.out), check=args.check)
    except ValueError as exc:
        print(f"publish: {exc}")
        return 1
    if result.leaks.hits:
        print(f"publish: answer text in the student edition, nothing written.\n{result.leaks}")
        return 1
    print(result.leaks)
    if not result.stale:
        print(f"{result.out}: up to date ({len(result.files)} files)")
        return 0
    verb = ("differs from a fresh edition" if args.check else "written")
    for rel in result.changed:
        print(f"  {verb}: {rel}")
    for rel in result.removed:
        print(f"  {'not in the edition' if args.check else 'removed'}: {rel}")
    print(f"{result.out}: {len(result.changed)} files {verb}, {len(result.removed)} "
          f"{'extra' if args.check else 'removed'} ({len(result.files)} in the edition)")
    return 1 if args.check else 0
