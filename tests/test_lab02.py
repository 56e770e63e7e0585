"""Lab 02 (convnets): the hidden checks tell the solution from every listed mistake.

In process and fast (no training): the answer cells of the solution notebook, or of a
sample in autograder/samples/02-convnets/samples.toml, are executed into a namespace; each
test cell's suite (course.checks.declared) is answered from that namespace and judged
against autograder/reference/convnets.py, as the grader does. The training cells and
the samples that differ only there (under-trained, cheat, hostile, broken) are left to the
end-to-end demo.
"""
import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from course import checks as C

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "solutions" / "02-convnets" / "02-convnets.ipynb"
SAMPLES = ROOT / "autograder" / "samples" / "02-convnets" / "samples.toml"
TRAINING = ("convnets-train-mnist", "convnets-train-cifar")

keras = pytest.importorskip("keras")
from autograder.reference import convnets as reference  # noqa: E402


def _cells():
    nb = json.loads(SOURCE.read_text())
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        yield cell["cell_type"], meta, "".join(cell["source"])


def solution_answers() -> dict[str, str]:
    return {m["grade_id"]: src for kind, m, src in _cells()
            if kind == "code" and m.get("solution") and m["grade_id"] not in TRAINING}


def test_cells() -> dict[str, tuple[float, str]]:
    return {m["grade_id"]: (float(m["points"]), src) for kind, m, src in _cells()
            if kind == "code" and m.get("grade") and not m.get("solution")}


test_cells.__test__ = False  # a helper, not a pytest test


def namespace_for(answers: dict[str, str]) -> dict:
    from keras import layers
    ns = {"np": np, "keras": keras, "layers": layers, "__name__": "lab02"}
    for gid, src in answers.items():
        if gid not in TRAINING:
            exec(compile(src, gid, "exec"), ns)
    return ns


def expected_for(chk, query):
    if chk.ref is None:
        return None
    fn = getattr(reference, chk.ref)
    if isinstance(query, C.Call):
        return fn(*[C.materialize(a) for a in query.args],
                  **{k: C.materialize(v) for k, v in query.kwargs.items()})
    if isinstance(query, C.Run):
        return fn(**{k: C.materialize(v) for k, v in query.inputs.items()})
    return fn()


def grade(ns: dict) -> dict[str, float]:
    """Score of every test cell without a trained model, judged like the grader."""
    scores = {}
    for gid, (points, src) in test_cells().items():
        suite = C.declared(src)
        if any(isinstance(c.query, C.TrainedModel) for c in suite.checks):
            continue
        passed = total = 0.0
        for chk in suite.checks:
            total += chk.weight
            try:
                got = C.answer(chk.query, ns)
            except Exception:
                continue
            if C.compare(chk, got, expected_for(chk, chk.query), scale="tiny").passed:
                passed += chk.weight
        scores[gid] = points * passed / total
    return scores


def samples():
    return tomllib.loads(SAMPLES.read_text())["sample"]


def test_solution_passes_every_check_against_the_reference():
    scores = grade(namespace_for(solution_answers()))
    full = {gid: pts for gid, (pts, _) in test_cells().items() if gid in scores}
    assert scores == full
    assert sum(pts for pts, _ in test_cells().values()) == 28


def test_every_hidden_count_matches_the_hidden_block():
    for gid, (_, src) in test_cells().items():
        hidden_src = src.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0] \
            if "### BEGIN HIDDEN TESTS" in src else ""
        assert C.declared(src).hidden == hidden_src.count("check("), gid


def test_reference_reproduces_grosse_and_keras():
    from course.models.lenet import build_lenet5
    table = reference.lenet5_table()
    assert table[:, 3].sum() == build_lenet5().count_params() == 61706
    assert table[:, 2].sum() == 422824 and table[:, 1].sum() == 61470
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 9, 6, 2)), rng.standard_normal((4, 4, 2, 3))
    k = keras.ops.convert_to_numpy(keras.ops.conv(x.astype("float32"), w.astype("float32"), 2, "same"))
    # float32 Keras against float64 NumPy: absolute error ~1e-6 on values of order 1
    assert np.max(np.abs(reference.conv2d(x, w, stride=2, padding="same") - k)) < 1e-4


WRONG = [s for s in samples() if s["kind"] in ("wrong", "partial")
         and not set(s.get("answers", {})) & set(TRAINING)]


@pytest.mark.parametrize("sample", WRONG, ids=[s["name"] for s in WRONG])
def test_each_wrong_answer_fails_a_hidden_check_and_scores_as_expected(sample):
    answers = {} if sample.get("base") == "release" else solution_answers()
    answers.update(sample.get("answers", {}))
    scores = grade(namespace_for(answers))
    full = {gid: pts for gid, (pts, _) in test_cells().items() if gid in scores}
    assert scores != full, f"{sample['name']} passes every check"
    for gid, expected in sample.get("expected_cells", {}).items():
        if gid in scores:
            assert scores[gid] == pytest.approx(expected), gid
    if sample.get("base") == "solution":
        # cells without a trained model: the sample's total less the two training cells' 7
        assert sum(scores.values()) == pytest.approx(sample["expected"] - 7)
