"""course.env: one-line report, seeds, scale resolution, by_scale, Colab helpers."""
import importlib
import os
import subprocess
import sys

import numpy as np
import pytest

from course import env


@pytest.fixture(autouse=True)
def _fresh_state(monkeypatch):
    monkeypatch.setattr(env, "_current", None)
    monkeypatch.delenv("COURSE_SCALE", raising=False)


def test_import_course_does_not_import_keras():
    code = ("import sys, course, course.env, course.data; "
            "assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules, "
            "sorted(m for m in sys.modules if m.startswith(('keras', 'tensorflow')))")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_setup_prints_one_line_and_returns_env():
    lines = []
    e = env.setup(seed=3, print_fn=lines.append)
    assert len(lines) == 1 and "\n" not in lines[0]
    assert f"scale={e.scale}" in lines[0] and e.backend in lines[0] and e.device in lines[0]
    assert e.seed == 3 and e.on_colab is False
    assert e.scale == "cpu" if e.device == "CPU" else e.scale == "gpu"
    assert env.current() is e and env.scale() == e.scale
    with pytest.raises(dataclasses_frozen_error()):
        e.scale = "gpu"


def dataclasses_frozen_error():
    import dataclasses
    return dataclasses.FrozenInstanceError


def test_setup_fixes_seeds():
    env.setup(seed=7, print_fn=None)
    a = np.random.rand(3)
    import keras
    k = keras.ops.convert_to_numpy(keras.random.normal((3,)))
    env.setup(seed=7, print_fn=None)
    assert np.array_equal(a, np.random.rand(3))
    assert np.array_equal(k, keras.ops.convert_to_numpy(keras.random.normal((3,))))


def test_scale_from_argument_then_environment(monkeypatch):
    assert env.setup(scale="tiny", print_fn=None).scale == "tiny"
    monkeypatch.setenv("COURSE_SCALE", "GPU")
    assert env.setup(print_fn=None).scale == "gpu"
    assert env.setup(scale="cpu", print_fn=None).scale == "cpu"


def test_bad_scale_says_what_is_allowed(monkeypatch):
    monkeypatch.setenv("COURSE_SCALE", "huge")
    with pytest.raises(ValueError, match="tiny, cpu, gpu.*'huge'"):
        env.setup(print_fn=None)


def test_scale_without_setup_reads_environment(monkeypatch):
    monkeypatch.setenv("COURSE_SCALE", "tiny")
    assert env.scale() == "tiny"


@pytest.mark.parametrize("scale, expected", [("tiny", 1), ("cpu", 3), ("gpu", 15)])
def test_by_scale_picks_current(monkeypatch, scale, expected):
    monkeypatch.setenv("COURSE_SCALE", scale)
    assert env.by_scale(tiny=1, cpu=3, gpu=15) == expected


def test_by_scale_borrows_from_neighbour(monkeypatch):
    assert env.by_scale(tiny=1, cpu=3, scale_name="gpu") == 3
    assert env.by_scale(cpu=3, gpu=9, scale_name="tiny") == 3
    assert env.by_scale(tiny=1, scale_name="gpu") == 1
    with pytest.raises(ValueError):
        env.by_scale()


def test_repo_url_is_configurable(monkeypatch):
    monkeypatch.setenv("COURSE_REPO_URL", "https://github.com/someone/fork/")
    try:
        fresh = importlib.reload(env)
        assert fresh.REPO_URL == "https://github.com/someone/fork"
        assert fresh.colab_url("labs/00-orientation/00-orientation.ipynb") == (
            "https://colab.research.google.com/github/someone/fork/blob/main/"
            "labs/00-orientation/00-orientation.ipynb")
    finally:
        monkeypatch.delenv("COURSE_REPO_URL")
        importlib.reload(env)
    assert env.REPO_URL == env.DEFAULT_REPO_URL


def test_colab_detection(monkeypatch):
    assert not env.on_colab()
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab-x")
    assert env.on_colab()


@pytest.mark.slow
def test_setup_under_jax_backend():
    """The same call works under a second Keras backend (the GPU machines run JAX)."""
    pytest.importorskip("jax")
    code = ("import course.env as e; env = e.setup(seed=1, scale='tiny'); "
            "assert env.backend == 'jax', env; print(env.device)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "KERAS_BACKEND": "jax"})
    assert r.returncode == 0, r.stderr[-2000:]
    assert "on jax" in r.stdout and "scale=tiny" in r.stdout


def test_by_scale_takes_an_explicit_none_as_a_value():
    assert env.by_scale(tiny=2000, cpu=None, scale_name="cpu") is None
    assert env.by_scale(tiny=2000, cpu=None, scale_name="gpu") is None
    assert env.by_scale(tiny=2000, scale_name="cpu") == 2000


@pytest.mark.parametrize("log_level", [None, "0"])
def test_setup_in_a_fresh_process_prints_one_line_and_nothing_on_stderr(log_level):
    # TensorFlow writes absl/CUDA start-up lines to fd 2 at import, whatever the log level,
    # and its GPU probe a cuInit error below level 3: setup() drops them, so a lab's setup
    # cell shows one line, even where the user's environment lowers the level
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    if log_level is not None:
        env["TF_CPP_MIN_LOG_LEVEL"] = log_level
    done = subprocess.run([sys.executable, "-c", "import course.env; course.env.setup()"],
                          capture_output=True, text=True, check=True, env=env)
    assert done.stderr == "", done.stderr
    assert len(done.stdout.splitlines()) == 1 and done.stdout.startswith("course: keras")


def test_a_grading_worker_loads_a_reference_with_nothing_on_stderr():
    # The grader's workers are not labs and never call setup(); lab 05's references load the
    # backbone with Keras, whose start-up lines would fill the instructor's console
    code = ("import numpy as np; from autograder.judge import reference_module; "
            "reference_module('05-transfer').source_probabilities('resnet20_cifar_animals', "
            "np.zeros((1, 32, 32, 3)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"})
    assert done.stderr == "", done.stderr


def test_native_lines_other_than_startup_logs_still_reach_stderr():
    code = ("import os, course.env\n"
            "with course.env._native_startup_lines_dropped():\n"
            "    os.write(2, b'I0000 00:00:1796007107.936856   10730 port.cc:153] oneDNN custom operations are on\\n')\n"
            "    os.write(2, b'a real problem\\n')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stderr == "a real problem\n"
