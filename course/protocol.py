"""The query protocol: how a check's question reaches a notebook and its answer comes back.

One module serves every side. The in-notebook report (:mod:`course.checks`), the grader
(``autograder``), the student's validator and the tests import it; and at grading the
grader sends this very file's source to the student's kernel, which runs it in a fresh
namespace for each query (:func:`harness_code`). So the kernel's side of the protocol is this
code, not a copy that could drift.

Three parts:

- **the codec**: a value (None, numbers, strings, arrays, and tuples, lists and dicts of
  them) as an ``.npz`` file, its structure as JSON in ``__tree__`` and every array as an
  array, read back with ``allow_pickle=False``; a trained model travels as a ``.keras`` file;
- **the query kinds** (:class:`Call`, :class:`Run`, :class:`Value`, :class:`TrainedModel`):
  each says what it sends (``payload``), how the notebook answers it (``respond``, run in
  the kernel) and how the instructor's expected value is computed (``expected``);
- **the harness** (:func:`serve`): what the kernel runs for one query: read the payload,
  answer it from the notebook's namespace, write the answer (or the error) for the grader.

Whatever a kernel does to this code can change only its own answers, which the grader
judges in its own process. Only numpy and the standard library are imported here. No
``from __future__ import annotations``: the dataclasses below must work when this source is
executed outside any module (their annotations are then evaluated, not looked up).
"""
import dataclasses
import gc
import io
import json
import os
import zipfile
from typing import Any, Mapping

import numpy as np

ANSWER_ERROR = ".err"
MAX_DEPTH = 32
MAX_ARRAYS = 100_000
MAX_TREE_CHARS = 1_000_000  # an answer's structure (JSON); its arrays are counted apart
DECODED_FACTOR = 4          # an answer may take this many times its file's cap once decoded
MAX_ERROR_CHARS = 300


class AnswerError(Exception):
    """No usable answer to a query; the message is the check's FAIL detail."""


def failure(name: str, message: str) -> str:
    """The line a student reads when their code raised `name` while answering."""
    if name == "NotImplementedError":
        return "not implemented yet"
    return f"raised {name}: {message}"


# ---------------------------------------------------------------------------- the codec

def _encode(value: Any, arrays: dict, depth: int = 0) -> dict:
    if depth > MAX_DEPTH or len(arrays) > MAX_ARRAYS:
        raise ValueError("answer too deeply nested or too large")
    if value is None:
        return {"n": 0}
    if isinstance(value, str):
        return {"str": value}
    if isinstance(value, (tuple, list)):
        tag = "t" if isinstance(value, tuple) else "l"
        return {tag: [_encode(v, arrays, depth + 1) for v in value]}
    if isinstance(value, dict):
        return {"d": [[str(k), _encode(v, arrays, depth + 1)] for k, v in value.items()]}
    scalar = isinstance(value, (bool, int, float, complex, np.generic))
    if not isinstance(value, np.ndarray) and not scalar:
        if hasattr(value, "detach"):  # a torch tensor
            value = value.detach().cpu().numpy()
        value = np.asarray(value)
    arr = np.asarray(value)
    if arr.dtype.kind not in "biufcUS":
        raise TypeError(f"cannot send a {type(value).__name__} (dtype {arr.dtype})")
    key = f"a{len(arrays)}"
    arrays[key] = arr
    return {"a": key, "s": int(scalar)}


class _Budget:
    """Bytes an answer may take once decoded and compared: each reference to an array
    counts (an array named a thousand times is a thousand arrays to whoever reads it), at
    8 bytes an element at least (what a comparison in float64 makes of it)."""

    def __init__(self, cap: int | None):
        self.left = cap

    def spend(self, arr: np.ndarray) -> None:
        if self.left is not None:
            self.left -= arr.size * max(arr.itemsize, 8) + 64
            if self.left < 0:
                raise AnswerError("the answer is too large once decoded")


def _decode(tree: Any, arrays: Mapping[str, np.ndarray], depth: int = 0,
            budget: "_Budget | None" = None) -> Any:
    budget = budget or _Budget(None)
    if depth > MAX_DEPTH or not isinstance(tree, dict) or len(tree) > 2:
        raise ValueError("malformed answer")
    if "n" in tree:
        return None
    if "str" in tree:
        return str(tree["str"])
    if "t" in tree:
        return tuple(_decode(v, arrays, depth + 1, budget) for v in tree["t"])
    if "l" in tree:
        return [_decode(v, arrays, depth + 1, budget) for v in tree["l"]]
    if "d" in tree:
        return {str(k): _decode(v, arrays, depth + 1, budget) for k, v in tree["d"]}
    arr = arrays[str(tree["a"])]
    budget.spend(arr)
    # A scalar comes back as a Python number: code that insists on int (Keras layer
    # arguments, range) must see the same input in the kernel as in the notebook.
    return arr.item() if tree.get("s") and arr.ndim == 0 else arr


def to_arrays(value: Any) -> dict[str, np.ndarray]:
    """`value` as the arrays of an .npz: its structure in ``__tree__``, then its arrays."""
    arrays: dict[str, np.ndarray] = {}
    tree = _encode(value, arrays)
    arrays["__tree__"] = np.asarray(json.dumps(tree))
    return arrays


def from_arrays(arrays: Mapping[str, np.ndarray], cap: int | None = None) -> Any:
    """The value :func:`to_arrays` encoded (at most `cap` bytes of it, counted as
    :class:`_Budget` does)."""
    arrays = dict(arrays)
    tree = str(arrays.pop("__tree__"))
    if cap is not None and len(tree) > MAX_TREE_CHARS:
        raise AnswerError("the answer's structure is too large")
    return _decode(json.loads(tree), arrays, 0, _Budget(cap))


def dump(value: Any, fh) -> None:
    """Write `value` as an .npz to the open binary file `fh`."""
    np.savez(fh, **to_arrays(value))


def loads(raw: bytes, cap: int | None = None) -> Any:
    """The value in an .npz's bytes: no pickles, at most `cap` bytes once uncompressed and
    ``DECODED_FACTOR * cap`` once decoded (every reference to an array counted: :class:`_Budget`).

    Raises AnswerError for anything that is not such a file.
    """
    try:
        if cap is not None:
            with zipfile.ZipFile(io.BytesIO(raw)) as zf:
                if sum(i.file_size for i in zf.infolist()) > cap:
                    raise AnswerError("the answer is too large once uncompressed")
        with np.load(io.BytesIO(raw), allow_pickle=False) as z:
            return from_arrays({k: z[k] for k in z.files},
                               None if cap is None else DECODED_FACTOR * cap)
    except AnswerError:
        raise
    except Exception as exc:
        raise AnswerError(f"the answer could not be read as data ({type(exc).__name__})") from None


def roundtrip(value: Any) -> Any:
    """`value` as the kernel receives it at grading (encoded, then decoded)."""
    return from_arrays(to_arrays(value))


# ---------------------------------------------------------------------------- inputs

@dataclasses.dataclass(frozen=True)
class Random:
    """A recipe for a random float64 (or int64) array, drawn from a seeded generator."""

    kind: str
    shape: tuple
    seed: int
    low: float = 0.0
    high: float = 1.0
    scale: float = 1.0

    def make(self) -> np.ndarray:
        rng = np.random.default_rng(self.seed)
        if self.kind == "normal":
            return self.scale * rng.standard_normal(self.shape)
        if self.kind == "uniform":
            return rng.uniform(self.low, self.high, self.shape)
        return rng.integers(int(self.low), int(self.high), self.shape)

    def __repr__(self) -> str:
        return f"{self.kind}{self.shape}"


def materialize(x: Any) -> Any:
    """Turn an input recipe into the value passed to student code.

    Recipes become arrays, lists become float arrays (nested lists of numbers are the way
    to write a small literal matrix), tuples keep their meaning (shapes, pairs) and
    everything else (numbers, strings, None) is passed as it is.
    """
    if isinstance(x, Random):
        return x.make()
    if isinstance(x, list):
        return np.asarray(x, dtype=float)
    if isinstance(x, tuple):
        return tuple(materialize(v) for v in x)
    return x


# ---------------------------------------------------------------------------- query kinds

def _defined(namespace: Mapping[str, Any], name: str, fix: str) -> Any:
    if name not in namespace:
        raise NameError(f"{name} is not defined: {fix}")
    return namespace[name]


@dataclasses.dataclass(frozen=True)
class Call:
    """Call the notebook's function `fn` on the given inputs."""

    fn: str
    args: tuple = ()
    kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    kind = "call"

    def describe(self) -> str:
        return f"{self.fn}(...)"

    def payload(self) -> dict:
        return {"kind": self.kind, "fn": self.fn, "args": tuple(materialize(a) for a in self.args),
                "kwargs": {k: materialize(v) for k, v in self.kwargs.items()}}

    @staticmethod
    def respond(q: dict, namespace: Mapping[str, Any]) -> Any:
        fn = _defined(namespace, q["fn"], "run the cell that defines it first")
        return fn(*q["args"], **q["kwargs"])

    def expected(self, ref) -> Any:
        """The reference `ref` called as the student's function is: ``ref(*args, **kwargs)``."""
        return ref(*[materialize(a) for a in self.args],
                   **{k: materialize(v) for k, v in self.kwargs.items()})


@dataclasses.dataclass(frozen=True)
class Run:
    """Run a snippet of instructor code in the notebook, with `inputs` bound as names.

    `outputs` maps a result name to an expression evaluated after the snippet (a tuple of
    names is shorthand for each name to itself). Used for classes and stateful modules:
    ``run("m = Linear(W, b); y = m.forward(x)", outputs={"y": "y", "dW": "m.dW"}, ...)``.
    """

    code: str
    outputs: Mapping[str, str]
    inputs: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    kind = "run"

    def describe(self) -> str:
        return "snippet"

    def payload(self) -> dict:
        return {"kind": self.kind, "code": self.code, "outputs": dict(self.outputs),
                "inputs": {k: materialize(v) for k, v in self.inputs.items()}}

    @staticmethod
    def respond(q: dict, namespace: Mapping[str, Any]) -> Any:
        scope = dict(namespace)
        scope.update(q["inputs"])
        exec(q["code"], scope)
        answer = {name: eval(expr, scope) for name, expr in q["outputs"].items()}
        if any(_large_network(value) for name, value in scope.items() if name not in namespace):
            # The network the snippet built is garbage now, held only by its reference cycles:
            # free it before the next query builds another (a paper-size one holds hundreds of
            # MB, and the kernel's memory is capped). Small ones wait for Python's own collection.
            del scope
            gc.collect()
        return answer

    def expected(self, ref) -> Any:
        """``ref(**inputs)``: a dict holding (at least) the outputs checked."""
        return ref(**{k: materialize(v) for k, v in self.inputs.items()})


def _large_network(value: Any) -> bool:
    """A Keras model or layer of over a million weights."""
    if not type(value).__module__.startswith("keras"):
        return False
    try:
        return value.count_params() > 1_000_000
    except Exception:  # an unbuilt layer has no count yet
        return False


@dataclasses.dataclass(frozen=True)
class Value:
    """Read the notebook variable `name` (a number, an array, a table as nested lists)."""

    name: str

    kind = "value"

    def describe(self) -> str:
        return self.name

    def payload(self) -> dict:
        return {"kind": self.kind, "name": self.name}

    @staticmethod
    def respond(q: dict, namespace: Mapping[str, Any]) -> Any:
        return _defined(namespace, q["name"], "run the cell that defines it first")

    def expected(self, ref) -> Any:
        return ref()


@dataclasses.dataclass(frozen=True)
class TrainedModel:
    """Evaluate the notebook's trained Keras model `name` on a data set's images.

    The notebook answers with the model itself. In the notebook its accuracy is measured on
    the public test split; at grading the model travels as a ``.keras`` file and the grader
    measures it in its own process on held-out images the notebook never saw. Images are
    given scaled to [0, 1], with a channel axis when the model expects one. `classes` keeps
    the images of those labels only, relabelled 0..len(classes)-1 in the order given (a
    model of CIFAR-10's four vehicles).
    """

    name: str
    data: str
    limit: int | None = None
    classes: tuple[int, ...] | None = None

    kind = "model"

    def describe(self) -> str:
        return f"accuracy of {self.name} on {self.data}"

    def payload(self) -> dict:
        return {"kind": self.kind, "name": self.name}

    @staticmethod
    def respond(q: dict, namespace: Mapping[str, Any]) -> Any:
        return _defined(namespace, q["name"], "run the training cell first")

    def expected(self, ref) -> Any:
        return ref()


KINDS = {kind.kind: kind for kind in (Call, Run, Value, TrainedModel)}


def answer_suffix(query) -> str:
    """The file the kernel writes its answer to: a model as .keras, anything else as .npz."""
    return ".keras" if query.kind == TrainedModel.kind else ".npz"


def class_subset(x: np.ndarray, y: np.ndarray, classes) -> tuple[np.ndarray, np.ndarray]:
    """The examples whose label is in `classes`, relabelled by position in `classes`."""
    y = np.ravel(y)
    keep = np.isin(y, classes)
    position = {int(c): i for i, c in enumerate(classes)}
    return x[keep], np.array([position[int(v)] for v in y[keep]], dtype="int64")


def measured_images(x: np.ndarray, y: np.ndarray, limit: int | None = None,
                    classes: tuple[int, ...] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The images a trained_model check measures: those of `classes` (relabelled by
    position), then the first `limit`. The notebook and the grader cut them alike."""
    if classes:
        x, y = class_subset(x, y, classes)
    if limit is not None:
        x, y = x[:limit], y[:limit]
    return x, y


def model_accuracy(model: Any, x: np.ndarray, y: np.ndarray, limit: int | None = None,
                   classes: tuple[int, ...] | None = None) -> float:
    """Top-1 accuracy of a Keras classifier on uint8 images, fed scaled to [0, 1].

    With `classes`, only the images of those labels count, relabelled 0..len(classes)-1.
    """
    x, y = measured_images(x, y, limit, classes)
    x = np.asarray(x, dtype="float32") / 255.0
    rank = len(model.inputs[0].shape)
    if x.ndim == rank - 1:
        x = x[..., None]
    probs = np.asarray(model.predict(x, batch_size=256, verbose=0))
    return float(np.mean(probs.argmax(axis=-1) == np.asarray(y).reshape(-1)))


def ask_namespace(query, namespace: Mapping[str, Any]) -> Any:
    """Ask `query` of a namespace in this process, as the kernel is asked at grading.

    The payload goes through the codec first, so student code receives exactly what it
    receives when graded. A trained-model query answers with the model itself. Raises
    AnswerError with the student's line when their code raised.
    """
    try:
        return KINDS[query.kind].respond(roundtrip(query.payload()), namespace)
    except Exception as exc:
        raise AnswerError(failure(type(exc).__name__, str(exc))) from None


# ---------------------------------------------------------------------------- the harness

def serve(token: str, inbox: str, outbox: str, namespace: Mapping[str, Any]) -> None:
    """Answer one query in the student's kernel (the grader's harness calls this).

    Reads ``inbox/<token>.npz``, answers from `namespace` (the notebook's globals) and
    writes ``outbox/<token>.npz`` (or ``.keras`` for a model), atomically; or, when the
    notebook's code raised, ``outbox/<token>.err``: the exception's name and message.
    """
    stem = os.path.join(outbox, token)
    try:
        with open(os.path.join(inbox, token + ".npz"), "rb") as fh:
            q = loads(fh.read())
        answer = KINDS[q["kind"]].respond(q, namespace)
        if q["kind"] == TrainedModel.kind:
            answer.save(stem + ".keras")
            return
        with open(stem + ".part.npz", "wb") as fh:
            dump(answer, fh)
        os.replace(stem + ".part.npz", stem + ".npz")
    except BaseException as exc:  # SystemExit and KeyboardInterrupt are answers too
        with open(stem + ANSWER_ERROR, "w") as fh:
            fh.write(json.dumps([type(exc).__name__, str(exc)[:MAX_ERROR_CHARS]]))


def source() -> str:
    """This module's source: what the grader sends the kernel to run."""
    with open(__file__, encoding="utf-8") as fh:
        return fh.read()


def harness_code(token: str, inbox: str, outbox: str) -> str:
    """The code the grader runs in the student's kernel for one query.

    It executes this module's source in a fresh namespace (nothing the notebook rebound
    is used), compiled without the notebook's ``__future__`` imports, and serves the query
    from the notebook's globals, leaving no name behind.
    """
    return (f"_course_protocol = {{'__name__': 'course_protocol'}}\n"
            f"exec(compile({source()!r}, 'course/protocol.py', 'exec', dont_inherit=True),\n"
            f"     _course_protocol)\n"
            f"_course_protocol['serve']({token!r}, {inbox!r}, {outbox!r}, globals())\n"
            f"del _course_protocol\n")
