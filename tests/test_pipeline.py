"""The whole grading pipeline on every lab's samples, as an instructor runs it.

release (labs/ current) -> build samples -> collect -> grade on 2 local Dask workers
(sandboxed judge) -> gradebook -> feedback -> export, at COURSE_SCALE=tiny. Each sample is
graded once per session; the assertions share the result. Also: a grading run killed
partway resumes with nothing lost and nothing graded twice, only the client writes the
gradebook, and feedback never shows hidden test code, inputs or expected values.
"""
import csv
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from autograder.config import REPO, Course
from autograder.samples import load, manifest

pytestmark = pytest.mark.slow

LABS = [lab for lab in Course(REPO).labs() if manifest(lab).is_file()]
# The suite grades every sample but those marked demo_only (make demo grades those too).
SAMPLES = [(lab, s.name) for lab in LABS for s in load(lab) if not s.demo_only]


@pytest.fixture(scope="session")
def demo_report(tmp_path_factory):
    if not LABS:
        pytest.skip("no lab with samples yet")
    from autograder.config import prepare_environment
    from autograder.demo import run_demo

    prepare_environment()
    os.environ["COURSE_SCALE"] = "tiny"
    return run_demo(tmp_path_factory.mktemp("course"), labs=LABS, workers=2, progress=False,
                    demo_only=False)


def graded_samples(lab: str):
    return [s for s in load(lab) if not s.demo_only]


def graded(report) -> list[str]:
    """The labs the demo graded: all but those whose data cannot be had offline here
    (CIFAR-10 without ../shared/data or a cache: a user's fresh, offline clone)."""
    return [lab for lab in LABS if lab not in report.unavailable]


@pytest.mark.parametrize("lab,name", SAMPLES)
def test_sample_grades_as_its_manifest_says(demo_report, lab, name):
    if lab in demo_report.unavailable:
        pytest.skip(f"{lab} not graded: {demo_report.unavailable[lab]}")
    got = next(c for c in demo_report.checks if (c.lab, c.name) == (lab, name))
    assert got.got is not None, f"{lab}/{name} was not graded: {demo_report.failures}"
    assert got.got == pytest.approx(got.expected, abs=1e-6), \
        f"{lab}/{name}: expected {got.expected}, got {got.got}"
    assert not got.cells_wrong, f"{lab}/{name}: per-cell scores differ: {got.cells_wrong}"
    assert set(got.flags_expected) <= set(got.flags_got), \
        f"{lab}/{name}: expected flags {got.flags_expected}, got {got.flags_got}"


def test_every_recorded_result_reads_back_as_written(demo_report):
    """results.json of every sample: typed both ways, nothing renamed or lost."""
    from autograder.gradebook import Recorded

    paths = sorted(demo_report.course.autograded.glob("*/*/results.json"))
    assert len(paths) == sum(len(graded_samples(lab)) for lab in graded(demo_report))
    for path in paths:
        data = json.loads(path.read_text())
        recorded = Recorded.from_data(data)
        assert recorded.to_data() == data, path
        assert recorded.result.score == pytest.approx(data["result"]["score"])


def test_nothing_failed_to_grade(demo_report):
    assert demo_report.failures == []
    assert not demo_report.stale_labs


def test_gradebook_holds_per_cell_scores(demo_report):
    """nbgrader's own API reads back the per-cell (partial) scores the samples expect."""
    from nbgrader.api import Gradebook

    with Gradebook(demo_report.course.db_url) as gb:
        for lab in graded(demo_report):
            for s in graded_samples(lab):
                for cell, score in s.expected_cells.items():
                    grade = gb.find_grade(cell, lab, lab, s.name)
                    assert grade.score == pytest.approx(score), f"{lab}/{s.name}/{cell}"
                sub = gb.find_submission(lab, s.name)
                assert sub.score == pytest.approx(s.expected)


def test_grades_csv_matches_the_gradebook(demo_report):
    rows = list(csv.DictReader(open(demo_report.grades_csv)))
    expected = {(s.name, lab): s.expected for lab in graded(demo_report)
                for s in graded_samples(lab)}
    assert len(rows) == len(expected)
    for row in rows:  # the csv holds six significant digits (f"{score:g}")
        assert float(row["score"]) == pytest.approx(expected[(row["student"], row["lab"])],
                                                    rel=1e-5)


def _hidden_checks(lab):
    """(label, hint, hidden block text) of every hidden check in the lab's source."""
    from course.checks import declared

    nb = json.loads(Course(REPO).source_notebook(lab).read_text())
    released = {c["metadata"].get("nbgrader", {}).get("grade_id"): c for c in
                json.loads(Course(REPO).release_notebook(lab).read_text())["cells"]}
    out = []
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        block = re.search(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", src, re.S)
        if not block:
            continue
        visible = {c.label for c in declared("".join(released[gid]["source"])).checks}
        for chk in declared(src).checks:
            if chk.label not in visible:
                out.append((chk.label, chk.hint, block.group(1)))
    return out


def test_feedback_never_shows_hidden_tests(demo_report):
    pages = {p: p.read_text() for p in demo_report.feedback}
    assert len(pages) == sum(len(graded_samples(lab)) for lab in graded(demo_report))
    for lab in graded(demo_report):
        hidden = _hidden_checks(lab)
        code_lines = {line.strip() for _, _, block in hidden for line in block.splitlines()
                      if len(line.strip()) > 12 and "check(" not in line}
        for path, text in pages.items():
            if f"/{lab}/" not in str(path):
                continue
            assert "HIDDEN TESTS" not in text and "seed=" not in text
            for label, hint, _ in hidden:
                if hint and len(hint) > 10:
                    assert hint not in text, f"{path} shows a hidden hint"
                if label in text:  # hidden checks appear by label and verdict only
                    assert re.search(re.escape(label) + r" \(hidden check\)", text)
            for line in code_lines:
                assert line not in text, f"{path} shows hidden test code: {line!r}"


def test_what_a_kernel_says_after_hidden_queries_stays_with_the_instructor(demo_report):
    """Lab 00's hostile-leaks-hidden-inputs raises what the hidden checks sent it: the
    instructor's record keeps it, no feedback page shows it."""
    from autograder.gradebook import read_results

    if "00-orientation" not in graded(demo_report):
        pytest.skip("lab 00 not graded")
    recorded = read_results(demo_report.course, "hostile-leaks-hidden-inputs", "00-orientation")
    assert any("LEAKED-in-a-cell" in e for e in recorded.result.errors)
    assert "raised RuntimeError" in " ".join(recorded.result.student_errors)
    for path in demo_report.feedback:
        assert "LEAKED-" not in path.read_text(), path


def test_feedback_drops_hidden_details_marker():
    """A hidden check's detail (expected values, inputs, hint) never reaches the page, and
    what the student wrote is escaped."""
    from autograder.feedback import render
    from autograder.gradebook import Recorded
    from autograder.results import CellResult, CheckLine, NotebookResult

    marker = "HIDDEN-MARKER-7f3a"
    cell = CellResult("x-checks", 2.0, 1.0, (
        CheckLine("visible one", False, "expected 3, received <b>4</b>. Hint: VISIBLE-HINT",
                  False, 1.0),
        CheckLine("hidden one", False, f"expected {marker}, received 4. Hint: {marker}",
                  True, 1.0)))
    result = NotebookResult("00-x", (cell,), (), ("cell 3 raised <script>",), True, 1.0)
    page = render(Recorded("s", "00-x", "2026-01-01 00:00:00.000000 UTC", "now", result), 1, 2)
    assert marker not in page
    assert "VISIBLE-HINT" in page and "hidden one (hidden check)" in page
    assert "<script>" not in page and "&lt;b&gt;4&lt;/b&gt;" in page


def test_only_the_client_writes_the_gradebook(tmp_path, monkeypatch):
    import dataclasses

    from autograder import gradebook
    from autograder.grade import Task

    assert not {"db", "db_url", "gradebook", "course"} & {f.name for f in dataclasses.fields(Task)}
    monkeypatch.setenv(gradebook.ROLE_ENV, "worker")
    with pytest.raises(PermissionError):
        gradebook.open_gradebook(Course(tmp_path))
    with pytest.raises(PermissionError):
        gradebook.record(Course(tmp_path), "s", "00-x", "2024-01-01 00:00:00", None, tmp_path)


def test_killed_grading_run_resumes_without_loss_or_regrading(tmp_path):
    if not LABS:
        pytest.skip("no lab with samples yet")
    from autograder import collect, samples
    from autograder.config import prepare_environment
    from autograder.grade import grade
    from autograder.gradebook import graded_versions, read_results, scores

    prepare_environment()
    lab = LABS[0]
    course = Course(tmp_path / "course")
    cheap = [s for s in load(lab) if s.kind in ("correct", "blank", "partial", "wrong")][:4]
    for s in cheap:
        p = tmp_path / "inbox" / s.name / f"{lab}.ipynb"
        p.parent.mkdir(parents=True)
        p.write_bytes(samples.build(course, s))
    collect.collect(course, tmp_path / "inbox", labs=[lab])

    env = dict(os.environ, COURSE_SCALE="tiny")
    proc = subprocess.Popen([sys.executable, "-m", "autograder", "grade", "--course",
                             str(course.root), "--workers", "1", "--quiet"], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.time() + 600
        first = {}
        while time.time() < deadline and proc.poll() is None:
            if course.gradebook.is_file():
                try:
                    first = graded_versions(course)
                except Exception:
                    first = {}
            if first:
                break
            time.sleep(0.5)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    first = graded_versions(course)
    assert 1 <= len(first) < len(cheap), f"kill point missed: {len(first)} graded"
    stamps = {k: read_results(course, *k).graded_at for k in first}

    report = grade(course, workers=2, progress=False)
    assert report.skipped == len(first)
    again = {(o.task.student, o.task.lab) for o in report.graded}
    assert not again & set(first), "a submission recorded before the kill was graded again"
    assert len(again) + len(first) == len(cheap)
    assert {k: read_results(course, *k).graded_at for k in first} == stamps
    got = {(r.student, r.lab): r.score for r in scores(course)}
    assert got == {(s.name, lab): pytest.approx(s.expected) for s in cheap}
    assert grade(course, workers=0, progress=False).graded == []


def test_gpu_workers_get_one_device_each():
    """--gpus N: one worker per GPU, each seeing only its own device and a memory fraction
    (checked on the worker's environment, which the kernels it starts inherit)."""
    from distributed import Client

    from autograder.grade import make_cluster

    with make_cluster(0, 2) as cluster, Client(cluster) as client:
        envs = client.run(lambda: {k: __import__("os").environ.get(k) for k in (
            "CUDA_VISIBLE_DEVICES", "XLA_PYTHON_CLIENT_MEM_FRACTION",
            "TF_FORCE_GPU_ALLOW_GROWTH", "AUTOGRADER_ROLE")})
    assert sorted(e["CUDA_VISIBLE_DEVICES"] for e in envs.values()) == ["0", "1"]
    assert all(e["XLA_PYTHON_CLIENT_MEM_FRACTION"] and e["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"
               and e["AUTOGRADER_ROLE"] == "worker" for e in envs.values())
