"""Calibrate lab 03's capstone thresholds: run the solution's capstone cell over seeds.

Lab 03's capstone is graded by the accuracy of `capstone_model` on CIFAR-10 test images the
notebook never loads (the grader's held-out half), with a threshold per scale. A threshold
must be met by the reference recipe on every seed tried, with a margin. So that the
calibrated recipe is exactly the one the solution trains, this script executes the
solution notebook's own cells (its imports, the CIFAR-10 data, `build_vgg_small`, the
capstone's data and answer cell, with the answer's random seed replaced) and measures the
model on the grader's held-out half (autograder/heldout.py) and on the notebook's half.
One RESULT line per seed, then the minimum, mean and maximum. The training budget is wall
clock, as in the notebook: on a loaded machine fewer epochs fit, so calibrate on a machine
no faster than the students'; `--budget SECONDS` replaces the notebook's budget (a large
one measures the recipe's full epochs, whatever the machine).

    # tiny and cpu scale, on this machine (TensorFlow); COURSE_DATA must hold CIFAR-10:
    COURSE_DATA=../shared/data python bench/calibrate_lab03.py --scale tiny --seeds 0 1 2 3 4
    COURSE_DATA=../shared/data python bench/calibrate_lab03.py --scale cpu --seeds 0 1 2 3 4
    # gpu scale, on the GPU machine (JAX; see ../shared/gpu/README.md for the wheels and data):
    python3 bench/calibrate_lab03.py --scale gpu --seeds 0 1 2 3 4

Measured (TensorFlow 2.21, Keras 3.15.1, the shared 2-core machine, seeds 0-4; held-out
accuracy, the load average of each run in its RESULT line):
    tiny (budget 90 s; 8 epochs in 23-42 s, load 9.9-13.3): 0.4138 to 0.4304, mean 0.4230
    cpu (budget 180 s; 185-195 s, load 9.8-18.0):           0.6226 to 0.6558, mean 0.6418
Re-measured after Part 2's network changed (capstone cells unchanged; 2026-11-30, load 2-4):
    tiny (seeds 0-4, 11-20 s of training):        0.4138 to 0.4304, mean 0.4230
    cpu (seeds 0-2, 30 epochs in 111-117 s):      0.6342 to 0.6570, mean 0.6490
Under a load of 8-40 the 180 s cpu budget planned 12 of 30 epochs and one run reached 0.4976
(tiny: 0.2913): a heavily loaded machine fails these thresholds; the budgets stay a bound.
The lab's thresholds are 0.3 (tiny) and 0.6 (cpu); gpu keeps 0.6 until the gpu command
above is run on a GPU machine (not yet measured).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "solutions" / "03-regularization" / "03-regularization.ipynb"
# the cells the capstone needs, by how their source starts
NEEDED = ("import time", "(cifar_train_x, cifar_train_y), (cifar_test_x", "(fash_x, fash_y), (fash_xt",
          "def build_vgg_small",
          "N_CAPSTONE = ")
CAPSTONE = "regularization-capstone"
SEED_LINE = re.compile(r"keras\.utils\.set_random_seed\(0\)")


def notebook_cells() -> tuple[list[str], str]:
    """(the sources of the needed setup cells, in order; the capstone answer cell)."""
    cells = json.loads(SOURCE.read_text(encoding="utf-8"))["cells"]
    code = [("".join(c["source"]), c.get("metadata", {}).get("nbgrader", {}).get("grade_id"))
            for c in cells if c["cell_type"] == "code"]
    setup = [next(src for src, _ in code if src.startswith(start)) for start in NEEDED]
    answer = next(src for src, gid in code if gid == CAPSTONE)
    answer = "".join(line for line in answer.splitlines(True)
                     if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))
    if len(SEED_LINE.findall(answer)) != 1:
        raise RuntimeError("the capstone cell must seed once with keras.utils.set_random_seed(0)")
    return setup, answer


def held_out_cifar() -> tuple[np.ndarray, np.ndarray]:
    """The CIFAR-10 test images the grader measures on (the half the notebook never sees)."""
    from autograder.heldout import data_view, default_data_dir
    data_dir = default_data_dir()
    if data_dir is None:
        raise SystemExit("set COURSE_DATA to a folder holding CIFAR-10 (e.g. ../shared/data)")
    held = data_view(Path(data_dir)).heldout("cifar10")
    if held is None:
        raise SystemExit(f"{data_dir} has no CIFAR-10 test split")
    return held


def run(seed: int, ns: dict, answer: str, held) -> tuple[float, float, float]:
    """Train the capstone once in the notebook's namespace `ns`; return (held-out accuracy,
    notebook-half accuracy, seconds)."""
    import keras
    keras.backend.clear_session()
    start = time.perf_counter()
    exec(compile(SEED_LINE.sub(f"keras.utils.set_random_seed({seed})", answer), "<capstone>", "exec"), ns)
    seconds = time.perf_counter() - start
    from course.checks import model_accuracy
    model = ns["capstone_model"]
    notebook_half = float(np.mean(model.predict(ns["cifar_xt"], batch_size=512, verbose=0).argmax(-1)
                                  == ns["cifar_yt"]))
    return model_accuracy(model, held[0], held[1]), notebook_half, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=["tiny", "cpu", "gpu"], required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds of training instead of the notebook's CAPSTONE_BUDGET")
    args = parser.parse_args()
    os.environ["COURSE_SCALE"] = args.scale
    import matplotlib
    matplotlib.use("Agg")
    setup, answer = notebook_cells()
    held = held_out_cifar()
    ns: dict = {"__name__": "calibrate_lab03"}
    for source in setup:
        exec(compile(source, "<lab 03 cell>", "exec"), ns)
    if args.budget is not None:
        ns["CAPSTONE_BUDGET"] = args.budget
    accuracies = []
    for seed in args.seeds:
        acc, notebook_half, seconds = run(seed, ns, answer, held)
        accuracies.append(acc)
        print(f"RESULT capstone scale={args.scale} seed={seed} budget={ns['CAPSTONE_BUDGET']:g} train_s={seconds:.0f} "
              f"heldout_acc={acc:.4f} notebook_half_acc={notebook_half:.4f} load={os.getloadavg()[0]:.1f}",
              flush=True)
    print(f"scale={args.scale}: min {min(accuracies):.4f}  mean {np.mean(accuracies):.4f}  "
          f"max {max(accuracies):.4f} over {len(accuracies)} seeds")


if __name__ == "__main__":
    main()
