"""Checks: the unit of grading, stated as data.

A test cell lists its checks one by one. Each check names a query (call this function on
these inputs, run this snippet, read this variable, evaluate this trained model) and what
the answer must satisfy (a shape, a literal value, the instructor's reference, a
threshold). While a student works, :func:`checks` runs them in the notebook and shows one
line per check. At grading the same declarations are replayed by the autograder *outside*
the student's process (see docs/checks.md): the kernel only answers the queries, by the
protocol of course/protocol.py, and the comparison below decides the score in the grader's
own process.

Everything here is plain numpy, so the grader can import it without Keras.
"""
from __future__ import annotations

import dataclasses
import sys
from typing import Any, Mapping

import numpy as np

from course.protocol import (AnswerError, Call, Random, Run, TrainedModel, Value, ask_namespace,
                             class_subset, materialize, model_accuracy)

__all__ = [
    "checks", "check", "call", "run", "value", "trained_model",
    "randn", "uniform", "randint", "rel_error", "check_shape", "check_close", "grad_check",
    "directional_check",
]

DEFAULT_TOL = 1e-6
# The MIME type of the report a test cell displays: its verdicts as data, beside the text
# (what `python -m course.validate` reads).
MIME = "application/vnd.course.checks+json"


# ---------------------------------------------------------------------------------------
# Inputs and queries (their payloads and answers: course/protocol.py).

def randn(*shape: int, seed: int = 0, scale: float = 1.0) -> Random:
    """Standard normal array of `shape` (times `scale`), the same on every machine."""
    return Random("normal", tuple(shape), seed, scale=scale)


def uniform(*shape: int, low: float = 0.0, high: float = 1.0, seed: int = 0) -> Random:
    """Uniform array in [low, high) of `shape`."""
    return Random("uniform", tuple(shape), seed, low=low, high=high)


def randint(low: int, high: int, *shape: int, seed: int = 0) -> Random:
    """Integer array in [low, high) of `shape` (labels, indices)."""
    return Random("integers", tuple(shape), seed, low=low, high=high)


def call(fn: str, *args: Any, **kwargs: Any) -> Call:
    """Call the notebook's function `fn` on these inputs."""
    return Call(fn, tuple(args), dict(kwargs))


def run(code: str, outputs: tuple[str, ...] | Mapping[str, str], **inputs: Any) -> Run:
    """Run instructor `code` in the notebook with `inputs` bound as names; return `outputs`."""
    if not isinstance(outputs, Mapping):
        outputs = {name: name for name in outputs}
    return Run(code, dict(outputs), dict(inputs))


def value(name: str) -> Value:
    """The notebook variable `name`."""
    return Value(name)


def trained_model(name: str, data: str, limit: int | None = None,
                  classes: tuple[int, ...] | None = None) -> TrainedModel:
    """The accuracy of the notebook's trained Keras model `name` on `data`'s test images."""
    return TrainedModel(name, data, limit, tuple(int(c) for c in classes) if classes else None)


# ---------------------------------------------------------------------------------------
# Checks and their comparison.

@dataclasses.dataclass(frozen=True)
class Check:
    """One graded claim about one query's answer. See :func:`check`."""

    label: str
    query: Call | Run | Value | TrainedModel
    expect: Any = None
    ref: str | None = None
    shape: tuple[int, ...] | None = None
    above: Any = None
    below: Any = None
    key: str | None = None
    tol: float = DEFAULT_TOL
    hint: str = ""
    weight: float = 1.0


def check(label: str, query: Call | Run | Value | TrainedModel, *, expect: Any = None,
          ref: str | None = None, shape: tuple[int, ...] | None = None, above: Any = None,
          below: Any = None, key: str | None = None, tol: float = DEFAULT_TOL,
          hint: str = "", weight: float = 1.0) -> Check:
    """Declare one check.

    Args:
        label: what is checked, as the student will read it ("dW on a batch of 1").
        query: `call(...)`, `run(...)`, `value(...)` or `trained_model(...)`.
        expect: a literal expected value (number, nested list, string, bool).
        ref: name of the instructor's reference function (autograder/reference/<lab>.py),
            called by the grader on the same inputs. Only the grader has it.
        shape: the expected shape of the answer.
        above, below: bounds for a scalar answer; either may be a dict by scale
            ({"tiny": .8, "cpu": .985, "gpu": .991}).
        key: which output of a `run` (or which element of a returned tuple) to check.
        tol: largest relative error accepted (see :func:`rel_error`).
        hint: what to try when this check fails.
        weight: this check's share of the cell's points, relative to the others.
    """
    if sum(x is not None for x in (expect, ref, shape, above, below)) == 0:
        raise ValueError(f"check {label!r} states nothing to compare: give expect, ref, "
                         "shape, above or below")
    if weight <= 0:
        raise ValueError(f"check {label!r}: weight must be > 0; got {weight}")
    return Check(label, query, expect, ref, tuple(shape) if shape is not None else None,
                 above, below, key, tol, hint, weight)


@dataclasses.dataclass(frozen=True)
class Outcome:
    """The verdict on one check: passed or not, and the line a student reads."""

    label: str
    passed: bool | None  # None: decided only at grading (reference checks)
    detail: str = ""
    weight: float = 1.0

    def line(self) -> str:
        mark = {True: "PASS", False: "FAIL", None: "...."}[self.passed]
        return f"{mark}  {self.label}" + (f": {self.detail}" if self.detail else "")


def rel_error(x: Any, y: Any) -> float:
    """Largest elementwise relative error, CS231n style: ~1e-7 or less means equal."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y)), initial=0.0))


def bound_at(bound: Any, scale: str) -> Any:
    """Resolve a bound given per scale ({"tiny": .., "cpu": .., "gpu": ..})."""
    if isinstance(bound, Mapping):
        if scale not in bound:
            raise ValueError(f"no bound for scale {scale!r}; have {sorted(bound)}")
        return bound[scale]
    return bound


def select(answer: Any, key: str | None) -> Any:
    """Pick the output named `key` from a dict answer, or element `key` of a tuple."""
    if key is None:
        return answer
    if isinstance(answer, Mapping):
        if key not in answer:
            raise LookupError(f"no output named {key!r}; got {sorted(answer)}")
        return answer[key]
    if isinstance(answer, (tuple, list)) and str(key).isdigit():
        index = int(key)
        if index >= len(answer):
            raise LookupError(f"expected at least {index + 1} returned values; got {len(answer)}")
        return answer[index]
    raise LookupError(f"cannot take output {key!r} of a {type(answer).__name__}")


def _preview(a: Any) -> str:
    arr = np.asarray(a)
    if arr.dtype.kind in "fc" and arr.size:
        text = np.array2string(arr.ravel()[:4], precision=4, separator=", ")
        return text[:-1] + (", ...]" if arr.size > 4 else "]")
    text = repr(a if arr.dtype == object else arr.tolist())
    return text if len(text) <= 60 else text[:57] + "..."


def _shape_hint(expected: tuple, received: tuple) -> str:
    if len(expected) == 2 and received == expected[::-1]:
        return " (the transpose: did you swap the order of a product?)"
    if len(received) == len(expected) + 1 and received[1:] == expected:
        return " (one axis too many: should the batch axis be summed over?)"
    return ""


def failed(chk: Check, detail: str) -> Outcome:
    """A FAIL of `chk` with `detail` and the check's hint."""
    return Outcome(chk.label, False, detail + (f". Hint: {chk.hint}" if chk.hint else ""),
                   chk.weight)


def compare(chk: Check, answer: Any, expected: Any = None, scale: str = "cpu") -> Outcome:
    """Decide one check from the answer the query gave and the expected value.

    `answer` is what the student's code returned (after `key` selection is done here);
    `expected` is the reference's output when `chk.ref` is set (else `chk.expect`).
    Never raises: any problem with the answer is a FAIL with its reason.
    """
    def fail(detail: str) -> Outcome:
        return failed(chk, detail)

    try:
        got = select(answer, chk.key)
        if chk.ref is not None:
            expected = select(expected, chk.key)
        elif chk.expect is not None:
            expected = materialize(chk.expect)
        if chk.shape is not None:
            received = tuple(np.shape(got))
            if received != chk.shape:
                return fail(f"expected shape {chk.shape}, received {received}"
                            + _shape_hint(chk.shape, received))
        for bound, ok, word in ((chk.above, np.greater_equal, "at least"),
                                (chk.below, np.less_equal, "at most")):
            if bound is not None:
                limit = bound_at(bound, scale)
                if np.ndim(got) != 0:
                    return fail(f"expected a number, received shape {np.shape(got)}")
                if not ok(float(got), limit):
                    return fail(f"expected {word} {limit:g}, received {float(got):.4g}")
        if chk.ref is not None or chk.expect is not None:
            return _compare_values(chk, got, expected, fail)
        return Outcome(chk.label, True, "", chk.weight)
    except Exception as exc:  # a malformed answer is the student's failure, never a crash
        return fail(f"could not check the answer: {type(exc).__name__}: {exc}")


def _compare_values(chk: Check, got: Any, expected: Any, fail) -> Outcome:
    if isinstance(expected, (tuple, list)) and not isinstance(expected, np.ndarray) \
            and any(np.ndim(e) > 0 for e in expected):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return fail(f"expected {len(expected)} returned values, received "
                        f"{len(got) if isinstance(got, (tuple, list)) else type(got).__name__}")
        for i, (g, e) in enumerate(zip(got, expected)):
            outcome = _compare_values(dataclasses.replace(chk, label=f"{chk.label}[{i}]"), g, e, fail)
            if not outcome.passed:
                return Outcome(chk.label, False, f"returned value {i}: {outcome.detail}", chk.weight)
        return Outcome(chk.label, True, "", chk.weight)
    exp_arr, got_arr = np.asarray(expected), np.asarray(got)
    if exp_arr.dtype.kind in "biufc":
        if got_arr.dtype.kind not in "biufc":
            return fail(f"expected a number or numeric array, received {type(got).__name__}")
        if got_arr.shape != exp_arr.shape:
            return fail(f"expected shape {exp_arr.shape}, received {got_arr.shape}"
                        + _shape_hint(exp_arr.shape, got_arr.shape))
        if not np.all(np.isfinite(got_arr)):
            return fail("the answer contains NaN or inf")
        err = rel_error(got_arr, exp_arr)
        if err <= chk.tol:
            return Outcome(chk.label, True, "", chk.weight)
        detail = f"expected {_preview(exp_arr)}, received {_preview(got_arr)} (relative error {err:.1e})"
        if exp_arr.size and rel_error(-got_arr, exp_arr) <= chk.tol:
            detail += " (the sign is flipped)"
        return fail(detail)
    if got_arr.shape == exp_arr.shape and np.array_equal(got_arr, exp_arr):
        return Outcome(chk.label, True, "", chk.weight)
    return fail(f"expected {_preview(expected)}, received {_preview(got)}")


# ---------------------------------------------------------------------------------------
# Running checks inside the notebook, for the student's own feedback.

@dataclasses.dataclass(frozen=True)
class Suite:
    """The checks of one test cell, as the grader replays them."""

    cell_id: str
    checks: tuple[Check, ...]
    hidden: int = 0


def answer(query: Call | Run | Value | TrainedModel, namespace: Mapping[str, Any]) -> Any:
    """The notebook's answer to `query`, asked as the grader asks it (course/protocol.py).

    A trained model's accuracy is measured on the public test split (the grader uses
    held-out images instead). Raises AnswerError, with the line a student reads, when the
    notebook's code raised.
    """
    got = ask_namespace(query, namespace)
    if not isinstance(query, TrainedModel):
        return got
    try:
        from course import data
        _, (x_test, y_test) = data.load(query.data)
        return model_accuracy(got, x_test, y_test, query.limit, query.classes)
    except Exception as exc:
        raise AnswerError(f"raised {type(exc).__name__}: {exc}") from None


def _grading_scale() -> str:
    try:
        from course import env
        return env.scale()
    except Exception:
        return "cpu"


def checks(cell_id: str, *declared: Check, hidden: int = 0) -> None:
    """Run a test cell's visible checks in the notebook and show one line for each.

    Every check runs, even after one failed or raised; an exception in student code is a
    FAIL line with its type and message. `hidden` is how many more checks the grader runs;
    the summary never says "all passed" while some remain. In a notebook the report is
    displayed with its verdicts as data (MIME type :data:`MIME`) beside the text.
    """
    namespace = sys._getframe(1).f_globals
    scale = _grading_scale()
    outcomes = []
    for chk in declared:
        if chk.ref is not None:
            outcomes.append(Outcome(chk.label, None, "compared with the reference when graded",
                                    chk.weight))
            continue
        try:
            got = answer(chk.query, namespace)
        except AnswerError as exc:
            outcomes.append(failed(chk, str(exc)))
            continue
        outcomes.append(compare(chk, got, scale=scale))
    _show(report(cell_id, outcomes, hidden),
          {"cell_id": cell_id, "hidden": hidden,
           "outcomes": [dataclasses.asdict(o) for o in outcomes]})


def _show(text: str, data: dict) -> None:
    """Display the report in a notebook (text for the reader, data for the validator);
    print it elsewhere."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        get_ipython = None
    if get_ipython is None or get_ipython() is None:
        print(text)
        return
    display({"text/plain": text, MIME: data}, raw=True)


def report(cell_id: str, outcomes: list[Outcome], hidden: int = 0) -> str:
    """The block of lines a student reads under a test cell."""
    decided = [o for o in outcomes if o.passed is not None]
    passed = sum(bool(o.passed) for o in decided)
    # In the instructor's copy the hidden checks are among `outcomes` (as reference checks
    # the notebook cannot decide); in the released lab only `hidden` counts them.
    later = max(hidden, len(outcomes) - len(decided))
    lines = [o.line() for o in outcomes]
    summary = f"[{cell_id}] {passed} of {len(decided)} checks passed"
    if later:
        summary += f"; {later} more checked when your notebook is graded"
    elif passed == len(decided):
        summary = f"[{cell_id}] all {passed} checks passed"
    return "\n".join(lines + [summary])


# ---------------------------------------------------------------------------------------
# Small helpers students call themselves (D2L's check_shape, CS231n's gradient check).

def check_shape(a: Any, shape: tuple[int, ...], name: str = "array") -> bool:
    """Print PASS/FAIL for `a` having `shape`; return whether it does."""
    received = tuple(np.shape(a))
    ok = received == tuple(shape)
    print(f"{'PASS' if ok else 'FAIL'}  {name} has shape {received}"
          + ("" if ok else f", expected {tuple(shape)}" + _shape_hint(tuple(shape), received)))
    return ok


def check_close(a: Any, b: Any, tol: float = DEFAULT_TOL, name: str = "values") -> bool:
    """Print PASS/FAIL for `a` matching `b` to relative error `tol`; return whether it does."""
    err = rel_error(a, b)
    ok = np.shape(a) == np.shape(b) and err <= tol
    print(f"{'PASS' if ok else 'FAIL'}  {name}: relative error {err:.1e} (want <= {tol:.0e})")
    return ok


def grad_check(analytic: Any, numeric: Any, tol: float = 1e-7, name: str = "gradient") -> float:
    """Compare an analytic gradient with a numerical one and say what the error means.

    The numerical gradient is the student's to compute (lab 01 has them write central
    differences); this only judges the pair: ~1e-7 or less in float64 means correct,
    1e-4 and up is almost certainly a bug. Returns the relative error.
    """
    err = rel_error(analytic, numeric)
    verdict = "PASS" if np.shape(analytic) == np.shape(numeric) and err <= tol else "FAIL"
    print(f"{verdict}  {name} check: relative error {err:.1e} "
          f"(float64 and a correct gradient give ~1e-7 or less)")
    return err


def directional_check(f: Any, x: Any, grad: Any, *, seed: int = 0, h: float = 1e-5,
                      tol: float = 1e-6, name: str = "gradient") -> float:
    """Check a gradient along one random direction d: (f(x + h d) - f(x - h d)) / 2h
    against grad . d, and say what the error means.

    Two evaluations of the scalar function f instead of two per entry, yet as sensitive to
    a wrong gradient: a random direction has a component along any error. In float64 a
    correct gradient agrees to about 1e-8 or better; 1e-4 and up is almost certainly a bug.
    Returns the relative error.
    """
    x = np.asarray(x, dtype=float)
    if np.shape(grad) != x.shape:
        print(f"FAIL  {name}: the gradient has shape {np.shape(grad)}, x has {x.shape}")
        return np.inf
    d = np.random.default_rng(seed).standard_normal(x.shape)
    numeric = (float(f(x + h * d)) - float(f(x - h * d))) / (2 * h)
    analytic = float(np.sum(np.asarray(grad, dtype=float) * d))
    err = abs(numeric - analytic) / max(abs(numeric), abs(analytic), 1e-12)
    print(f"{'PASS' if err <= tol else 'FAIL'}  {name} along a random direction: relative error "
          f"{err:.1e} (float64 and a correct gradient give ~1e-8 or less)")
    return err


def declared(source: str) -> Suite:
    """The Suite a test cell's source declares, without running any check.

    The grader calls this on the instructor's copy of a test cell (never the student's):
    the source is executed with the names of this module in scope and `checks` bound to a
    collector, so the declarations become data.
    """
    found: list[Suite] = []

    def collect(cell_id: str, *declared_checks: Check, hidden: int = 0) -> None:
        found.append(Suite(cell_id, tuple(declared_checks), hidden))

    scope = {name: globals()[name] for name in __all__}
    scope.update(checks=collect, np=np)
    exec(compile(source, "<test cell>", "exec"), scope)
    if len(found) != 1:
        raise ValueError(f"a test cell must call checks(...) exactly once; found {len(found)}")
    return found[0]
