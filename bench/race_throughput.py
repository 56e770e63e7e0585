"""Lab 04's race, the GPU column: inference images/s of the paper-size networks.

Builds each network the lab races at 224x224x3 with 1000 classes (random weights, nothing
downloaded; course.models' skeletons with lab 04's reference blocks), compiles its forward pass (`model.predict`, XLA under JAX), runs one warm-up
batch and then times `--batches` batches of `--batch` random images. Prints one RESULT line
per network (parameters, multiply-adds from autograder.reference.counting, images/s) and writes them as
JSON with `--json`.

On a CPU, prove that it runs (a few minutes; batch 2, one timed batch):

    python bench/race_throughput.py --quick

On the GPU machine (JAX backend; the keras, namex and optree wheels in .whl/ as in
../shared/gpu/README.md), one command:

    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD KERAS_BACKEND=jax \
        && python3 bench/race_throughput.py --batch 128 --batches 20 --json $OUT/race.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402  (after the path, so `course` imports from this checkout)

from autograder.reference import architecture_blocks as full  # noqa: E402
from course import models  # noqa: E402
from autograder.reference.counting import count_params, layer_table  # noqa: E402

# The race's paper-size networks, named as in course.imagenet_results.IMAGENET_TOP1.
RACE = {
    "AlexNet": lambda: full.build_alexnet_one_gpu(),
    "VGG-16": lambda: full.build_vgg(letter="D"),
    "NiN": lambda: full.build_nin(),
    "GoogLeNet": lambda: full.build_googlenet(branch3_kernel_size=3),
    "ResNet-18": lambda: full.build_resnet18(),
    "ResNet-50": lambda: full.build_resnet50(),
    "SE-ResNet-50": lambda: full.build_se_resnet50(),
    "DenseNet-121": lambda: full.build_densenet121(),
    "MobileNetV2": lambda: models.build_mobilenet_v2(),
}


def measure(name: str, batch: int, batches: int) -> dict:
    """Build one network, count it, time its compiled forward pass; return a result row."""
    model = RACE[name]()
    x = np.random.default_rng(0).random((batch, 224, 224, 3), dtype=np.float32)
    model.predict(x, batch_size=batch, verbose=0)            # compile and warm up
    start = time.perf_counter()
    for _ in range(batches):
        model.predict(x, batch_size=batch, verbose=0)
    seconds = time.perf_counter() - start
    return {"network": name, "parameters": count_params(model),
            "multiply_adds": layer_table(model, include_bias=False).total_connections,
            "images_per_s": batch * batches / seconds, "batch": batch}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="batch 2, one timed batch (a CPU smoke test)")
    parser.add_argument("--only", nargs="+", choices=sorted(RACE), help="race only these networks")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    batch, batches = (2, 1) if args.quick else (args.batch, args.batches)
    devices = "CPU"
    if keras.backend.backend() == "jax":
        import jax
        devices = ", ".join(sorted({d.device_kind for d in jax.devices()}))
    rows = []
    for name in args.only or RACE:
        row = measure(name, batch, batches)
        rows.append(row)
        print(f"RESULT {name:13s} params={row['parameters']:>11,} madds={row['multiply_adds'] / 1e9:6.2f}G "
              f"images_per_s={row['images_per_s']:9.1f} batch={batch} backend={keras.backend.backend()} "
              f"device={devices}", flush=True)
        keras.backend.clear_session()
    if args.json:
        args.json.write_text(json.dumps({"device": devices, "backend": keras.backend.backend(), "rows": rows},
                                        indent=1))


if __name__ == "__main__":
    main()
