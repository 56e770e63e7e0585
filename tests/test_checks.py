"""course.checks: every check runs, failures read as advice, declarations replay as data."""
import numpy as np
import pytest

from course.checks import (call, check, checks, compare, declared, randn, rel_error, report,
                           run, value, Outcome)


def linear_forward(x, W, b):
    return x @ W + b


def test_recipes_build_the_same_array_every_time():
    a, b = randn(3, 4, seed=7).make(), randn(3, 4, seed=7).make()
    assert a.shape == (3, 4) and np.array_equal(a, b)
    assert not np.array_equal(a, randn(3, 4, seed=8).make())


def test_every_check_runs_after_a_failure_and_an_exception(capsys):
    def broken(*_):
        raise ZeroDivisionError("boom")

    namespace = {"linear_forward": linear_forward, "broken": broken}
    exec(compile('checks("cell", '
                 'check("raises", call("broken", 1), expect=1), '
                 'check("wrong value", call("linear_forward", [[1.0]], [[2.0]], [1.0]), expect=[[4.0]]), '
                 'check("right value", call("linear_forward", [[1.0]], [[2.0]], [1.0]), expect=[[3.0]]))',
                 "<cell>", "exec"),
         dict(namespace, checks=checks, check=check, call=call))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "FAIL  raises: raised ZeroDivisionError: boom"
    assert lines[1].startswith("FAIL  wrong value: expected [4.]")
    assert lines[2] == "PASS  right value"
    assert lines[3] == "[cell] 1 of 3 checks passed"


def test_transposed_answer_is_named():
    chk = check("dW", call("f"), shape=(5, 3))
    outcome = compare(chk, np.zeros((3, 5)))
    assert not outcome.passed and "transpose" in outcome.detail


def test_unsummed_batch_axis_is_named():
    chk = check("db", call("f"), expect=[1.0, 2.0, 3.0])
    outcome = compare(chk, np.ones((4, 3)))
    assert not outcome.passed and "batch axis" in outcome.detail


def test_sign_flip_is_named():
    chk = check("step", call("f"), expect=[1.0, -2.0])
    outcome = compare(chk, np.array([-1.0, 2.0]))
    assert not outcome.passed and "sign is flipped" in outcome.detail


def test_tolerance_is_relative_error():
    chk = check("v", call("f"), expect=[1.0], tol=1e-6)
    assert compare(chk, np.array([1.0 + 1e-9])).passed
    assert not compare(chk, np.array([1.0 + 1e-3])).passed
    assert rel_error([1.0], [1.0 + 1e-3]) == pytest.approx(1e-3 / (2 + 1e-3))


def test_bounds_by_scale():
    chk = check("accuracy", value("acc"), above={"tiny": 0.5, "cpu": 0.98})
    assert compare(chk, 0.7, scale="tiny").passed
    assert not compare(chk, 0.7, scale="cpu").passed


def test_reference_checks_select_keys_on_both_sides():
    chk = check("dW", run("pass", ("dW",)), ref="r", key="dW")
    assert compare(chk, {"dW": np.eye(2)}, {"dW": np.eye(2), "dx": 0}).passed
    assert not compare(chk, {"dx": np.eye(2)}, {"dW": np.eye(2)}).passed


def test_malformed_answers_fail_without_raising():
    chk = check("v", call("f"), expect=[1.0, 2.0])
    for bad in ("text", None, object(), np.array([np.nan, 1.0])):
        assert compare(chk, bad).passed is False


def test_report_never_says_all_passed_while_checks_remain():
    released = report("cell", [Outcome("a", True)], hidden=2)
    assert "all" not in released and "2 more checked when your notebook is graded" in released
    # The instructor's copy runs its hidden reference checks as undecided lines: not twice.
    source = report("cell", [Outcome("a", True), Outcome("b", None), Outcome("c", None)], hidden=2)
    assert "all" not in source and "2 more checked when your notebook is graded" in source
    assert report("cell", [Outcome("a", True)]).endswith("all 1 checks passed")


def test_declared_collects_without_running():
    source = ('checks("cell-checks",\n'
              '    check("shape", call("never_defined", randn(2, 3)), shape=(2, 3)),\n'
              '    check("ref", call("never_defined", randn(1, 3, seed=4)), ref="f"),\n'
              '    hidden=1,\n)')
    suite = declared(source)
    assert suite.cell_id == "cell-checks" and suite.hidden == 1
    assert [c.label for c in suite.checks] == ["shape", "ref"]


def test_a_check_must_state_something():
    with pytest.raises(ValueError, match="states nothing"):
        check("empty", call("f"))
