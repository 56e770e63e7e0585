"""Where things are: the repository (solutions/, labs/, samples) and a course directory
(submitted/, autograded/, feedback/, gradebook.db, grades.csv), plus nbgrader's config."""
from __future__ import annotations

import dataclasses
import logging
import os
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLES = Path(__file__).resolve().parent / "samples"
REFERENCE = Path(__file__).resolve().parent / "reference"
COURSE_ENV = "AUTOGRADER_COURSE"

# Student ids become folder names and gradebook keys: keep them boring.
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
LAB_ID = re.compile(r"^[0-9]{2}-[a-z0-9-]+$")


@dataclasses.dataclass(frozen=True)
class Course:
    """Paths of one course: `repo` holds solutions/ and labs/, `root` the grading state."""

    root: Path
    repo: Path = REPO

    @property
    def source(self) -> Path:
        return self.repo / "solutions"

    @property
    def release(self) -> Path:
        return self.repo / "labs"

    @property
    def submitted(self) -> Path:
        return self.root / "submitted"

    @property
    def autograded(self) -> Path:
        return self.root / "autograded"

    @property
    def feedback(self) -> Path:
        return self.root / "feedback"

    @property
    def work(self) -> Path:
        return self.root / ".grading"

    @property
    def gradebook(self) -> Path:
        return self.root / "gradebook.db"

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.gradebook}"

    def source_notebook(self, lab: str) -> Path:
        return self.source / lab / f"{lab}.ipynb"

    def release_notebook(self, lab: str) -> Path:
        return self.release / lab / f"{lab}.ipynb"

    def submission(self, student: str, lab: str) -> Path:
        return self.submitted / student / lab / f"{lab}.ipynb"

    def labs(self) -> list[str]:
        """Labs with a source notebook, in order."""
        if not self.source.is_dir():
            return []
        return sorted(p.name for p in self.source.iterdir()
                      if p.is_dir() and (p / f"{p.name}.ipynb").is_file())

    def reference_for(self, lab: str) -> Path | None:
        """autograder/reference/<topic>.py for lab NN-<topic>, when it exists."""
        path = REFERENCE / f"{lab.split('-', 1)[-1].replace('-', '_')}.py"
        return path if path.is_file() else None


def course_from(arg: str | os.PathLike | None) -> Course:
    """The course given by --course, else $AUTOGRADER_COURSE, else the repository root."""
    root = arg or os.environ.get(COURSE_ENV) or REPO
    return Course(Path(root).resolve())


def nbgrader_config(course: Course, **overrides):
    """nbgrader's Config: the repository's nbgrader_config.py, pointed at `course`."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config = Config()
    path = course.repo / "nbgrader_config.py"
    if path.is_file():
        config.merge(PyFileConfigLoader(path.name, str(path.parent)).load_config())
    config.CourseDirectory.root = str(course.root)
    config.CourseDirectory.db_url = course.db_url
    for key, value in overrides.items():
        section, name = key.split("__")
        setattr(getattr(config, section), name, value)
    return config


def prepare_environment() -> None:
    """nbgrader shells out to `alembic`: put this interpreter's bin/ first on PATH. Quiet logs."""
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    for name in ("traitlets", "nbgrader", "distributed", "tornado", "asyncio"):
        logging.getLogger(name).setLevel(logging.ERROR)
