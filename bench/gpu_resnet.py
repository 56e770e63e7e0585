"""Training throughput of the CIFAR ResNet-20 builder and of keras.applications.ResNet50.

Trains the CIFAR ResNet-20 (`autograder.reference.architecture_blocks.build_cifar_resnet`) for a few epochs of CIFAR-10 in float32 and in
`mixed_bfloat16`, and times keras.applications.ResNet50 (weights=None) on random
224x224 images, reporting images per second after a warm-up (XLA compilation
excluded) and the test accuracy ResNet-20 reached.

On a CPU, prove that it runs (about a minute):

    KERAS_BACKEND=jax python bench/gpu_resnet.py --quick

On the GPU machine (JAX backend; recipe in ../shared/gpu/README.md: the keras, namex
and optree wheels in .whl/, the CIFAR-10 parts copied into .gpu/c1, .gpu/c2, .gpu/c3
and from there to /tmp/data by earlier calls of the same warm session), one command:

    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD KERAS_BACKEND=jax \
        && python3 bench/gpu_resnet.py --data /tmp/data --epochs 5 --json $OUT/gpu_resnet.json

Data: `--data DIR` holding `cifar10_train_1..5.npz` and `cifar10_test.npz` (the
layout of ../shared/data); without it `course.data.load("cifar10")`; if neither
works, random images (the throughput is the same, the accuracy meaningless, and the
report says so).
"""

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

from autograder.reference.architecture_blocks import build_cifar_resnet  # noqa: E402


def load_cifar10(data_dir, limit=None):
    """Return ((x, y), (xt, yt), source) as float32 in [0, 1] and int labels, shuffled."""
    source = None
    try:
        if data_dir:
            d = Path(data_dir)
            parts = [np.load(d / f"cifar10_train_{i}.npz") for i in range(1, 6)]
            x = np.concatenate([p["x_train"] for p in parts])
            y = np.concatenate([p["y_train"] for p in parts])
            t = np.load(d / "cifar10_test.npz")
            xt, yt = t["x_test"], t["y_test"]
            source = f"CIFAR-10 from {d}"
        else:
            from course import data

            (x, y), (xt, yt) = data.load("cifar10")
            source = "CIFAR-10 from course.data"
    except Exception as err:  # any failure: fall back to random data, and say so
        print(f"no CIFAR-10 ({type(err).__name__}: {err}); using random images")
        rng = np.random.default_rng(0)
        x = rng.integers(0, 256, (50_000, 32, 32, 3), dtype=np.uint8)
        y = rng.integers(0, 10, 50_000)
        xt = rng.integers(0, 256, (10_000, 32, 32, 3), dtype=np.uint8)
        yt = rng.integers(0, 10, 10_000)
        source = "random images (accuracy meaningless)"
    rng = np.random.default_rng(0)
    # The shared copy is sorted by class: shuffle both splits before any subset.
    order, order_t = rng.permutation(len(x)), rng.permutation(len(xt))
    x, y = x[order], np.asarray(y).reshape(-1)[order]
    xt, yt = xt[order_t], np.asarray(yt).reshape(-1)[order_t]
    if limit:
        x, y, xt, yt = x[:limit], y[:limit], xt[: limit // 4], yt[: limit // 4]
    as_float = lambda a: a.astype("float32") / 255.0  # noqa: E731
    return (as_float(x), y.astype("int32")), (as_float(xt), yt.astype("int32")), source


class EpochTimer(keras.callbacks.Callback):
    """Wall-clock seconds of every epoch."""

    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def bench_resnet20(train, test, *, policy, epochs, batch_size):
    """Train ResNet-20; images/s over the epochs after the first (which compiles)."""
    keras.mixed_precision.set_global_policy(policy)
    keras.utils.set_random_seed(0)
    model = build_cifar_resnet(classifier_activation=None)
    model.compile(
        optimizer=keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    timer = EpochTimer()
    (x, y), (xt, yt) = train, test
    model.fit(x, y, batch_size=batch_size, epochs=epochs, callbacks=[timer], verbose=0)
    _, accuracy = model.evaluate(xt, yt, batch_size=batch_size, verbose=0)
    timed = timer.seconds[1:] or timer.seconds
    return {
        "model": "resnet20 (course.models)", "policy": policy, "input": "32x32x3",
        "batch_size": batch_size, "epochs": epochs,
        "first_epoch_s": round(timer.seconds[0], 2),
        "images_per_s": round(len(x) * len(timed) / sum(timed), 1),
        "test_accuracy": round(float(accuracy), 4),
    }


def bench_resnet50(*, policy, steps, batch_size):
    """Train keras.applications.ResNet50 on random 224x224 images; images/s after warm-up."""
    keras.mixed_precision.set_global_policy(policy)
    keras.utils.set_random_seed(0)
    model = keras.applications.ResNet50(weights=None, input_shape=(224, 224, 3), classes=1000)
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                  loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.random((batch_size * steps, 224, 224, 3), dtype=np.float32)
    y = rng.integers(0, 1000, batch_size * steps)
    timer = EpochTimer()
    model.fit(x, y, batch_size=batch_size, epochs=2, callbacks=[timer], verbose=0)
    return {
        "model": "keras.applications.ResNet50", "policy": policy, "input": "224x224x3 random",
        "batch_size": batch_size, "steps": steps,
        "first_epoch_s": round(timer.seconds[0], 2),
        "images_per_s": round(len(x) / timer.seconds[1], 1),
    }


def device_description():
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return f"jax {jax.__version__}: {', '.join(str(d) for d in jax.devices())}"
    return f"{backend} backend"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to check it runs on a CPU")
    parser.add_argument("--data", help="folder with cifar10_train_1..5.npz and cifar10_test.npz")
    parser.add_argument("--epochs", type=int, default=5, help="ResNet-20 epochs (the first is warm-up)")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--r50-batch-size", type=int, default=128)
    parser.add_argument("--r50-steps", type=int, default=30)
    parser.add_argument("--policies", default="float32,mixed_bfloat16")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    limit = None
    if args.quick:
        limit, args.epochs, args.batch_size = 2048, 2, 128
        args.r50_batch_size, args.r50_steps = 4, 2
    train, test, source = load_cifar10(args.data, limit)
    print(f"{device_description()}; keras {keras.__version__}; data: {source}, {len(train[1])} train images")
    results = []
    for policy in args.policies.split(","):
        for run in (
            lambda: bench_resnet20(train, test, policy=policy, epochs=args.epochs, batch_size=args.batch_size),
            lambda: bench_resnet50(policy=policy, steps=args.r50_steps, batch_size=args.r50_batch_size),
        ):
            result = run()
            results.append(result)
            print(json.dumps(result))
    keras.mixed_precision.set_global_policy("float32")
    print(f"\n{'model':<30} {'policy':<15} {'batch':>6} {'images/s':>10} {'test acc':>9}")
    for r in results:
        acc = f"{r['test_accuracy']:.3f}" if "test_accuracy" in r else ""
        print(f"{r['model']:<30} {r['policy']:<15} {r['batch_size']:>6} {r['images_per_s']:>10,.0f} {acc:>9}")
    if args.json:
        report = {"device": device_description(), "data": source, "quick": args.quick, "results": results}
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
