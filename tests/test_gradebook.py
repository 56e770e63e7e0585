"""The gradebook: one writer, one timestamp codec, and `pending` that only reads."""
from __future__ import annotations

import datetime
import hashlib

import pytest

from autograder.config import REPO, Course, prepare_environment
from autograder.gradebook import (Recorded, ensure_lab, format_timestamp, graded_versions,
                                  parse_timestamp, read_results, record, scores)
from autograder.grade import pending
from autograder.results import CellResult, CheckLine, NotebookResult

LAB = "00-orientation"
UTC = datetime.timezone.utc


def test_timestamps_have_one_text_form_that_reads_back_equal():
    when = datetime.datetime(2026, 1, 31, 12, 0, 0, 123456, tzinfo=UTC)
    text = format_timestamp(when)
    assert text == "2026-01-31 12:00:00.123456 UTC"
    assert parse_timestamp(text) == when.replace(tzinfo=None)  # naive UTC, as nbgrader stores
    assert parse_timestamp(format_timestamp(when.astimezone(
        datetime.timezone(datetime.timedelta(hours=-5))))) == when.replace(tzinfo=None)
    assert parse_timestamp("2026-01-31 13:00:00+01:00") == datetime.datetime(2026, 1, 31, 12)
    assert parse_timestamp("2026-01-31 12:00:00 UTC") == datetime.datetime(2026, 1, 31, 12)


def _submit(course: Course, student: str) -> None:
    path = course.submission(student, LAB)
    path.parent.mkdir(parents=True)
    path.write_text("{}")
    (path.parent / "timestamp.txt").write_text(format_timestamp() + "\n")


def _result() -> NotebookResult:
    line = CheckLine("shape", True, "", False, 1.0)
    cells = (CellResult("orientation-one-hot-checks", 3.0, 3.0, (line,)),
             CellResult("orientation-softmax-checks", 3.0, 0.0, ()))
    return NotebookResult(LAB, cells, (), ("cell 4 raised ValueError: x",), True, 1.5)


def test_pending_reads_only_and_a_recorded_version_is_not_pending(tmp_path):
    prepare_environment()  # nbgrader runs alembic from this interpreter's bin/
    course = Course(tmp_path / "my course", REPO)
    _submit(course, "alice")
    _submit(course, "bob")
    tasks, done = pending(course)
    assert sorted(t.student for t in tasks) == ["alice", "bob"] and done == 0
    assert not course.gradebook.exists(), "pending created the gradebook"

    ensure_lab(course, LAB)
    alice = next(t for t in tasks if t.student == "alice")
    record(course, "alice", LAB, alice.timestamp, _result(), course.submission("alice", LAB))
    before = hashlib.sha256(course.gradebook.read_bytes()).hexdigest()
    tasks, done = pending(course)
    assert [t.student for t in tasks] == ["bob"] and done == 1
    assert hashlib.sha256(course.gradebook.read_bytes()).hexdigest() == before
    assert graded_versions(course)[("alice", LAB)] == parse_timestamp(alice.timestamp)
    assert [(r.student, r.score, r.max_score) for r in scores(course)] == [("alice", 3.0, 6.0)]

    recorded = read_results(course, "alice", LAB)
    assert isinstance(recorded, Recorded) and recorded.result == _result()
    assert parse_timestamp(recorded.graded_at) >= parse_timestamp(alice.timestamp)

    # collected again with new content: a new version, pending again
    (course.submission("alice", LAB).parent / "timestamp.txt").write_text(format_timestamp())
    assert sorted(t.student for t in pending(course)[0]) == ["alice", "bob"]


def test_a_result_missing_a_field_is_an_error_where_it_is_read():
    data = Recorded("a", LAB, "t", "t", _result()).to_data()
    del data["result"]["cells"][0]["checks"][0]["hidden"]
    with pytest.raises(KeyError, match="hidden"):
        Recorded.from_data(data)
