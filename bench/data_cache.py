"""Seconds to load the data sets compressed (LZMA .npz) and from course.data's decoded copies.

    COURSE_DATA=../shared/data .venv/bin/python bench/data_cache.py [--repeat N]

One table, every figure measured in this run: a row per step, a column per state of the
decoded cache. Each figure is one fresh Python process that times the step itself
(interpreter and NumPy start-up excluded); with --repeat N, the median of N (min-max).

Columns:
  compressed  ``COURSE_DECODED=off``: the code path before decoded copies (the sha256 of
              the file, then ``np.load`` of its LZMA members)
  empty       decoded copies on, none made yet: this first load also writes them
  warm        decoded copies on, made by the run before
Rows:
  load cifar10 / load mnist   ``course.data.load(name)``
  view, first use             ``autograder.heldout.data_view`` on a fresh view cache: the
                              grader's first grading of a data folder (it cuts the test
                              splits; with decoded copies on, it also gives the view the
                              decoded copies of every file, decoding those not yet decoded)
  kernel: load cifar10        ``load("cifar10")`` in a notebook kernel of that view:
                              ``COURSE_DATA`` as the judge sets it (unsandboxed), an empty HOME

The load average is printed before and after: on a shared machine the figures are upper bounds.
Needs ~1.5 GB of free disk in the temporary folder (several empty caches), removed at the end.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

LOAD = "from course import data\nt = time.perf_counter()\ndata.load({!r})"
STEPS = {  # row -> (name of its caches, the code timed from t)
    "load cifar10": ("cifar10", LOAD.format("cifar10")),
    "load mnist": ("mnist", LOAD.format("mnist")),
    "view, first use": ("view", "from autograder.heldout import data_view\n"
                                "from course import data\nt = time.perf_counter()\n"
                                "view = data_view(data.data_dirs()[0])\n"
                                "open(os.environ['VIEW_ENV'], 'w').write("
                                "view.env_dirs(sandboxed=False))"),
    "kernel: load cifar10": ("kernel", LOAD.format("cifar10")),
}
COLUMNS = ("compressed", "empty", "warm")


def timed(code: str, env: dict[str, str]) -> float:
    done = subprocess.run([sys.executable, "-c", f"import os, time\n{code}\n"
                           "print(time.perf_counter() - t)"],
                          env=env, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip()[-2000:])
    return float(done.stdout.split()[-1])


def env_for(tmp: Path, step: str, column: str, base: dict[str, str]) -> dict[str, str]:
    """The environment of one figure: its own caches, so that no figure warms another's
    (the warm column reuses the empty column's decoded copies, which is its point)."""
    slug = STEPS[step][0]
    env = {**base, "COURSE_GRADER_CACHE": str(tmp / f"views-{column}"),
           "VIEW_ENV": str(tmp / f"view-env-{column}"),
           "COURSE_DECODED": "off" if column == "compressed" else str(tmp / f"decoded-{slug}")}
    if slug == "kernel":      # as the judge starts it: the view's folders, an empty HOME
        env["COURSE_DATA"] = (tmp / f"view-env-{column}").read_text()
        env["HOME"] = str(tmp / f"kernel-home-{column}")
        if column != "compressed":
            del env["COURSE_DECODED"]
    return env


def one_round(tmp: Path, base: dict[str, str]) -> dict[tuple[str, str], float]:
    """A row's three figures one after the other, so that they share the machine's load;
    the 1-minute load average after each is kept under the column "load"."""
    out = {}
    for step, (_, code) in STEPS.items():
        for column in COLUMNS:
            out[step, column] = timed(code, env_for(tmp, step, column, base))
            out[step, f"load {column}"] = os.getloadavg()[0]
            print(f"  {step:<22} {column:<10} {out[step, column]:7.2f} s   "
                  f"load average {out[step, f'load {column}']:.2f}", flush=True)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="example: COURSE_DATA=../shared/data "
                                            ".venv/bin/python bench/data_cache.py --repeat 3")
    parser.add_argument("--repeat", type=int, default=1, help="rounds (default 1)")
    args = parser.parse_args(argv)
    if not os.environ.get("COURSE_DATA"):
        parser.error("set COURSE_DATA to the data folder (e.g. ../shared/data)")
    base = {**os.environ, "COURSE_OFFLINE": "1"}
    base.pop("COURSE_DECODED", None)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    rounds = []
    for i in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="bench-data-") as tmp:
            print(f"round {i + 1} of {args.repeat}")
            rounds.append(one_round(Path(tmp), base))
    print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"\n| seconds ({os.cpu_count()} cores) | " + " | ".join(COLUMNS) + " | load average |")
    print("|---|" + "---:|" * (len(COLUMNS) + 1))
    for step in STEPS:
        cells = []
        for column in COLUMNS:
            values = [r[step, column] for r in rounds]
            cell = f"{statistics.median(values):.2f}"
            if len(values) > 1:
                cell += f" ({min(values):.2f}-{max(values):.2f})"
            cells.append(cell)
        loads = [r[step, f"load {c}"] for r in rounds for c in COLUMNS]
        cells.append(f"{min(loads):.1f}-{max(loads):.1f}")
        print(f"| {step} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
