"""collect: every accepted layout lands in submitted/<student>/<lab>/<lab>.ipynb; anything
else is refused with a reason, and nothing is ever written outside the course directory."""
import io
import json
import zipfile
from pathlib import Path

import pytest

from autograder.collect import collect, student_id
from autograder.config import Course

LABS = ["00-orientation", "01-backprop"]
NB = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode()


@pytest.fixture
def course(tmp_path):
    return Course(tmp_path / "course", repo=tmp_path / "repo")


def submitted(course):
    return sorted(str(p.relative_to(course.submitted)) for p in course.submitted.rglob("*.ipynb"))


def test_files_named_by_student_and_folder_per_student(course, tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / "carol").mkdir(parents=True)
    (inbox / "alice_01-backprop.ipynb").write_bytes(NB)
    (inbox / "01-backprop-bob.ipynb").write_bytes(NB)
    (inbox / "carol" / "00-orientation.ipynb").write_bytes(NB)
    (inbox / "carol" / "notes.txt").write_text("not a notebook")
    report = collect(course, inbox, labs=LABS)
    assert submitted(course) == ["alice/01-backprop/01-backprop.ipynb",
                                 "bob/01-backprop/01-backprop.ipynb",
                                 "carol/00-orientation/00-orientation.ipynb"]
    assert [r.source for r in report.refused] == ["carol/notes.txt"]
    assert "not a notebook" in report.refused[0].reason
    assert (course.submitted / "alice" / "01-backprop" / "timestamp.txt").is_file()


def test_lms_zip_exports(course, tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("smithjane_12345_67890_01-backprop.ipynb", NB)                    # Canvas
        z.writestr("Alice Smith_4242_assignsubmission_file_/01-backprop.ipynb", NB)  # Moodle
        z.writestr("__MACOSX/._junk.ipynb", b"\0")
        z.writestr("report.pdf", b"%PDF")
    path = tmp_path / "export.zip"
    path.write_bytes(buf.getvalue())
    report = collect(course, path, labs=LABS)
    assert submitted(course) == ["Alice_Smith/01-backprop/01-backprop.ipynb",
                                 "smithjane/01-backprop/01-backprop.ipynb"]
    assert [r.source for r in report.refused] == ["report.pdf"]


def test_zip_slip_and_odd_ids_are_refused(course, tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("../../evil/01-backprop.ipynb", NB)
        z.writestr("/abs/01-backprop.ipynb", NB)
        z.writestr("..._01-backprop.ipynb", NB)
        z.writestr("ok/01-backprop.ipynb", NB)
    path = tmp_path / "x.zip"
    path.write_bytes(buf.getvalue())
    report = collect(course, path, labs=LABS)
    assert submitted(course) == ["ok/01-backprop/01-backprop.ipynb"]
    assert len(report.refused) == 3
    assert not (tmp_path / "evil").exists()
    assert all(p.resolve().is_relative_to(course.root.resolve()) for p in course.root.rglob("*"))


@pytest.mark.parametrize("raw,expected", [
    ("alice", "alice"), ("Alice Smith", "Alice_Smith"), ("jo.ng@uni.edu", "jo.ng@uni.edu"),
    ("../..", None), ("..", None), ("", None), ("   ", None), ("a/../b", "a_.._b" and None),
    ("smith_123_456", "smith"), ("x" * 200, None),
])
def test_student_ids(raw, expected):
    assert student_id(raw) == expected


def test_lab_unknown_and_lab_option(course, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "dave.ipynb").write_bytes(NB)
    report = collect(course, inbox, labs=LABS)
    assert not report.collected and "--lab" in report.refused[0].reason
    report = collect(course, inbox, labs=LABS, lab="00-orientation")
    assert submitted(course) == ["dave/00-orientation/00-orientation.ipynb"]


def test_recollect_marks_changed_versions(course, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    f = inbox / "erin_00-orientation.ipynb"
    f.write_bytes(NB)
    assert collect(course, inbox, labs=LABS).collected[0].status == "new"
    stamp = (course.submitted / "erin" / "00-orientation" / "timestamp.txt").read_text()
    assert collect(course, inbox, labs=LABS).collected[0].status == "unchanged"
    assert (course.submitted / "erin" / "00-orientation" / "timestamp.txt").read_text() == stamp
    f.write_bytes(b"{not json")
    c = collect(course, inbox, labs=LABS).collected[0]
    assert c.status == "updated" and "not valid notebook JSON" in c.warning
    assert (course.submitted / "erin" / "00-orientation" / "timestamp.txt").read_text() != stamp
