"""The query protocol (course/protocol.py): one codec and one harness for every side, the
kernel's side being this module's own source run in a fresh namespace."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest

from course import protocol as P
from course.checks import call, randn, run, trained_model, value


def test_codec_round_trips_what_answers_are_made_of():
    sent = {"x": np.arange(6.0).reshape(2, 3), "pair": (1, "a"), "rows": [[1, 2], None],
            "flag": np.bool_(True), "n": np.int64(3), "text": np.asarray(["a", "bc"])}
    back = P.roundtrip(sent)
    assert np.array_equal(back["x"], sent["x"]) and back["x"].dtype == np.float64
    assert back["pair"] == (1, "a") and back["rows"][1] is None
    assert back["flag"] is True and back["n"] == 3 and type(back["n"]) is int
    assert back["text"].tolist() == ["a", "bc"]


def test_loads_refuses_pickles_bombs_and_garbage():
    buf = io.BytesIO()
    np.savez(buf, __tree__=np.asarray(json.dumps({"a": "a0"})), a0=np.array([object()]))
    with pytest.raises(P.AnswerError, match="could not be read as data"):
        P.loads(buf.getvalue())
    buf = io.BytesIO()
    P.dump(np.zeros(1_000_000), buf)
    with pytest.raises(P.AnswerError, match="too large once uncompressed"):
        P.loads(buf.getvalue(), cap=1_000_000)
    with pytest.raises(P.AnswerError):
        P.loads(b"PK\x03\x04 not a zip")
    with pytest.raises(TypeError):
        P.to_arrays({"f": lambda: 0})


@pytest.mark.parametrize("query", [call("f", randn(2, 2, seed=1), 3, k=[1.0]),
                                   run("y = x * 2", ("y",), x=randn(3, seed=2)), value("v")],
                         ids=["call", "run", "value"])
def test_each_kind_sends_materialized_inputs_and_the_reference_gets_the_same(query):
    seen = {}

    def ref(*args, **kwargs):
        seen["ref"] = (args, kwargs)
        return "expected"
    assert query.expected(ref) == "expected"
    payload = P.roundtrip(query.payload())
    assert payload["kind"] == query.kind
    if query.kind == "call":
        assert np.array_equal(payload["args"][0], seen["ref"][0][0])
        assert payload["args"][1] == 3 and np.array_equal(payload["kwargs"]["k"], [1.0])
    if query.kind == "run":
        assert np.array_equal(payload["inputs"]["x"], seen["ref"][1]["x"])


def test_ask_namespace_answers_as_the_kernel_does():
    ns = {"f": lambda x, n, k: (x * n).sum() + k.sum(), "v": [1, 2], "np": np}
    assert P.ask_namespace(call("f", [[1.0]], 2, k=[1.0]), ns) == 3.0
    assert P.ask_namespace(run("y = x * 2", ("y",), x=[1.0]), ns)["y"].tolist() == [2.0]
    assert P.ask_namespace(value("v"), ns) == [1, 2]
    with pytest.raises(P.AnswerError, match="^not implemented yet$"):
        P.ask_namespace(call("g"), {"g": lambda: (_ for _ in ()).throw(NotImplementedError())})
    with pytest.raises(P.AnswerError, match="missing is not defined: run the training cell"):
        P.ask_namespace(trained_model("missing", "mnist"), ns)


def test_the_harness_is_this_module_run_fresh_and_leaves_nothing_behind(tmp_path):
    """A notebook that rebound everything the protocol uses still gets its own answer judged
    by the real code, and no name of the harness stays in its namespace."""
    (tmp_path / "in").mkdir()
    (tmp_path / "out").mkdir()
    assert repr(P.source()) in P.harness_code("t", "in", "out")
    notebook = {"np": None, "json": None, "loads": None, "serve": None, "KINDS": {},
                "square": lambda x: x * x}
    before = set(notebook)
    for token, query in [("t1", call("square", randn(3, seed=1))), ("t2", value("nope"))]:
        with open(tmp_path / "in" / f"{token}.npz", "wb") as fh:
            P.dump(query.payload(), fh)
        exec(P.harness_code(token, str(tmp_path / "in"), str(tmp_path / "out")), notebook)
    assert set(notebook) - {"__builtins__"} == before
    got = P.loads((tmp_path / "out" / "t1.npz").read_bytes())
    assert np.allclose(got, randn(3, seed=1).make() ** 2)
    name, message = json.loads((tmp_path / "out" / "t2.err").read_text())
    assert P.failure(name, message) == ("raised NameError: nope is not defined: run the cell "
                                        "that defines it first")


def _npz(tree, **arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, __tree__=np.asarray(json.dumps(tree)), **arrays)
    return buf.getvalue()


def test_decoded_size_is_bounded_before_anything_is_allocated():
    """Issue 14: one 1 MB array named 2000 times is 2 GB to whoever compares it; a small
    file whose structure is millions of nodes is gigabytes of Python objects."""
    one = np.zeros(1 << 17)                               # 1 MB
    raw = _npz({"l": [{"a": "a0"}] * 2000}, a0=one)       # about 1 MB on disk
    assert len(raw) < 2 << 20
    with pytest.raises(P.AnswerError, match="too large once decoded"):
        P.loads(raw, 2 << 20)
    with pytest.raises(P.AnswerError, match="structure is too large"):
        P.loads(_npz({"l": [{"n": 0}] * 200_000}), 64 << 20)
    honest = P.loads(_npz({"l": [{"a": "a0"}] * 3}, a0=one), 2 << 20)   # 3 MB decoded
    assert len(honest) == 3 and honest[0].shape == one.shape


def _brightness_model():
    """A Keras classifier of mean brightness: output 1 for images brighter than half."""
    import keras
    inputs = keras.Input((2, 2, 1))
    mean = keras.layers.GlobalAveragePooling2D()(inputs)
    logits = keras.layers.Dense(2, kernel_initializer=keras.initializers.Constant([[0.0, 10.0]]),
                                bias_initializer=keras.initializers.Constant([0.0, -5.0]))(mean)
    return keras.Model(inputs, logits)


def test_a_model_of_a_class_subset_is_measured_on_those_classes_relabelled(tmp_path):
    """trained_model(..., classes=(1, 3)): only labels 1 and 3 count, as outputs 0 and 1,
    in the notebook and in the grader, which measures the saved model."""
    from autograder import answers
    y = np.array([3, 1, 3, 0, 2, 1, 0])
    bright = np.where(y == 3, 230, np.where(y == 2, 200, 20))
    x = (np.ones((7, 2, 2)) * bright[:, None, None]).astype(np.uint8)
    query = trained_model("m", "cifar10", classes=[1, 3])
    assert query.classes == (1, 3)
    model = _brightness_model()
    assert P.model_accuracy(model, x, y, classes=query.classes) == 1.0
    assert P.model_accuracy(model, x, y, classes=(3, 1)) == 0.0     # order gives the labels
    assert P.model_accuracy(model, x, y) == pytest.approx(2 / 7)    # without: labels as they are
    model.save(tmp_path / "m.keras")
    raw = (tmp_path / "m.keras").read_bytes()
    assert answers.model_accuracy(raw, query, lambda data: (x, y), answers.ModelLimits()) == 1.0


def test_a_network_a_snippet_builds_is_freed_once_answered():
    """A check's snippet that builds a (paper-size) network must not leave it for a later garbage
    collection: the next snippet may build another, and the kernel's memory is capped."""
    import weakref
    keras = pytest.importorskip("keras")
    built = []
    query = run("inp = keras.Input((1000,))\nm = keras.Model(inp, keras.layers.Dense(1001)(inp))\n"
                "built.append(weakref.ref(m))", {"n": "m.count_params()"})
    answer = P.Run.respond(query.payload(), {"keras": keras, "weakref": weakref, "built": built})
    assert answer == {"n": 1000 * 1001 + 1001}
    assert built[0]() is None, "the model outlived the query"
