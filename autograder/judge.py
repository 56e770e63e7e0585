"""The judge: grade one submission, deciding every check outside the student's process.

How grading works
-----------------
1. **Integrity** (autograder/integrity.py): the submission is compared with the source
   notebook; findings become flags (deleted, duplicated, renamed or edited cells, changed
   points, forbidden imports, suspicious code). A file that is not a notebook scores 0.
2. **Execution**: the submission is copied into its own work folder and run top to bottom
   in a kernel inside the sandbox (autograder/sandbox.py: no network, read-only minimal
   root, no solutions/ or autograder/, memory, process, file-size and CPU limits), with
   ``COURSE_SCALE`` set and ``COURSE_DATA`` pointing at a view of the data whose test
   splits are cut in half (autograder/heldout.py). Each cell has a time limit
   (``Limits.cell_timeout``; a cell may ask for more with ``metadata.course.timeout``, capped
   by what is left of ``Limits.notebook_timeout``); errors do not stop the run.
3. **Checks**: where the *source* has a test cell, the student's copy is not run. The grader
   reads the suite from the instructor's cell (``course.checks.declared``) and, for every
   check, visible and hidden, sends the kernel a query: inputs as an ``.npz`` in a folder the
   kernel can only read; the answer comes back as an ``.npz`` read with
   ``allow_pickle=False`` (size-capped, no symlinks), or a ``.keras`` file loaded with
   ``safe_mode=True`` for ``trained_model``. A test cell missing from the submission is
   queried where the source has it (and flagged).
4. **Judging**, in this process, which never runs student code: expected values come from
   ``autograder/reference/<topic>.py`` (``01-backprop`` -> ``backprop``), literals, or bounds
   at the grading scale; ``course.checks.compare`` decides each check; a trained model's
   accuracy is measured here on the held-out half. A cell scores
   ``points * (weights passed) / (weights)``. Nothing the kernel prints or displays counts.

``CheckLine.detail`` of a hidden check can state the expected value: it is for the
instructor; feedback must show hidden checks by label and verdict only.

A query that times out fails its checks; a kernel that dies (``os._exit``, out of memory)
is restarted once per notebook for the remaining queries, which then fail with "not defined"
unless the state they need is rebuilt: the notebook is not re-run (that could take as long
as the first run). Manually graded cells score 0 with ``manual=True`` for the instructor.

    result = grade_notebook(Path("solutions/01-backprop/01-backprop.ipynb"),
                            Path("submitted/alice/01-backprop/01-backprop.ipynb"),
                            Path("/tmp/grade/alice"), lab="01-backprop")
    result.score, result.max_score, result.flags
"""
from __future__ import annotations

import dataclasses
import importlib
import io
import json
import os
import secrets
import shutil
import stat
import sys
import tempfile
import time
import types
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from course import checks as C
from autograder import integrity
from autograder.integrity import Flag  # re-exported: part of this module's API

__all__ = ["CheckLine", "CellResult", "Flag", "NotebookResult", "Limits", "grade_notebook",
           "reference_module"]


# ---------------------------------------------------------------------------- results

@dataclasses.dataclass(frozen=True)
class CheckLine:
    """The verdict on one check, as feedback shows it (hidden ones: label and verdict)."""

    label: str
    passed: bool
    detail: str
    hidden: bool
    weight: float


@dataclasses.dataclass(frozen=True)
class CellResult:
    """One graded cell: its points, its score and the check lines that decided it."""

    grade_id: str
    points: float
    score: float
    checks: tuple[CheckLine, ...]
    note: str = ""
    manual: bool = False  # graded by the instructor (score left at 0 here)


@dataclasses.dataclass(frozen=True)
class NotebookResult:
    lab: str
    cells: tuple[CellResult, ...]
    flags: tuple[Flag, ...]
    errors: tuple[str, ...]
    sandboxed: bool
    seconds: float

    @property
    def score(self) -> float:
        return float(sum(c.score for c in self.cells if not c.manual))

    @property
    def max_score(self) -> float:
        return float(sum(c.points for c in self.cells if not c.manual))


@dataclasses.dataclass(frozen=True)
class Limits:
    cell_timeout: float = 60
    query_timeout: float = 30
    notebook_timeout: float = 900
    memory_mb: int = 4096
    max_procs: int = 256
    max_output_bytes: int = 1_000_000
    file_size_mb: int = 200
    max_answer_mb: int = 64       # an answer .npz (uncompressed) or a saved .keras model x4
    kernel_restarts: int = 1      # per notebook, after the kernel died


# ---------------------------------------------------------------------------- the codec
# One definition serves both sides: the grader encodes inputs and decodes answers with it;
# the harness sends the same text to the kernel to decode inputs and encode its answer.
CODEC = r'''
def _cg_enc(value, arrays, depth=0):
    import numpy as _np
    if depth > 32 or len(arrays) > 100000:
        raise ValueError("answer too deeply nested or too large")
    if value is None:
        return {"n": 0}
    if isinstance(value, str):
        return {"str": value}
    if isinstance(value, (tuple, list)):
        tag = "t" if isinstance(value, tuple) else "l"
        return {tag: [_cg_enc(v, arrays, depth + 1) for v in value]}
    if isinstance(value, dict):
        return {"d": [[str(k), _cg_enc(v, arrays, depth + 1)] for k, v in value.items()]}
    scalar = isinstance(value, (bool, int, float, complex, _np.generic))
    if not isinstance(value, _np.ndarray) and not scalar:
        if hasattr(value, "detach"):
            value = value.detach().cpu().numpy()
        value = _np.asarray(value)
    arr = _np.asarray(value)
    if arr.dtype.kind not in "biufcUS":
        raise TypeError("cannot send a " + type(value).__name__ + " (dtype " + str(arr.dtype) + ")")
    key = "a%d" % len(arrays)
    arrays[key] = arr
    return {"a": key, "s": int(scalar)}

def _cg_dec(tree, arrays, depth=0):
    if depth > 32 or not isinstance(tree, dict) or len(tree) > 2:
        raise ValueError("malformed answer")
    if "n" in tree:
        return None
    if "str" in tree:
        return str(tree["str"])
    if "t" in tree:
        return tuple(_cg_dec(v, arrays, depth + 1) for v in tree["t"])
    if "l" in tree:
        return [_cg_dec(v, arrays, depth + 1) for v in tree["l"]]
    if "d" in tree:
        return {str(k): _cg_dec(v, arrays, depth + 1) for k, v in tree["d"]}
    arr = arrays[str(tree["a"])]
    # A scalar comes back as a Python number: code that insists on int (Keras layer
    # arguments, range) must see the same input in the kernel as in the notebook.
    return arr.item() if tree.get("s") and arr.ndim == 0 else arr
'''

# Runs in the student's kernel for each query: read inputs, ask, write the answer. Whatever
# the kernel does to it can only change its own answer, which is judged here.
HARNESS = CODEC + r'''
def _cg_query(token, inp, out):
    import json as _json, numpy as _np
    with _np.load(inp + "/" + token + ".npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    q = _cg_dec(_json.loads(str(arrays.pop("__tree__"))), arrays)
    ns = globals()
    try:
        kind = q["kind"]
        if kind == "call":
            if q["fn"] not in ns:
                raise NameError(q["fn"] + " is not defined: run the cell that defines it first")
            answer = ns[q["fn"]](*q["args"], **q["kwargs"])
        elif kind == "run":
            scope = dict(ns)
            scope.update(q["inputs"])
            exec(q["code"], scope)
            answer = {k: eval(e, scope) for k, e in q["outputs"].items()}
        elif kind == "value":
            if q["name"] not in ns:
                raise NameError(q["name"] + " is not defined: run the cell that defines it first")
            answer = ns[q["name"]]
        elif kind == "model":
            if q["name"] not in ns:
                raise NameError(q["name"] + " is not defined: run the training cell first")
            ns[q["name"]].save(out + "/" + token + ".keras")
            return
        arrays = {}
        tree = _cg_enc(answer, arrays)
        arrays["__tree__"] = _np.asarray(_json.dumps(tree))
        _np.savez(out + "/" + token + ".part.npz", **arrays)
        import os as _os
        _os.replace(out + "/" + token + ".part.npz", out + "/" + token + ".npz")
    except BaseException as exc:
        with open(out + "/" + token + ".err", "w") as fh:
            fh.write(_json.dumps([type(exc).__name__, str(exc)[:300]]))
'''

_codec: dict[str, Any] = {}
exec(CODEC, _codec)


class AnswerError(Exception):
    """The kernel gave no usable answer; the message is the check's FAIL detail."""


def _encode_file(path: Path, value: Any) -> None:
    arrays: dict[str, np.ndarray] = {}
    tree = _codec["_cg_enc"](value, arrays)
    arrays["__tree__"] = np.asarray(json.dumps(tree))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as fh:
        np.savez(fh, **arrays)


def _read_private(path: Path, cap: int) -> bytes | None:
    """The bytes of a regular file the kernel wrote, never following a link; None if absent."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AnswerError(f"the answer file could not be opened ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise AnswerError("the answer is not a regular file")
        if st.st_size > cap:
            raise AnswerError(f"the answer is too large ({st.st_size >> 20} MB)")
        return fh.read(cap + 1)[:cap]


def _decode_answer(raw: bytes, cap: int) -> Any:
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            if sum(i.file_size for i in zf.infolist()) > cap:
                raise AnswerError("the answer is too large once uncompressed")
        with np.load(io.BytesIO(raw), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        tree = json.loads(str(arrays.pop("__tree__")))
        return _codec["_cg_dec"](tree, arrays)
    except AnswerError:
        raise
    except Exception as exc:
        raise AnswerError(f"the answer could not be read as data ({type(exc).__name__})") from None


# ---------------------------------------------------------------------------- helpers

def reference_module(lab: str):
    """autograder.reference.<topic> for a lab named "NN-topic" (None when there is none)."""
    topic = lab.split("-", 1)[1] if "-" in lab and lab.split("-", 1)[0].isdigit() else lab
    name = "autograder.reference." + topic.replace("-", "_")
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name in (name, "autograder.reference"):
            return None
        raise


def _query_payload(query) -> dict:
    """The query as the harness reads it, with its inputs materialized."""
    m = C.materialize
    if isinstance(query, C.Call):
        return {"kind": "call", "fn": query.fn, "args": tuple(m(a) for a in query.args),
                "kwargs": {k: m(v) for k, v in query.kwargs.items()}}
    if isinstance(query, C.Run):
        return {"kind": "run", "code": query.code, "outputs": dict(query.outputs),
                "inputs": {k: m(v) for k, v in query.inputs.items()}}
    if isinstance(query, C.Value):
        return {"kind": "value", "name": query.name}
    if isinstance(query, C.TrainedModel):
        return {"kind": "model", "name": query.name}
    raise TypeError(f"unknown query {query!r}")


def _expected(chk, reference) -> Any:
    """What the reference says for a `ref=` check (inputs materialized afresh)."""
    if reference is None or not hasattr(reference, chk.ref):
        raise LookupError(f"no reference function {chk.ref!r}")
    fn = getattr(reference, chk.ref)
    q, m = chk.query, C.materialize
    if isinstance(q, C.Call):
        return fn(*[m(a) for a in q.args], **{k: m(v) for k, v in q.kwargs.items()})
    if isinstance(q, C.Run):
        return fn(**{k: m(v) for k, v in q.inputs.items()})
    return fn()


def _cell_timeout(cell, limits: Limits) -> float:
    try:
        return float(cell.get("metadata", {}).get("course", {}).get("timeout", limits.cell_timeout))
    except (TypeError, ValueError, AttributeError):
        return limits.cell_timeout


# ---------------------------------------------------------------------------- the judge

class _Judge:
    def __init__(self, source_nb, lab, scale, limits, reference, workdir, data_dir):
        self.source_nb, self.lab, self.scale, self.limits = source_nb, lab, scale, limits
        self.reference = reference
        self.workdir = Path(workdir)
        self.data_dir = data_dir
        self.errors: list[str] = []
        self.results: dict[str, CellResult] = {}
        self.kernel = None
        self.view = None
        self.exchange = None

    # -- kernel ------------------------------------------------------------------------
    def start(self, sandbox: bool | None):
        from autograder.heldout import data_view, default_data_dir
        from autograder.kernel import SandboxedKernel
        from autograder.sandbox import Sandbox, probe
        env = {"COURSE_SCALE": self.scale}
        data_dirs, binds = [], []
        data_dir = self.data_dir or default_data_dir()
        usable = probe()[0] if sandbox is None else sandbox
        if data_dir is not None and Path(data_dir).is_dir():
            try:
                self.view = data_view(Path(data_dir))
                env["COURSE_DATA"] = self.view.env_dirs(sandboxed=usable)
                data_dirs = [self.view.view, self.view.others]
                binds = self.view.binds()
            except Exception as exc:
                self.errors.append(f"no held-out data view: {type(exc).__name__}: {exc}")
        self.exchange = Path(tempfile.mkdtemp(prefix="cg"))
        box = Sandbox.create(self.workdir, self.exchange, self.limits, data_dirs=data_dirs,
                             file_binds=binds, env=env, sandbox=sandbox)
        self.kernel = SandboxedKernel(box, max_output_bytes=self.limits.max_output_bytes)
        self.kernel.start()
        return box.sandboxed

    def stop(self):
        if self.kernel is not None:
            self.kernel.stop()
        if self.exchange is not None:
            shutil.rmtree(self.exchange, ignore_errors=True)

    def ensure_alive(self) -> bool:
        if self.kernel.alive():
            return True
        if self.kernel.restarts >= self.limits.kernel_restarts:
            return False
        self.errors.append("the kernel died; restarted it for the remaining checks "
                           "(without re-running the notebook)")
        try:
            self.kernel.restart()
            return True
        except Exception as exc:
            self.errors.append(f"the kernel could not be restarted: {exc}")
            return False

    # -- cells -------------------------------------------------------------------------
    def run_cell(self, cell, deadline: float) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        if not self.ensure_alive():
            return
        res = self.kernel.execute(cell.source, timeout=min(_cell_timeout(cell, self.limits), left))
        where = integrity.grade_id(cell) or f"cell {cell.get('_index', '?')}"
        if res.status in ("timeout", "flood", "dead"):
            what = {"timeout": "ran past its time limit", "flood": "printed too much output",
                    "dead": "killed the kernel"}[res.status]
            self.errors.append(f"{where} {what}" + (f" ({res.error})" if res.error else ""))
        elif res.status == "error" and not res.error.startswith("NotImplementedError") \
                and sum(e.startswith("cell") or " raised " in e for e in self.errors) < 20:
            self.errors.append(f"{where} raised {res.error}")
        if res.truncated:
            self.errors.append(f"{where}: output beyond {self.limits.max_output_bytes} bytes "
                               "was dropped")

    def ask(self, query) -> Any:
        """The kernel's answer to one query, as data; AnswerError when there is none."""
        if not self.ensure_alive():
            raise AnswerError("the kernel is not running (it died earlier)")
        box = self.kernel.box
        token = secrets.token_hex(8)
        _encode_file(box.inputs / f"{token}.npz", _query_payload(query))
        code = HARNESS + (f"\n_cg_query({token!r}, {str(box.inputs)!r}, {str(box.outputs)!r})"
                          "\ndel _cg_query, _cg_enc, _cg_dec\n")
        res = self.kernel.execute(code, timeout=self.limits.query_timeout, silent=True,
                                  record=False)
        try:
            if res.status == "timeout":
                raise AnswerError(f"no answer within {self.limits.query_timeout:g} s")
            if res.status == "dead" or self.kernel.dead:
                raise AnswerError("the kernel died while answering")
            cap = self.limits.max_answer_mb << 20
            err = _read_private(box.outputs / f"{token}.err", 4000)
            if err is not None:
                try:
                    name, msg = json.loads(err.decode())
                except Exception:
                    name, msg = "Error", "(unreadable)"
                if name == "NotImplementedError":
                    raise AnswerError("not implemented yet")
                raise AnswerError(f"raised {name}: {msg}")
            if isinstance(query, C.TrainedModel):
                raw = _read_private(box.outputs / f"{token}.keras", 4 * cap)
                if raw is None:
                    raise AnswerError("the model was not saved")
                return self.accuracy(query, raw)
            raw = _read_private(box.outputs / f"{token}.npz", cap)
            if raw is None:
                raise AnswerError("no answer" + (f" ({res.error})" if res.error else ""))
            return _decode_answer(raw, cap)
        finally:
            for p in list(box.inputs.glob(f"{token}*")) + list(box.outputs.glob(f"{token}*")):
                try:
                    p.unlink()
                except OSError:
                    pass

    def accuracy(self, query, raw: bytes) -> float:
        """Accuracy of a saved model on the images the notebook never loaded."""
        import keras
        held = self.view.heldout(query.data) if self.view is not None else None
        if held is None:
            from course import data
            _, held = data.load(query.data, print_fn=lambda *a: None)
            self.errors.append(f"{query.data}: no held-out split, measured on the public test "
                               "split")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.keras"
            path.write_bytes(raw)
            try:
                model = keras.saving.load_model(path, safe_mode=True, compile=False)
            except Exception as exc:
                raise AnswerError(f"the saved model could not be loaded safely "
                                  f"({type(exc).__name__}: {str(exc)[:200]})") from None
        return C.model_accuracy(model, held[0], held[1], query.limit, query.classes)

    def judge_test_cell(self, src_cell) -> None:
        gid = integrity.grade_id(src_cell)
        points = float(integrity.nbgrader_meta(src_cell).get("points", 0) or 0)
        try:
            suite = C.declared(src_cell.source)
        except Exception as exc:
            self.errors.append(f"{gid}: the source test cell declares no checks ({exc})")
            self.results[gid] = CellResult(gid, points, 0.0, (), "not gradable: the test cell "
                                           "declares no checks (instructor's error)")
            return
        n_hidden = suite.hidden
        first_hidden = len(suite.checks) - n_hidden
        answers: dict[str, Any] = {}
        lines = []
        for i, chk in enumerate(suite.checks):
            hidden = i >= first_hidden
            key = repr(chk.query)
            try:
                if key not in answers:
                    try:
                        answers[key] = ("ok", self.ask(chk.query))
                    except AnswerError as exc:
                        answers[key] = ("fail", str(exc))
                status, got = answers[key]
                if status == "fail":
                    outcome = C.Outcome(chk.label, False, got + (f". Hint: {chk.hint}"
                                                                 if chk.hint else ""), chk.weight)
                else:
                    expected = _expected(chk, self.reference) if chk.ref is not None else None
                    outcome = C.compare(chk, got, expected, scale=self.scale)
            except Exception as exc:  # the grader's own problem (a reference that raised)
                self.errors.append(f"{gid}: check {chk.label!r} could not be judged: "
                                   f"{type(exc).__name__}: {exc}")
                outcome = C.Outcome(chk.label, False, "could not be judged (grader error)",
                                    chk.weight)
            lines.append(CheckLine(chk.label, bool(outcome.passed), outcome.detail, hidden,
                                   float(chk.weight)))
        total = sum(line.weight for line in lines)
        passed = sum(line.weight for line in lines if line.passed)
        score = points * passed / total if total else 0.0
        self.results[gid] = CellResult(gid, points, round(score, 6), tuple(lines))


def _plan(source_nb, nb):
    """Steps in order: ("run", cell) for the submission's cells, ("test", source cell) at
    each test cell's position (the submission's, or the source's when it was deleted)."""
    tests = {integrity.grade_id(c): c for c in source_nb.cells if integrity.is_test_cell(c)}
    steps, done = [], set()

    def key(cell):  # a cell's identity across source, release and submission
        return integrity.grade_id(cell) or cell.get("id")

    present = {key(c) for c in nb.cells} - {None}
    # where a deleted test cell goes: after the submission's copy of the nearest source cell
    # (graded or not) that precedes it, so whatever that cell defines is there
    after: dict[str | None, list] = {}
    last = None
    for c in source_nb.cells:
        gid = integrity.grade_id(c)
        if gid in tests and gid not in present:
            after.setdefault(last, []).append(tests[gid])
        elif key(c) in present:
            last = key(c)
    steps += [("test", c) for c in after.pop(None, [])]
    for i, cell in enumerate(nb.cells):
        gid = integrity.grade_id(cell)
        if gid in tests:
            if gid not in done:
                steps.append(("test", tests[gid]))
                done.add(gid)
        elif cell.get("cell_type") == "code":
            cell["_index"] = i
            steps.append(("run", cell))
        for t in after.pop(key(cell), []) if key(cell) else []:
            steps.append(("test", t))
    for rest in after.values():
        steps += [("test", c) for c in rest]
    return steps


def grade_notebook(source: Path, submission: Path, workdir: Path, *, lab: str,
                   scale: str = "tiny", limits: Limits = Limits(),
                   reference: types.ModuleType | None = None, data_dir: Path | None = None,
                   sandbox: bool | None = None) -> NotebookResult:
    """Grade one submission against its source notebook (see the module docstring).

    Args:
        source: the instructor's notebook (solutions/<lab>/<lab>.ipynb).
        submission: the student's file (may be anything, even invalid JSON).
        workdir: an empty folder this submission may use (its copy runs there).
        lab: the lab's name ("01-backprop"): selects the reference and forbidden imports.
        scale: COURSE_SCALE for the run and the scale of `above=`/`below=` bounds.
        limits: time, memory, process, output and file-size limits.
        reference: the module of reference functions (default autograder.reference.<topic>).
        data_dir: the data folder a held-out view is made of (default: COURSE_DATA's first).
        sandbox: None uses bubblewrap where it works; False runs unsandboxed (flagged);
            True raises when bubblewrap is unusable.

    Returns:
        A NotebookResult; never raises for anything the submission does.
    """
    t0 = time.monotonic()
    source_nb = integrity.read_notebook(Path(source))[0]
    if source_nb is None:
        raise ValueError(f"the source notebook {source} is not a valid notebook")
    reference = reference if reference is not None else reference_module(lab)
    flags, nb = integrity.check_submission(source_nb, Path(submission), lab=lab)
    graded = [c for c in source_nb.cells if integrity.grade_id(c)
              and integrity.nbgrader_meta(c).get("grade")]
    judge = _Judge(source_nb, lab, scale, limits, reference, workdir, data_dir)
    sandboxed = False
    if nb is not None:
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(submission, workdir / Path(submission).name)
        try:
            sandboxed = judge.start(sandbox)
        except Exception as exc:
            judge.errors.append(f"the kernel could not start: {type(exc).__name__}: {exc}")
            judge.stop()
            judge.kernel = None
        if judge.kernel is not None:
            deadline = t0 + limits.notebook_timeout
            try:
                for kind, cell in _plan(source_nb, nb):
                    if kind == "run":
                        judge.run_cell(cell, deadline)
                    else:
                        judge.judge_test_cell(cell)
                if time.monotonic() > deadline:
                    judge.errors.append(f"the notebook ran past its {limits.notebook_timeout:g} s "
                                        "limit; later cells were not run")
            finally:
                judge.stop()
    cells = []
    for c in graded:
        gid = integrity.grade_id(c)
        points = float(integrity.nbgrader_meta(c).get("points", 0) or 0)
        if gid in judge.results:
            cells.append(judge.results[gid])
        elif not integrity.is_test_cell(c):
            cells.append(CellResult(gid, points, 0.0, (), "graded by the instructor", True))
        else:
            why = "the submission is not a valid notebook" if nb is None else "not graded"
            cells.append(CellResult(gid, points, 0.0, (), why))
    return NotebookResult(lab, tuple(cells), tuple(flags), tuple(judge.errors), sandboxed,
                          round(time.monotonic() - t0, 3))
