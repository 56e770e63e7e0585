"""Calibrate lab 05's thresholds: run the solution's recipe over seeds, print accuracy.

The capstone (`capstone_recipe` in solutions/05-transfer) is graded by its accuracy on the
vehicle images of CIFAR-10's test split that the grader holds out, with a threshold per
scale that the reference recipe must clear on every seed tried, with a margin. This script
takes the recipe from the solution notebook itself (its imports, its setup cells up to Part 1,
and every function it defines, nothing else), then for each seed draws the labelled images
with `split_labelled(..., seed=seed)`, trains, and measures on the grader's held-out half
exactly as the grader does (`course.checks.model_accuracy`, classes 0, 1, 8, 9, limit 2000).
One RESULT line per seed.

    COURSE_DATA=../shared/data python bench/calibrate_lab05.py --scale tiny --seeds 0 1 2
    COURSE_DATA=../shared/data python bench/calibrate_lab05.py --scale cpu --seeds 0 1 2
    # online only (ImageNet weights): ants vs bees, measured on hymenoptera's 153 val images
    COURSE_DATA=../shared/data python bench/calibrate_lab05.py --scale cpu --backbone mobilenet_v2_imagenet

With `--part grid` it calibrates instead the strategy grid's visible bar ("every run on the
near task is well above chance"): it runs the notebook's own grid cell on the near task only,
with the seed tried in place of its two seeds (the labelled split's, 1 + seed, and Keras's,
seed: seed 0 is the notebook's run), and prints the lowest of the eight accuracies per seed.

    COURSE_DATA=../shared/data python bench/calibrate_lab05.py --part grid --scale cpu --seeds 0 1 2
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "solutions" / "05-transfer" / "05-transfer.ipynb"
VEHICLES = (0, 1, 8, 9)
LIMIT = 2000          # as the capstone's trained_model check


def recipe_namespace(source: Path = SOURCE) -> dict:
    """The solution notebook's setup (every code cell before Part 1, the Colab cell aside) and
    the functions and UPPER_CASE constants of the cells after it; no experiment runs."""
    nb = json.loads(source.read_text())
    ns: dict = {"__name__": "calibrate_lab05"}
    setup = True
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            setup = setup and not text.startswith("## Part 1")
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution") or "google.colab" in text:
            continue                                       # test cells, the Colab install
        text = "\n".join(l for l in text.splitlines() if l.strip() not in
                         ("### BEGIN SOLUTION", "### END SOLUTION"))
        tree = ast.parse(text)
        if not setup:
            tree.body = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.Import, ast.ImportFrom))
                         or isinstance(n, ast.Assign) and all(isinstance(t, ast.Name) and t.id.isupper()
                                                               for t in n.targets)]
        exec(compile(tree, f"<{source.name}>", "exec"), ns)
    return ns


def code_cell_before(grade_id: str, source: Path = SOURCE) -> str:
    """The source of the code cell just before the test cell `grade_id` (the experiment it checks)."""
    cells = json.loads(source.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    index = next(i for i, c in enumerate(code)
                 if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id)
    return "".join(code[index - 1]["source"])


def seeded_grid(seed: int) -> ast.Module:
    """The grid cell with `seed` in place of its seeds, its far target dropped and its plot
    left out (statements after `heatmap = ...`). Fails loudly if the cell no longer has them."""
    text = code_cell_before("transfer-grid-checks")
    for old, new in [("seed=1)", f"seed={1 + seed})"), ("set_random_seed(0)", f"set_random_seed({seed})")]:
        if old not in text:
            raise SystemExit(f"the grid cell has no `{old}` any more: update seeded_grid")
        text = text.replace(old, new)
    tree = ast.parse(text)
    names = [[t.id for t in n.targets if isinstance(t, ast.Name)] if isinstance(n, ast.Assign) else []
             for n in tree.body]
    end = next(i for i, n in enumerate(names) if "heatmap" in n)
    where = next(i for i, n in enumerate(names) if "targets" in n)
    near_only = ast.parse('targets = {"near": targets["near"]}').body
    tree.body = tree.body[:where + 1] + near_only + tree.body[where + 1:end + 1]
    return tree


def calibrate_grid(ns: dict, seeds: list[int]) -> None:
    """One RESULT line per seed: the near rows of the grid and their lowest accuracy."""
    lows = []
    for seed in seeds:
        start = time.perf_counter()
        exec(compile(seeded_grid(seed), f"<grid seed {seed}>", "exec"), ns)
        lows.append(float(ns["heatmap"].min()))
        rows = "; ".join(f"{size} " + " ".join(f"{a:.3f}" for a in row.values())
                         for (_, size), row in ns["grid"].items())
        print(f"RESULT part=grid scale={os.environ['COURSE_SCALE']} seed={seed} "
              f"seconds={time.perf_counter() - start:.0f} near_low={lows[-1]:.4f} ({rows})", flush=True)
    print(f"min {min(lows):.4f}  mean {np.mean(lows):.4f}  max {max(lows):.4f}")


def heldout_vehicles():
    """The grader's held-out half of CIFAR-10's test split (autograder/heldout.py)."""
    from autograder.heldout import data_view, default_data_dir
    held = data_view(default_data_dir()).heldout("cifar10")
    if held is None:
        raise SystemExit("no held-out CIFAR-10: set COURSE_DATA to the folder holding cifar10_*.npz")
    return held


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=["tiny", "cpu", "gpu"], required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--backbone", default="resnet20_cifar_animals")
    parser.add_argument("--part", choices=["capstone", "grid"], default="capstone")
    args = parser.parse_args()
    os.environ["COURSE_SCALE"] = args.scale
    ns = recipe_namespace()
    if args.part == "grid":
        calibrate_grid(ns, args.seeds)
        return
    import keras

    from course import checks, data
    by_scale, as_float = ns["by_scale"], ns["as_float"]
    n_val = by_scale(tiny=20, cpu=50, gpu=100)
    imagenet = args.backbone == "mobilenet_v2_imagenet"
    if imagenet:           # all 244 training photos; the 153 val photos validate and test
        (x, y), (x_val, y_val) = data.load("hymenoptera")
        y, y_val = y.astype("int64"), y_val.astype("int64")
    accuracies = []
    for seed in args.seeds:
        keras.utils.set_random_seed(seed)
        if imagenet:
            train_set, val_set, classes = (as_float(x), y), (as_float(x_val), y_val), 2
        else:
            train, val = ns["split_labelled"](ns["near_y"], ns["N_CAPSTONE"], n_val, seed=seed)
            near_x, near_y = ns["near_x"], ns["near_y"]
            train_set, val_set, classes = (as_float(near_x[train]), near_y[train]), \
                (as_float(near_x[val]), near_y[val]), 4
        start = time.perf_counter()
        model = ns["capstone_recipe"](args.backbone, *train_set, *val_set, classes, ns["CAPSTONE_BUDGET"])
        seconds = time.perf_counter() - start
        if imagenet:
            acc = checks.model_accuracy(model, x_val, y_val)
        else:
            acc = checks.model_accuracy(model, *heldout_vehicles(), limit=LIMIT, classes=VEHICLES)
        accuracies.append(acc)
        print(f"RESULT backbone={args.backbone} scale={args.scale} seed={seed} train_s={seconds:.0f} "
              f"heldout_acc={acc:.4f}", flush=True)
    print(f"min {min(accuracies):.4f}  mean {np.mean(accuracies):.4f}  max {max(accuracies):.4f}")


if __name__ == "__main__":
    main()
