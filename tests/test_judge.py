"""The judge decides every check outside the student's kernel: partial credit, per-check
lines, and hostile submissions that score no more than the same submission without the hack.

Each test builds a three-cell lab with nbformat (setup, an answer cell `square`, a test cell
with two visible checks and one hidden `ref=` check against a test-local reference) and
grades a submission of it in the real sandbox. The baseline wrong answer (`x + x`) passes
only the shape check: 1 of 3 points.
"""
from __future__ import annotations

import json
import types
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.judge import CellResult, Limits, NotebookResult, grade_notebook
from autograder.memory import cgroup_available

SETUP = "from course.checks import checks, check, call, run, value, randn"
RIGHT = "def square(x):\n    return x * x"
WRONG = "def square(x):\n    return x + x"     # passes the shape check only
TEST = '''# Check that square squares elementwise
checks("square-checks",
    check("square of 3", call("square", 3.0), expect=9.0),
    check("keeps the shape", call("square", randn(4, 2, seed=1)), shape=(4, 2)),
    ### BEGIN HIDDEN TESTS
    check("matches the reference", call("square", randn(3, seed=5)), ref="square"),
    ### END HIDDEN TESTS
    hidden=1,
)'''
REFERENCE = types.ModuleType("reference_square")
REFERENCE.square = lambda x: x * x
FAST = Limits(cell_timeout=10, query_timeout=10, notebook_timeout=60, memory_mb=1024,
              max_procs=64, max_output_bytes=100_000, file_size_mb=10)


def code(src: str, gid: str | None = None, kind: str = "plain", points: float = 0):
    """A code cell with nbgrader metadata: kind is plain | answer | test."""
    cell = new_code_cell(src)
    if gid:
        meta = {"grade_id": gid, "grade": kind == "test", "solution": kind == "answer",
                "locked": kind == "test", "schema_version": 3}
        if kind == "test":
            meta["points"] = points
        cell.metadata["nbgrader"] = meta
    return cell


def source_notebook(test: str = TEST, extra: list | None = None):
    return new_notebook(cells=[code(SETUP), code(RIGHT, "square", "answer"),
                               code(test, "square-checks", "test", 3), *(extra or [])])


def grade(tmp_path: Path, answer: str, *, before_test: list[str] = (), source=None,
          limits: Limits = FAST, mutate=None, **kw) -> NotebookResult:
    """Grade a submission whose answer cell is `answer`, with extra cells before the test."""
    src = source or source_notebook()
    (tmp_path / "src").mkdir(parents=True, exist_ok=True)
    nbformat.write(src, tmp_path / "src" / "lab.ipynb")
    sub = nbformat.from_dict(json.loads(json.dumps(src)))
    sub.cells[1].source = answer
    for i, extra in enumerate(before_test):
        sub.cells.insert(2 + i, code(extra))
    if mutate:
        mutate(sub)
    (tmp_path / "sub").mkdir(exist_ok=True)
    nbformat.write(sub, tmp_path / "sub" / "lab.ipynb")
    return grade_notebook(tmp_path / "src" / "lab.ipynb", tmp_path / "sub" / "lab.ipynb",
                          tmp_path / "work", lab="99-square", reference=REFERENCE,
                          limits=limits, **kw)


def lines(result: NotebookResult, gid: str = "square-checks") -> dict[str, tuple]:
    cell = next(c for c in result.cells if c.grade_id == gid)
    return {line.label: (line.passed, line.detail) for line in cell.checks}


BASELINE = 1.0  # the wrong answer without any hack


# ------------------------------------------------------------------------ judge_suite (no kernel)

def ask_from(namespace: dict, asked: list | None = None):
    """An `ask` answering from a namespace, as labkit does, recording each query asked."""
    from course.protocol import ask_namespace

    def ask(query):
        if asked is not None:
            asked.append(query)
        return ask_namespace(query, namespace)
    return ask


def test_judge_suite_scores_the_weighted_share_of_passed_checks():
    from course.checks import declared
    from autograder.judge import judge_suite

    suite = declared(TEST.replace('shape=(4, 2)),', 'shape=(4, 2), weight=3),'))
    wrong = {"square": lambda x: x + x}
    cell = judge_suite(suite, ask_from(wrong), REFERENCE, "tiny", points=3.0)
    assert [(c.label, c.passed, c.hidden) for c in cell.checks] == [
        ("square of 3", False, False), ("keeps the shape", True, False),
        ("matches the reference", False, True)]
    assert cell.grade_id == "square-checks" and cell.score == pytest.approx(3.0 * 3 / 5)
    right = judge_suite(suite, ask_from({"square": lambda x: x * x}), REFERENCE, "tiny", points=3.0)
    assert right.score == 3.0 and all(c.passed for c in right.checks) and right.note == ""


def test_judge_suite_asks_each_query_once_and_reads_failures_as_lines():
    from course.checks import call, check, declared
    from course.protocol import AnswerError
    from autograder.judge import judge_suite

    source = TEST.replace('check("keeps the shape"',
                          'check("again", call("square", 3.0), shape=(), hint="scalar in"),\n'
                          '    check("keeps the shape"')
    asked = []
    cell = judge_suite(declared(source), ask_from({}, asked), REFERENCE, "tiny", points=4.0)
    assert cell.score == 0.0
    assert len(asked) == 3                     # square(3.0) is asked once for two checks
    assert cell.checks[0].detail == "raised NameError: square is not defined: run the cell " \
                                    "that defines it first"
    assert cell.checks[1].detail.endswith(". Hint: scalar in")

    def broken(query):
        raise AnswerError("no answer within 30 s")
    cell = judge_suite(declared(TEST), broken, REFERENCE, "tiny", points=3.0)
    assert {c.detail for c in cell.checks} == {"no answer within 30 s"}


def test_judge_suite_names_a_check_the_grader_could_not_judge():
    from course.checks import declared
    from autograder.judge import judge_suite

    cell = judge_suite(declared(TEST), ask_from({"square": lambda x: x * x}), None, "tiny",
                       points=3.0)
    assert cell.score == pytest.approx(2.0)
    assert cell.checks[2].detail == "could not be judged (grader error)"
    assert "no reference function 'square'" in cell.note


# ------------------------------------------------------------------------ scoring

def test_correct_scores_full_and_wrong_partially(tmp_path):
    right = grade(tmp_path / "a", RIGHT)
    assert right.sandboxed and right.score == 3.0 and right.max_score == 3.0, right
    wrong = grade(tmp_path / "b", WRONG)
    assert wrong.score == pytest.approx(BASELINE)
    verdicts = lines(wrong)
    assert verdicts["square of 3"][0] is False and "expected [9.]" in verdicts["square of 3"][1]
    assert verdicts["keeps the shape"][0] is True      # a failure before it did not stop it
    assert verdicts["matches the reference"][0] is False
    hidden = [c.hidden for c in wrong.cells[0].checks]
    assert hidden == [False, False, True]
    # the hidden check in the lab author's words, for `full` feedback after the deadline
    import numpy as np
    first = np.random.default_rng(5).standard_normal(3)[0] ** 2   # square of randn(3, seed=5)
    ref_line = wrong.cells[0].checks[2]
    assert ref_line.asked == "call('square', randn(3, seed=5))"
    assert ref_line.wanted.startswith(f"[{first:.4f}, ") and "relative error 1e-06" in ref_line.wanted
    assert [(c.asked, c.wanted) for c in wrong.cells[0].checks[:2]] == [("", "")] * 2


def test_exception_in_student_code_is_a_fail_line_and_later_checks_run(tmp_path):
    answer = ("def square(x):\n    import numpy as np\n"
              "    if np.ndim(x) == 0:\n        raise ZeroDivisionError('boom')\n    return x * x")
    result = grade(tmp_path, answer)
    verdicts = lines(result)
    assert verdicts["square of 3"] == (False, "raised ZeroDivisionError: boom")
    assert verdicts["keeps the shape"][0] and verdicts["matches the reference"][0]
    assert result.score == pytest.approx(2.0)


def test_not_implemented_and_errors_do_not_stop_the_run(tmp_path):
    result = grade(tmp_path, "def square(x):\n    raise NotImplementedError()",
                   before_test=["1 / 0", RIGHT.replace("square", "later")])
    assert result.score == 0.0
    assert lines(result)["square of 3"][1] == "not implemented yet"
    assert any("ZeroDivisionError" in e for e in result.errors)


def test_weights_and_manual_cells(tmp_path):
    test = TEST.replace('shape=(4, 2)),', 'shape=(4, 2), weight=3),')
    manual = new_markdown_cell("Explain.")
    manual.metadata["nbgrader"] = {"grade_id": "explain", "grade": True, "solution": True,
                                   "locked": False, "points": 2, "schema_version": 3}
    result = grade(tmp_path, WRONG, source=source_notebook(test, [manual]))
    # shape (weight 3) of 5 weights passes: 3 points * 3/5
    assert result.cells[0].score == pytest.approx(1.8)
    explain = result.cells[1]
    assert explain.manual and explain.score == 0 and explain.points == 2
    assert result.max_score == 3.0


def test_deleted_test_cell_is_still_graded_and_flagged(tmp_path):
    def delete(nb):
        nb.cells = [c for c in nb.cells
                    if c.metadata.get("nbgrader", {}).get("grade_id") != "square-checks"]
    result = grade(tmp_path, RIGHT, mutate=delete)
    assert result.score == 3.0
    assert "deleted-test-cell" in {f.code for f in result.flags}


def test_edited_test_cell_is_graded_with_the_original(tmp_path):
    def edit(nb):
        nb.cells[2].source = 'checks("square-checks", check("x", call("square", 1.0), expect=2.0))'
    result = grade(tmp_path, WRONG, mutate=edit)
    assert result.score == pytest.approx(BASELINE)
    assert "edited-test-cell" in {f.code for f in result.flags}


def test_invalid_json_scores_zero_without_a_kernel(tmp_path):
    nbformat.write(source_notebook(), tmp_path / "src.ipynb")
    (tmp_path / "sub.ipynb").write_text('{"cells": [')
    result = grade_notebook(tmp_path / "src.ipynb", tmp_path / "sub.ipynb", tmp_path / "w",
                            lab="99-square", reference=REFERENCE, limits=FAST)
    assert result.score == 0 and result.max_score == 3
    assert [f.code for f in result.flags] == ["invalid-json"]


def test_cell_limits_come_from_the_source_and_an_interrupted_loop_is_survived(tmp_path):
    """The source's metadata sets a cell's limit; the submission's own metadata never does;
    setup cells (before the first answer) get Limits.setup_timeout."""
    src = source_notebook()
    src.cells.insert(2, code("import time\ntime.sleep(2.5)\nslow_done = True"))
    src.cells[2].metadata["course"] = {"timeout": 6}
    src.cells.insert(3, code("while True:\n    pass"))

    def ask_for_more(nb):           # the student's copy asks for 30 s on the loop
        nb.cells[3].metadata["course"] = {"timeout": 30}
    result = grade(tmp_path, RIGHT, source=src, mutate=ask_for_more,
                   limits=Limits(**{**FAST.__dict__, "cell_timeout": 2, "setup_timeout": 7}))
    assert result.score == 3.0                      # the kernel survived the interrupt
    limits = {t.cell: (t.status, t.limit) for t in result.cell_times}
    assert limits["cell 0"] == ("ok", 7)            # setup
    assert limits["cell 2"] == ("ok", 6)            # the 2.5 s cell had the source's 6 s
    assert limits["cell 3"] == ("timeout", 2)       # not the 30 s its own metadata asked
    assert sum("ran past its time limit" in e for e in result.errors) == 1


def test_the_memory_limit_comes_from_the_source_at_the_grading_scale(tmp_path):
    """A lab's source may ask for more memory per scale; a submission asking for it gets none."""
    greedy = "BIG = bytearray(1500 << 20)\n" + RIGHT       # 1.5 GB against FAST's 1 GB
    src = source_notebook()
    src.metadata["course"] = {"memory_mb": {"cpu": 2048}}
    assert grade(tmp_path / "cpu", greedy, source=src, scale="cpu").score == 3.0
    assert grade(tmp_path / "tiny", greedy, source=src, scale="tiny").score == 0.0

    def ask_for_memory(nb):
        nb.metadata["course"] = {"memory_mb": 8192}
    assert grade(tmp_path / "own", greedy, mutate=ask_for_memory, scale="cpu").score == 0.0


def test_each_cell_run_and_each_test_cell_judged_is_timed(tmp_path):
    """Per-cell seconds in the result, named as in the source for every student, with how
    each run ended; they survive the trip through results.json."""
    src = source_notebook()
    src.cells.insert(2, code("import time\ntime.sleep(1.5)"))
    src.cells.insert(3, code("while True:\n    pass"))

    def add_one(nb):
        nb.cells.insert(4, code("x = 1"))
    result = grade(tmp_path, RIGHT, source=src, mutate=add_one,
                   limits=Limits(**{**FAST.__dict__, "cell_timeout": 3}))
    assert result.score == 3.0
    assert [(t.cell, t.status) for t in result.cell_times] == [
        ("cell 0", "ok"), ("square", "ok"), ("cell 2", "ok"), ("cell 3", "timeout"),
        ("added cell", "ok")]
    by_cell = {t.cell: t for t in result.cell_times}
    assert by_cell["cell 2"].seconds >= 1.5                      # it slept 1.5 s
    assert by_cell["cell 3"].seconds >= 3 and by_cell["cell 3"].limit == 3
    assert result.cells[0].seconds > 0                            # three queries were asked
    assert NotebookResult.from_data(json.loads(json.dumps(result.to_data()))) == result


# ------------------------------------------------------------------------ hostile: the grade

HACK_REBIND = """
import numpy as np, course.checks as cc
cc.compare = lambda *a, **k: cc.Outcome("x", True)
cc.rel_error = lambda *a, **k: 0.0
checks = lambda *a, **k: print("[square-checks] all 3 checks passed")
np.allclose = lambda *a, **k: True
np.array_equal = lambda *a, **k: True
"""
HACK_HOOKS = """
ip = get_ipython()
ip.events.register("post_run_cell", lambda r: print("[square-checks] all 3 checks passed"))
ip.events.register("pre_run_cell", lambda info: None)
def fake(lines):
    return ["print('[square-checks] all 3 checks passed')\\n", "3.0\\n"]
ip.input_transformers_cleanup.append(fake)
"""
HACK_ECHO = """
print("[square-checks] all 3 checks passed")
from IPython.display import display
display(3.0)
3.0
"""


@pytest.mark.parametrize("hack", [HACK_REBIND, HACK_HOOKS, HACK_ECHO],
                         ids=["rebind-checks", "kernel-hooks", "echo-report"])
def test_hacks_score_no_more_than_without(tmp_path, hack):
    result = grade(tmp_path, WRONG, before_test=[hack])
    assert result.score <= BASELINE, result


def test_hooks_that_answer_every_query_only_change_their_own_answers(tmp_path):
    # A transformer that swaps every later cell (the grader's queries too) for one that
    # writes a forged "correct" answer file: the forged value is judged like any answer.
    hack = """
import numpy as np
def forge(lines):
    return ["pass\\n"]
get_ipython().input_transformers_post.append(forge)
"""
    result = grade(tmp_path, RIGHT, before_test=[hack])
    assert result.score == 0.0
    assert all("no answer" in d for _, d in lines(result).values())


def test_answer_file_tricks_are_data_or_nothing(tmp_path):
    secret = tmp_path / "gradebook.db"
    secret.write_bytes(b"GRADEBOOK")
    # a thread that plants a symlink for every query token and tries to write the inputs
    hack = f"""
import os, threading, time, glob
log = []
def plant():
    for _ in range(400):
        for f in glob.glob('/tmp/autograder/*/in/*.npz'):
            token = os.path.basename(f)[:-4]
            out = os.path.join(os.path.dirname(os.path.dirname(f)), 'out', token + '.npz')
            try:
                os.symlink({str(secret)!r}, out)
            except OSError as e:
                log.append(repr(e))
            try:
                open(f, 'wb').write(b'x')
            except OSError as e:
                log.append(repr(e))
        time.sleep(0.005)
threading.Thread(target=plant, daemon=True).start()
"""
    result = grade(tmp_path, RIGHT, before_test=[hack])
    assert result.score <= 3.0
    assert secret.read_bytes() == b"GRADEBOOK"
    details = " ".join(d for _, d in lines(result).values())
    assert "GRADEBOOK" not in details


# ------------------------------------------------------------------------ hostile: contained

PROBE_TEST = '''checks("square-checks",
    check("square of 3", call("square", 3.0), expect=9.0),
    check("probe", value("probe"), expect="contained"),
    hidden=0,
)'''


def probe(tmp_path, body: str, limits: Limits = FAST, **kw):
    """Run `body` (which sets `probe`) before the test; return (result, probe line)."""
    result = grade(tmp_path, RIGHT, before_test=[body], source=source_notebook(PROBE_TEST),
                   limits=limits, **kw)
    return result, lines(result)["probe"]


def test_no_network(tmp_path):
    result, line = probe(tmp_path, """
import socket
try:
    socket.create_connection(("1.1.1.1", 53), timeout=3)
    probe = "connected"
except OSError as e:
    probe = "contained" if e.errno in (101, 99, 113) else repr(e)
""")
    assert line == (True, ""), line
    assert result.score == 3.0


def test_cannot_read_solutions_references_other_submissions_or_write_the_gradebook(tmp_path):
    import autograder
    from autograder.heldout import data_view, default_data_dir
    repo = Path(autograder.__file__).resolve().parents[1]
    other = tmp_path / "other" / "lab.ipynb"
    other.parent.mkdir()
    other.write_text("{}")
    gradebook = tmp_path / "gradebook.db"
    gradebook.write_bytes(b"GRADEBOOK")
    targets = [repo / "solutions", repo / "autograder" / "reference", repo / "autograder",
               tmp_path / "src" / "lab.ipynb", other, gradebook,
               Path.home() / ".bashrc", repo.parent / "shared"]
    data_dir = default_data_dir()
    if data_dir is not None:  # the held-out halves (the notebook's own view is bound, read-only)
        held_out = data_view(data_dir).grader
        targets += [held_out] + sorted(held_out.glob("*"))
    result, line = probe(tmp_path, f"""
import os
seen = []
for t in {[str(t) for t in targets]!r}:
    try:
        seen.append((t, os.listdir(t) if os.path.isdir(t) else open(t, 'rb').read(20)))
    except OSError:
        pass
try:
    open({str(gradebook)!r}, 'wb').write(b'HACKED')
    seen.append('wrote the gradebook')
except OSError:
    pass
try:
    import autograder.reference.backprop
    seen.append('imported the reference')
except ImportError:
    pass
import course.checks  # the course package is there, read-only
try:
    open(os.path.join(os.path.dirname(course.checks.__file__), 'x.py'), 'w')
    seen.append('wrote course/')
except OSError:
    pass
probe = "contained" if not seen else repr(seen)[:300]
""")
    assert line == (True, ""), line
    assert gradebook.read_bytes() == b"GRADEBOOK"


def test_a_kernel_that_dies_is_restarted_with_the_cells_before_it(tmp_path):
    """os._exit (or an out-of-memory kill) in one cell: the cells before it run again on a
    fresh kernel, that cell is skipped, and the checks after it still score."""
    result = grade(tmp_path, RIGHT, before_test=["import os\nos._exit(0)"])
    assert result.score == 3.0
    assert any("killed the kernel" in e for e in result.errors)
    assert any("restarted it and ran again the 2 of 2 cells" in e for e in result.errors), \
        result.errors
    assert "suspicious-code" in {f.code for f in result.flags}


def test_a_cell_that_ignores_the_interrupt_is_killed_and_grading_goes_on(tmp_path):
    """A cell that blocks SIGINT runs past its limit: the kernel is treated as dead once it
    has been silent for INTERRUPT_GRACE seconds, restarted, and the checks after it score."""
    from autograder.kernel import INTERRUPT_GRACE
    stubborn = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"
    result = grade(tmp_path, RIGHT, before_test=[stubborn],
                   limits=Limits(**{**FAST.__dict__, "cell_timeout": 2}))
    assert result.score == 3.0
    assert any("restarted it and ran again the 2 of 2 cells" in e for e in result.errors), \
        result.errors
    loop = next(t for t in result.cell_times if t.cell == "added cell")
    assert 2 + INTERRUPT_GRACE - 1 <= loop.seconds <= 2 + INTERRUPT_GRACE + 10, loop


def test_a_kernel_killed_by_every_query_is_restarted_a_bounded_number_of_times(tmp_path):
    answer = "def square(x):\n    import os\n    os._exit(1)"
    result = grade(tmp_path, answer)
    assert result.score == 0.0
    details = {d for _, d in lines(result).values()}
    assert "the kernel died while answering" in details and details <= {
        "the kernel died while answering", "the kernel is not running (it died earlier)"}
    restarts = sum("restarted it" in e for e in result.errors)
    assert 1 <= restarts <= FAST.kernel_restarts


@pytest.mark.slow
def test_fork_bomb_is_capped_and_cleaned_up(tmp_path):
    result, line = probe(tmp_path, """
import os, time
n = 0
try:
    for _ in range(10_000):
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        n += 1
    probe = f"forked {n}"
except OSError:
    probe = "contained" if n < 64 else f"forked {n}"
""")
    assert line == (True, ""), line
    assert result.score == 3.0
    # every process it started is gone (they ran under a uid of their own, or in the pid ns)
    import subprocess
    left = subprocess.run(["pgrep", "-f", "ipykernel_launcher.*" + str(tmp_path)],
                          capture_output=True, text=True).stdout
    assert left == ""


def test_memory_hog_gets_memory_error(tmp_path):
    result, line = probe(tmp_path, """
try:
    hog = bytearray(3 << 30)
    probe = "allocated 3 GB"
except MemoryError:
    probe = "contained"
""")
    assert line == (True, ""), line


def test_big_file_is_capped(tmp_path):
    result, line = probe(tmp_path, """
try:
    with open("big.bin", "wb") as fh:
        for _ in range(50):
            fh.write(b"x" * (1 << 20))
    probe = "wrote 50 MB"
except OSError as e:
    probe = "contained" if e.errno == 27 else repr(e)
""")
    assert line == (True, ""), line


@pytest.mark.slow
def test_output_flood_is_cut(tmp_path):
    result = grade(tmp_path, RIGHT, before_test=[
        "import sys\nfor i in range(100_000):\n    print('x' * 1000)"])
    assert result.score == 3.0
    assert any("printed too much output" in e or "was dropped" in e for e in result.errors)
    assert result.seconds < 60


def test_unsandboxed_fallback_is_visible(tmp_path):
    from autograder.sandbox import SandboxWarning
    with pytest.warns(SandboxWarning):
        result = grade(tmp_path, RIGHT, sandbox=False)
    assert result.sandboxed is False and result.score == 3.0


def test_result_types_are_frozen(tmp_path):
    cell = CellResult("a", 1.0, 0.5, ())
    with pytest.raises(Exception):
        cell.score = 1.0


# ------------------------------------------------------------------------ trained models

MODEL_TEST = '''checks("model-checks",
    check("accuracy on held-out digits", trained_model("model", "mnist", limit=1000), above=0.5),
    check("the notebook sees half the test split", value("n_test"), expect=5000),
    hidden=0,
)'''
TRAIN = """
import numpy as np, keras
from course import data
(x, y), (xt, yt) = data.load("mnist", n_train=2000)
n_test = len(xt)
model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),
                          keras.layers.Dense(32, activation="relu"), keras.layers.Dense(10)])
model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
model.fit(x / 255.0, y, epochs=2, verbose=0)
"""


@pytest.mark.slow
def test_trained_model_is_measured_on_held_out_images(tmp_path, monkeypatch, shared_data):
    import os
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    os.link(shared_data / "mnist.npz", data_dir / "mnist.npz") if \
        os.stat(shared_data).st_dev == os.stat(tmp_path).st_dev else \
        __import__("shutil").copy(shared_data / "mnist.npz", data_dir / "mnist.npz")
    monkeypatch.setenv("COURSE_GRADER_CACHE", str(tmp_path / "cache"))
    src = new_notebook(cells=[code(SETUP + ", trained_model"), code(TRAIN, "train", "answer"),
                              code(MODEL_TEST, "model-checks", "test", 2)])
    src.cells[1].metadata["course"] = {"timeout": 120}
    nbformat.write(src, tmp_path / "src.ipynb")
    nbformat.write(src, tmp_path / "sub.ipynb")
    limits = Limits(**{**FAST.__dict__, "memory_mb": 4096, "max_procs": 256,
                       "notebook_timeout": 240, "query_timeout": 60})
    result = grade_notebook(tmp_path / "src.ipynb", tmp_path / "sub.ipynb", tmp_path / "w",
                            lab="99-model", reference=REFERENCE, limits=limits,
                            data_dir=data_dir, scale="tiny")
    assert lines(result, "model-checks") == {
        "accuracy on held-out digits": (True, ""),
        "the notebook sees half the test split": (True, "")}, result
    assert result.score == 2.0


def test_inputs_reach_the_kernel_as_the_notebook_would_pass_them(tmp_path):
    """Scalars travel back as Python numbers: Keras refuses kernel_size=np.int64(3)."""
    from course import protocol
    path = tmp_path / "inputs.npz"
    sent = {"k": 3, "rate": 0.5, "flag": True, "name": "same", "shape": (2, 3), "x": [[1.0]]}
    with open(path, "wb") as fh:
        protocol.dump(sent, fh)
    back = protocol.loads(path.read_bytes(), 10_000_000)
    assert back["shape"] == (2, 3) and back["name"] == "same"
    for key in ("k", "rate", "flag"):
        assert type(back[key]) is type(sent[key]) and back[key] == sent[key], key


def test_a_deleted_test_cell_is_judged_after_the_cells_that_precede_it():
    """Even when ungraded cells stand between the answer and its test cell."""
    from autograder.judge import _plan
    src = new_notebook(cells=[code(SETUP), code(RIGHT, "square", "answer"),
                              new_markdown_cell("Try it yourself:"), code("square(2.0)"),
                              code(TEST, "square-checks", "test", 3)])
    for i, cell in enumerate(src.cells):
        cell["id"] = f"cell{i}"
    sub = nbformat.from_dict(json.loads(json.dumps(src)))
    del sub.cells[4]
    order = [(kind, cell["id"]) for kind, cell in _plan(src, sub)]
    assert order == [("run", "cell0"), ("run", "cell1"), ("run", "cell3"), ("test", "cell4")]


# ------------------------------------------------------------------------ hostile: the judge's edge

LEAK = "LEAK-5c1e"
RECORDER = f"""
import numpy as np
_seen = []
def square(x):
    _seen.append(repr(np.asarray(x).tolist()))
    if len(_seen) == 4:   # the first question after the hidden check's
        raise ValueError("{LEAK} " + " ".join(_seen))
    return x * x
"""
LATER_TEST = '''checks("again-checks",
    check("square of 3, again", call("square", 3.0), expect=9.0, hint="VISIBLE-HINT"),
    check("square of 3 via run", run("y = square(3.0)", ("y",)), key="y", expect=9.0),
    hidden=0,
)'''


def test_nothing_the_kernel_says_after_a_hidden_query_reaches_the_student(tmp_path):
    """A submission that records the hidden check's input and later raises it, in a cell's
    exception and in a visible check's failure: the instructor's view keeps the text, the
    student's says which exception (a built-in's name) and no more."""
    from autograder.feedback import render
    from autograder.gradebook import Recorded

    from course.protocol import Random

    sent = repr(Random("normal", (3,), 5).make().tolist()[0])   # the hidden check's input
    raise_it = f"raise RuntimeError('{LEAK} ' + ' '.join(_seen))"
    custom = f"raise type('{LEAK}', (Exception,), {{}})()"
    src = source_notebook(extra=[code(LATER_TEST, "again-checks", "test", 2)])
    src.cells.insert(3, code("pass"))
    src.cells.insert(4, code("pass"))

    def mutate(nb):
        nb.cells[3].source, nb.cells[4].source = raise_it, custom
    result = grade(tmp_path, RECORDER, source=src, mutate=mutate)
    assert result.score == pytest.approx(3.0 + 1.0), result   # "again" raises: 1 of 2
    instructor = " ".join(result.errors) + " ".join(
        line.detail for cell in result.cells for line in cell.checks)
    assert LEAK in instructor and sent in instructor  # the instructor sees what was sent
    page = render(Recorded("s", "99-square", "2026-01-01 00:00:00.000000 UTC", "now", result),
                  result.score, result.max_score)
    assert LEAK not in page and sent not in page, page
    assert "raised RuntimeError" in page and "raised an exception" in page
    again = lines(result, "again-checks")
    assert again["square of 3, again"][0] is False
    shown = {line.label: line.shown_detail for line in result.cells[1].checks}
    assert shown["square of 3, again"].endswith("Hint: VISIBLE-HINT")
    assert LEAK not in shown["square of 3, again"]


def test_control_characters_never_reach_a_terminal_and_pages_are_escaped(tmp_path):
    from autograder.feedback import render
    from autograder.gradebook import Recorded
    from autograder.untrusted import printable

    assert printable("a\x1b]0;pwned\x07b\x1b[2Jc\tok\nnext\u202edesrever\x9b\x00") == \
        "abc\tok\nnextdesrever"
    result = grade(tmp_path, "raise ValueError('\\x1b[31mred\\x1b[0m \\x1b]0;title\\x07')")
    text = " ".join(result.errors + result.student_errors)
    assert "raised ValueError" in text and "\x1b" not in text and "\x07" not in text
    page = render(Recorded("<b>\x1b[1mst", "99-square", "t", "now", result), 0, 3)
    assert "\x1b" not in page and "<b>st" not in page and "&lt;b&gt;st" in page


def _many_queries(n: int) -> str:
    """A test cell asking `n` distinct queries (visible ones)."""
    checks = "\n".join(f'    check("square of {i}", call("square", {i}.0), expect={i * i}.0),'
                       for i in range(n))
    return f'checks("square-checks",\n{checks}\n    hidden=0,\n)'


def test_one_wall_clock_cap_covers_cells_and_queries(tmp_path):
    """Functions that sleep at every query: the first query takes its full time, the rest
    share what is left of the submission's cap, and later ones are not asked at all."""
    sleepy = "import time\ndef square(x):\n    time.sleep(60)\n    return x * x"
    limits = Limits(**{**FAST.__dict__, "query_timeout": 5, "notebook_timeout": 25,
                       "submission_timeout": 25})
    result = grade(tmp_path, sleepy, source=source_notebook(_many_queries(12)), limits=limits)
    assert result.score == 0.0
    assert result.seconds < 25 + 8, result.seconds      # 12 x 5 s = 60 s without the cap
    details = [line.detail for line in result.cells[0].checks]
    assert details[0] == "no answer within 5 s", details
    shares = [float(d.split()[3]) if d.startswith("no answer within") else 0.0
              for d in details[1:]]      # or "not asked" once nothing is left
    assert all(s < 5 for s in shares) and all("within" in d or "not asked" in d
                                              for d in details[1:]), details


def test_a_kernel_past_its_real_memory_is_killed_and_told_so(tmp_path, monkeypatch):
    """Shared anonymous memory is not counted by RLIMIT_DATA; the cgroup (or, without one,
    the PSS watchdog) counts it: the kernel is killed and the student reads why."""
    monkeypatch.setenv("COURSE_GRADER_MEMORY", "auto")    # the cgroup where there is one
    hog = """
import mmap, time
_maps = []
for _ in range(24):                       # 768 MB of MAP_SHARED memory, every page touched
    m = mmap.mmap(-1, 32 << 20)
    m.write(b"x" * (32 << 20))
    _maps.append(m)
    time.sleep(0.05)
"""
    limits = Limits(**{**FAST.__dict__, "memory_mb": 384})
    result = grade(tmp_path, RIGHT, before_test=[hog], limits=limits)
    assert any("ran out of memory (more than 384 MB)" in e for e in result.student_errors), \
        result.errors
    assert result.score == 3.0      # restarted with the cells before it, then judged


@pytest.mark.skipif(not cgroup_available(), reason="no writable memory cgroup here")
def test_the_watchdog_alone_also_catches_shared_memory(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_GRADER_MEMORY", "watchdog")
    hog = ("import mmap\n_maps = [mmap.mmap(-1, 32 << 20) for _ in range(24)]\n"
           "for m in _maps:\n    m.write(b'x' * (32 << 20))")
    limits = Limits(**{**FAST.__dict__, "memory_mb": 384})
    result = grade(tmp_path, RIGHT, before_test=[hog], limits=limits)
    assert any("ran out of memory" in e for e in result.student_errors), result.errors


def test_what_a_notebook_writes_is_capped_in_all_and_never_reaches_the_host(tmp_path):
    """Files under the per-file cap, many of them: the working folder, /tmp and /dev/shm are
    sized tmpfs, so the total fails with ENOSPC; the host's work folder gets none of it."""
    limits = Limits(**{**FAST.__dict__, "file_size_mb": 8, "disk_mb": 24, "tmp_mb": 16})
    result, line = probe(tmp_path, """
import errno, os
written = {}
for where in (".", "/tmp", "/dev/shm"):
    written[where] = 0
    try:
        for i in range(11):
            with open(os.path.join(where, f"f{i}.bin"), "wb") as fh:
                for _ in range(8):
                    fh.write(b"x" * (1 << 20))
            written[where] += 8
    except OSError as e:
        if e.errno not in (errno.ENOSPC, errno.EFBIG):
            written[where] = repr(e)
ok = written["."] <= 24 and written["/tmp"] <= 16 and written["/dev/shm"] <= 16
probe = "contained" if ok else repr(written)
""", limits=limits)
    assert line == (True, ""), line
    host = sum(p.stat().st_size for p in (tmp_path / "work").rglob("*") if p.is_file())
    assert host < 1 << 20, host


def test_the_host_folders_a_kernel_writes_answers_to_are_capped_too(tmp_path):
    hog = """
import glob, os, time
out = glob.glob("/tmp/autograder/*/out")[0]
for i in range(11):
    with open(os.path.join(out, f"junk{i}.bin"), "wb") as fh:
        fh.write(b"x" * (8 << 20))
    time.sleep(0.3)
"""
    limits = Limits(**{**FAST.__dict__, "folders_mb": 24})
    result = grade(tmp_path, RIGHT, before_test=[hog], limits=limits)
    assert any("wrote more than 24 MB where the grader reads answers" in e
               for e in result.student_errors), result.errors
    assert result.score == 3.0


def test_a_killed_runs_scratch_folders_are_removed_by_the_next(tmp_path):
    import subprocess
    import sys

    from autograder import scratch
    child = subprocess.run([sys.executable, "-c", "from autograder import scratch; "
                            "p = scratch.folder('grade'); (p / 'big').write_bytes(b'x' * 1000); "
                            "print(p)"], capture_output=True, text=True, check=True)
    left = Path(child.stdout.strip())
    assert left.is_dir()                          # its owner is gone without cleaning up
    mine = scratch.folder("grade")
    removed = scratch.remove_stale()
    assert left in removed and not left.exists() and mine.is_dir()
    mine.rmdir()


def test_a_saved_model_is_measured_in_a_bounded_process(tmp_path):
    """The grader's own evaluation of a model: archive size, time and memory bounded; each
    failure fails the check (an AnswerError) and nothing else."""
    import io
    import sys
    import zipfile

    import numpy as np

    from course.protocol import AnswerError, TrainedModel
    from autograder.answers import ModelLimits, model_accuracy

    def heldout(name):
        return np.zeros((4, 28, 28), np.uint8), np.zeros(4, np.int64)

    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("config.json", b" " * (4 << 20))
    query = TrainedModel("model", "mnist")
    with pytest.raises(AnswerError, match="unpacks to more than 1 MB"):
        model_accuracy(bomb.getvalue(), query, heldout, ModelLimits(unpacked_mb=1))
    small = io.BytesIO()
    with zipfile.ZipFile(small, "w") as zf:
        zf.writestr("config.json", b"{}")
    with pytest.raises(AnswerError, match="out of memory"):
        model_accuracy(small.getvalue(), query, heldout, ModelLimits(memory_mb=48))
    # the time limit counts from the process's "ready" (its imports are the grader's cost)
    import time
    from autograder import answers
    slow = "import sys, time\nprint('ready', flush=True)\ntime.sleep(30)\n"
    start = time.monotonic()
    with pytest.raises(AnswerError, match="took more than 0.5 s"):
        answers._measure([sys.executable, "-c", slow], ModelLimits(seconds=0.5))
    assert time.monotonic() - start < 15
