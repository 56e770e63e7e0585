"""The student edition (`python -m autograder publish`): the library, the released labs, a
README, a pyproject and the licence, nothing else; the same bytes every time; no answer in
it or in its wheel (and the scan that says so does catch one); the wheel installs without
the grader; installing the edition over Colab's stack changes none of it. All offline."""
from __future__ import annotations

import dataclasses
import io
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from autograder import cli
from autograder.config import REPO, Course
from autograder.leaks import MIN_SUBSTRING, files_under, scan, secrets
from autograder.publish import publish
from course.env import DEFAULT_REPO_URL, colab_url

COURSE = Course(REPO / ".course-work" / "test-publish", REPO)
# Colab's runtime as NOTES.md records it: name -> version.
COLAB = dict(line.split("==") for line in (Path(__file__).parent / "colab_pins.txt")
             .read_text().splitlines() if line and not line.startswith("#"))


def _git_files(*folders: str) -> set[str]:
    out = subprocess.run(["git", "ls-files", "-z", *folders], cwd=REPO, capture_output=True,
                         check=True).stdout.decode()
    return {f for f in out.split("\0") if f}


def _clean_env(**extra: str) -> dict[str, str]:
    """This environment without what would point pip or Python at the main venv or the
    machine's pip configuration."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PIP_") and k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    return {**env, "PYTHONNOUSERSITE": "1", "PIP_CONFIG_FILE": os.devnull,
            "PIP_DISABLE_PIP_VERSION_CHECK": "1", **extra}


def _build_wheel(project: Path, dist: Path) -> Path:
    """A wheel of `project` (built in a copy: setuptools writes into the tree), offline."""
    src = dist.parent / f"{project.name}-src"
    shutil.copytree(project, src, ignore=shutil.ignore_patterns(
        ".git", ".venv", ".course-work", "build", "*.egg-info", "__pycache__"))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-index",
                           "--no-build-isolation", "-q", "-w", str(dist), str(src)],
                          capture_output=True, text=True, timeout=600, env=_clean_env())
    assert done.returncode == 0, done.stdout + done.stderr
    wheels = sorted(dist.glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="session")
def edition(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("edition") / "dl-labs"
    result = publish(out, COURSE, repo_url=DEFAULT_REPO_URL)
    assert not result.leaks.hits, str(result.leaks)
    return out


@pytest.fixture(scope="session")
def student_wheel(edition, tmp_path_factory) -> Path:
    return _build_wheel(edition, tmp_path_factory.mktemp("student-wheel") / "dist")


@dataclasses.dataclass
class Venv:
    """A fresh venv that sees the lock's packages (the main venv's site-packages as a plain
    path entry: its .pth files, hence the editable course and the grader, stay out)."""

    root: Path

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    def run(self, *args: str, cwd: Path | None = None, timeout: int = 600):
        return subprocess.run([str(self.python), *args], cwd=cwd or self.root,
                              capture_output=True, text=True, timeout=timeout, env=_clean_env())


def _fresh_venv(root: Path, *path_entries: str) -> Venv:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True,
                   timeout=120)
    venv = Venv(root)
    purelib = venv.run("-c", "import sysconfig; print(sysconfig.get_path('purelib'))")
    site = Path(purelib.stdout.strip())
    (site / "outside.pth").write_text("".join(f"{p}\n" for p in path_entries))
    return venv


@pytest.fixture(scope="session")
def student_venv(student_wheel, tmp_path_factory) -> Venv:
    """The student wheel installed (--no-deps, no index) in a fresh venv over the lock.

    A check of the student-side validator is one more test on it: copy
    ``edition / "labs/00-orientation"`` to tmp_path, then
    ``student_venv.run("-m", "course.validate", "00-orientation.ipynb", cwd=that copy)``.
    """
    lock = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    venv = _fresh_venv(tmp_path_factory.mktemp("student-venv") / "venv", *sorted(lock))
    done = venv.run("-m", "pip", "install", "--no-deps", "--no-index", "-q", str(student_wheel))
    assert done.returncode == 0, done.stdout + done.stderr
    return venv


# -- what the edition holds -------------------------------------------------------------------

def test_edition_is_the_library_the_labs_a_readme_a_pyproject_and_the_licence(edition):
    files = dict(files_under(edition))
    committed = _git_files("course", "labs")
    assert set(files) == committed | {"README.md", "pyproject.toml", "LICENSE"}
    assert all(files[f] == (REPO / f).read_bytes() for f in committed)
    assert files["LICENSE"] == (REPO / "LICENSE").read_bytes()


def test_publish_gives_the_same_bytes_and_check_finds_what_is_stale(edition, tmp_path, capsys):
    again = tmp_path / "again"
    publish(again, COURSE, repo_url=DEFAULT_REPO_URL, check_release=False)
    assert dict(files_under(again)) == dict(files_under(edition))
    (again / ".git").mkdir()                       # a clone of the student repository
    (again / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    assert not publish(again, COURSE, check=True, check_release=False).stale

    (again / "course" / "env.py").write_text("# edited by hand\n")
    (again / "labs" / "00-orientation" / "00-orientation.ipynb").unlink()
    (again / "notes.txt").write_text("not part of the edition\n")
    assert cli.main(["publish", "--check", str(again)]) == 1
    out = capsys.readouterr().out
    for name in ("course/env.py", "labs/00-orientation/00-orientation.ipynb", "notes.txt"):
        assert name in out
    assert publish(again, COURSE, check_release=False).stale
    assert dict(files_under(again)) == dict(files_under(edition))
    assert not publish(again, COURSE, check=True, check_release=False).stale
    assert (again / ".git" / "HEAD").is_file() and not (again / "notes.txt").exists()


def test_publish_refuses_a_folder_that_is_not_an_edition(tmp_path):
    (tmp_path / "thesis.tex").write_text("years of work\n")
    with pytest.raises(ValueError, match="not a student edition"):
        publish(tmp_path, COURSE, check_release=False)
    with pytest.raises(ValueError, match="over the repository"):
        publish(REPO, COURSE, check_release=False)
    assert (tmp_path / "thesis.tex").is_file() and len(list(tmp_path.iterdir())) == 1


def test_publish_refuses_stale_labs_and_writes_nothing_when_the_library_holds_an_answer(
        tmp_path):
    lab = "00-orientation"
    repo = tmp_path / "repo"
    for name in ("course", f"labs/{lab}", f"solutions/{lab}"):
        shutil.copytree(REPO / name, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "LICENSE", "nbgrader_config.py"):
        shutil.copy(REPO / name, repo / name)
    course = Course(tmp_path / "c", repo)
    released = repo / "labs" / lab / f"{lab}.ipynb"
    saved = released.read_bytes()
    released.write_text(saved.decode().replace('"outputs": []', '"outputs": [{"name": '
                        '"stdout", "output_type": "stream", "text": "run by hand"}]', 1))
    with pytest.raises(ValueError, match="release first"):
        publish(tmp_path / "out", course)
    released.write_bytes(saved)
    with (repo / "course" / "viz.py").open("a") as f:    # the one-hot answer, as a helper
        f.write("\ndef _helper(y, out):\n    out[np.arange(len(y)), y] = 1.0\n")
    result = publish(tmp_path / "out", course)
    assert [(h.file, h.secret.answer) for h in result.leaks.hits] == [
        ("course/viz.py", f"{lab}/orientation-one-hot")], str(result.leaks)
    assert not (tmp_path / "out").exists()


def test_student_readme_badges_and_commands(edition):
    readme = (edition / "README.md").read_text(encoding="utf-8")
    labs = sorted(p.name for p in (REPO / "labs").iterdir() if p.is_dir())
    assert labs
    for lab in labs:
        assert f"]({colab_url(f'labs/{lab}/{lab}.ipynb', DEFAULT_REPO_URL)})" in readme, lab
    for needed in (f"git clone {DEFAULT_REPO_URL}", "python -m course.validate NN-topic.ipynb",
                   "course.validate.this_notebook()", "python -m course.data fetch",
                   "COURSE_DATA", "LICENSE"):
        assert needed in readme, needed
    for instructor_only in ("autograder", "solutions/", "make demo", "samples"):
        assert instructor_only not in readme, instructor_only


def test_instructor_readme_says_it_is_private_and_its_badges_open_the_student_edition():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    head = "\n".join(readme.splitlines()[:8]).lower()
    assert "instructor" in head and "private" in head and DEFAULT_REPO_URL.lower() in head
    assert "make demo" in readme and "make test" in readme
    badges = [line for line in readme.splitlines() if "colab.research.google.com/github" in line]
    prefix = colab_url("", DEFAULT_REPO_URL)
    assert badges and all(prefix in line for line in badges)
    assert readme.count("colab.research.google.com/github/") == readme.count(prefix)


def test_student_pyproject_packages_the_library_alone_with_loose_bounds(edition):
    student = tomllib.loads((edition / "pyproject.toml").read_text(encoding="utf-8"))
    ours = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert student["tool"]["setuptools"]["packages"]["find"]["include"] == ["course", "course.*"]
    assert student["project"]["dependencies"] == ours["project"]["dependencies"]
    assert all(">=" in d and "==" not in d for d in student["project"]["dependencies"])
    from packaging.specifiers import SpecifierSet
    assert "3.13" in SpecifierSet(student["project"]["requires-python"])   # Colab's Python


# -- no answer in it -------------------------------------------------------------------------

def test_no_answer_text_in_the_edition_or_its_wheel(edition, student_wheel):
    found = secrets(COURSE)
    kinds = Counter(s.kind for s in found)
    for kind in ("solution", "hidden test", "hidden input", "reference", "sample", "delimiter"):
        assert kinds[kind] > 0, f"no {kind} secrets found: the scan would look for nothing"
    files = [*files_under(edition), (student_wheel.name, student_wheel.read_bytes())]
    report = scan(files, found)
    print(f"\n{report}  ({dict(kinds)})")
    assert not report.hits, str(report)
    assert report.files == len(files) and report.lines > 1000


def test_the_scan_catches_answer_text_planted_anywhere(edition, student_wheel):
    """One secret of each kind, planted in a different file (re-indented, inside a comment,
    in a notebook cell, in the wheel): each is found, by file and line."""
    found = secrets(COURSE)
    pick = {kind: next(s for s in found if s.kind == kind and (
        len(s.key) >= MIN_SUBSTRING or kind in ("hidden input", "delimiter"))) for kind in
            ("solution", "hidden test", "hidden input", "reference", "sample", "delimiter")}
    files = dict(files_under(edition))
    expected = set()

    def append(name: str, line: str) -> None:
        text = files[name].decode() + line + "\n"
        files[name] = text.encode()
        expected.add((name, str(len(text.splitlines()))))

    append("course/viz.py", "        " + pick["solution"].text.strip())
    append("README.md", "Hint: " + pick["hidden test"].text.strip())
    append("LICENSE", f"x = f({pick['hidden input'].text})")
    append("pyproject.toml", "# " + pick["sample"].text.strip())
    append("course/env.py", "### " + pick["delimiter"].text)
    nb_name = "labs/00-orientation/00-orientation.ipynb"
    nb = json.loads(files[nb_name])
    nb["cells"].append({"cell_type": "code", "metadata": {}, "outputs": [],
                        "execution_count": None, "source": ["x = 1\n", pick["reference"].text]})
    files[nb_name] = json.dumps(nb).encode()
    expected.add((nb_name, f"cell {len(nb['cells']) - 1} line 2"))

    wheel = io.BytesIO()
    with zipfile.ZipFile(student_wheel) as src, zipfile.ZipFile(wheel, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "course/data.py":
                data += b"\n" + pick["solution"].text.encode() + b"\n"
                lines = len(data.decode().splitlines())
            dst.writestr(item, data)
    expected.add((f"{student_wheel.name}!course/data.py", str(lines)))
    report = scan([*files.items(), (student_wheel.name, wheel.getvalue())], found)
    assert {(h.file, h.line) for h in report.hits} == expected, str(report)
    assert all(h.file in str(h) and h.secret.kind in str(h) for h in report.hits)


# -- installing it -----------------------------------------------------------------------------

def test_student_wheel_holds_the_library_alone(student_wheel):
    names = zipfile.ZipFile(student_wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"course", next(t for t in tops if t.endswith(".dist-info"))}, tops
    assert {n for n in names if n.endswith(".py")} == {f for f in _git_files("course")
                                                       if f.endswith(".py")}
    weights = {f for f in _git_files("course") if f.startswith("course/models/weights/")}
    assert weights and weights <= set(names), "the shipped backbones are missing from the wheel"


def test_instructor_package_is_the_library_alone_too(tmp_path):
    wheel = _build_wheel(REPO, tmp_path / "dist")
    tops = {n.split("/")[0] for n in zipfile.ZipFile(wheel).namelist()}
    assert tops == {"course", next(t for t in tops if t.endswith(".dist-info"))}, tops


def test_student_wheel_installs_without_the_grader(student_venv, tmp_path):
    where = student_venv.run("-c", "import course, course.env, course.checks; "
                                   "print(course.__file__, course.env.REPO_URL)", cwd=tmp_path)
    assert where.returncode == 0, where.stderr
    path, url = where.stdout.split()
    assert Path(path).is_relative_to(student_venv.root) and url == DEFAULT_REPO_URL
    grader = student_venv.run("-c", "import autograder", cwd=tmp_path)
    assert grader.returncode != 0 and "No module named 'autograder'" in grader.stderr
    data = student_venv.run("-m", "course.data", "list", cwd=tmp_path)
    assert data.returncode == 0 and "mnist" in data.stdout, data.stderr


def test_the_grader_runs_from_any_folder(tmp_path):
    """`make setup` puts the repository on the venv's path (no package ships autograder)."""
    done = subprocess.run([sys.executable, "-m", "autograder", "publish", "--help"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "python -m autograder publish" in done.stdout, done.stderr


# -- on Colab ------------------------------------------------------------------------------------

def _colab_like(root: Path, versions: dict[str, str]) -> Venv:
    """A venv whose installed packages are Colab's (metadata only, no code), plus pip and
    setuptools to read the edition's metadata with."""
    tools = root.parent / "tools"
    tools.mkdir()
    lock = Path(sysconfig.get_path("purelib"))
    for name in ["pip", "setuptools", "pkg_resources", "_distutils_hack",
                 *(p.name for p in lock.glob("setuptools-*.dist-info"))]:
        (tools / name).symlink_to(lock / name)
    venv = _fresh_venv(root, str(tools))
    site = Path(venv.run("-c", "import sysconfig; print(sysconfig.get_path('purelib'))")
                .stdout.strip())
    for name, version in versions.items():
        info = site / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        (info / "INSTALLER").write_text("pip\n")
    return venv


@pytest.mark.parametrize("keras, installs", [(COLAB["keras"], True), ("3.12.0", False)],
                         ids=["colab", "keras-older-than-the-course-needs"])
def test_installing_the_edition_on_colab_changes_none_of_its_packages(edition, tmp_path,
                                                                      keras, installs):
    """pip, offline, resolving the edition (a local path standing in for its URL) against
    Colab's installed packages: it installs `course` alone. The second case proves the check
    can fail: where Keras is older than the course asks, pip would have to change it."""
    venv = _colab_like(tmp_path / "colab", {**COLAB, "keras": keras})
    src = tmp_path / "dl-labs"
    shutil.copytree(edition, src)
    report = tmp_path / "report.json"
    done = venv.run("-m", "pip", "install", "--dry-run", "--no-index", "--no-build-isolation",
                    "--report", str(report), "-q", str(src), cwd=tmp_path)
    if not installs:
        assert done.returncode != 0 and "satisfies the requirement keras" in done.stderr, (
            done.stderr)
        return
    assert done.returncode == 0, done.stdout + done.stderr
    changes = [(p["metadata"]["name"], p["metadata"]["version"])
               for p in json.loads(report.read_text())["install"]]
    assert changes == [("course", tomllib.loads((edition / "pyproject.toml").read_text())
                        ["project"]["version"])], changes


def test_the_student_checks_a_lab_with_the_edition_alone(edition, student_venv, tmp_path):
    """`python -m course.validate`, run where only the edition is installed (no grader, no
    solutions): the released lab 00 as handed out is not ready (failing checks, exit 1); with
    the reference answers written into its answer cells, it is (exit 0)."""
    from labkit import Lab

    lab = Lab("00-orientation")
    work = tmp_path / "00-orientation"
    shutil.copytree(edition / "labs" / "00-orientation", work)
    released = work / "00-orientation.ipynb"
    handed_out = student_venv.run("-m", "course.validate", released.name, cwd=work)
    assert handed_out.returncode == 1, handed_out.stdout + handed_out.stderr
    assert "FAIL" in handed_out.stdout and "PASSED" not in handed_out.stdout, handed_out.stdout

    nb = json.loads(released.read_text())
    answers = lab.answers_of({"base": "solution"})
    for cell in nb["cells"]:
        gid = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if gid in answers and cell["cell_type"] == "code":
            cell["source"] = answers[gid]
        elif gid in answers:
            cell["source"] = "A written answer."
    released.write_text(json.dumps(nb))
    done = student_venv.run("-m", "course.validate", released.name, cwd=work)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASSED" in done.stdout and "FAIL " not in done.stdout, done.stdout
