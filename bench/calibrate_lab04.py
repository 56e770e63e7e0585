"""Calibrate lab 04's accuracy threshold: train its deepest residual net over seeds.

Lab 04 grades `deep_residual`, the deepest ResNet of its degradation experiment, by
accuracy on held-out CIFAR-10 images, with a threshold per scale. A threshold must be met
by the lab's recipe on every seed tried, with a margin. This script trains exactly that
recipe, with the course's builder of the same network (He et al.'s CIFAR ResNet with
projection shortcuts, `autograder.reference.architecture_blocks.build_cifar_net(depth)`): the first N_TRAIN
images of `course.data.load("cifar10")`, standardized per channel and average-pooled by
FACTOR inside the model (batch norm with momentum 0.9, as in the lab's blocks), Adam with a
learning rate of 2e-3 decayed along a cosine, batch 128 (32 at tiny scale). It prints one
RESULT line per seed, with the accuracy on each half of the shuffled test split: the grader
measures a stratified half of 5,000 images the notebook never loads, and the two halves here
show how much such a half varies.

    # tiny and cpu scale, on this machine (TensorFlow):
    python bench/calibrate_lab04.py --scale tiny --seeds 0 1 2 3 4
    python bench/calibrate_lab04.py --scale cpu --seeds 0 1 2
    # gpu scale, on the GPU machine (JAX; see ../shared/gpu/README.md for the wheels and data):
    python3 bench/calibrate_lab04.py --scale gpu --seeds 0 1 2
"""
from __future__ import annotations

import argparse
import time

import numpy as np

# What the lab does at each scale (solutions/04-architectures: N_TRAIN, EPOCHS, BATCH, FACTOR, DEPTHS).
SCALES = {
    "tiny": {"n_train": 1000, "epochs": 1, "batch": 32, "factor": 2, "depth": 8},
    "cpu": {"n_train": 10000, "epochs": 4, "batch": 128, "factor": 2, "depth": 32},
    "gpu": {"n_train": 50000, "epochs": 15, "batch": 128, "factor": 1, "depth": 56},
}


def run(scale: str, seed: int) -> tuple[float, float, float]:
    """Train the lab's deepest residual net once; return (accuracy on test half 1, half 2, seconds)."""
    import keras

    from course import data
    from autograder.reference.architecture_blocks import build_cifar_net

    cfg = SCALES[scale]
    (x, y), (x_test, y_test) = data.load("cifar10", print_fn=None)
    x = x[:cfg["n_train"]].astype("float32") / 255
    y = y[:cfg["n_train"]].ravel()
    keras.utils.set_random_seed(seed)
    size = 32 // cfg["factor"]
    net = build_cifar_net(cfg["depth"], input_shape=(size, size, 3), num_classes=10, shortcut="B")
    inputs = keras.Input((32, 32, 3))
    h = keras.layers.Normalization(mean=x.mean(axis=(0, 1, 2)), variance=x.var(axis=(0, 1, 2)))(inputs)
    if cfg["factor"] > 1:
        h = keras.layers.AveragePooling2D(cfg["factor"])(h)
    model = keras.Model(inputs, net(h))
    steps = cfg["epochs"] * -(-len(x) // cfg["batch"])
    model.compile(keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(2e-3, steps)),
                  "sparse_categorical_crossentropy")
    start = time.perf_counter()
    model.fit(x, y, batch_size=cfg["batch"], epochs=cfg["epochs"], verbose=0)
    seconds = time.perf_counter() - start
    predicted = np.asarray(model.predict(x_test.astype("float32") / 255, batch_size=512, verbose=0)).argmax(-1)
    right = predicted == y_test.ravel()
    half = len(right) // 2
    return float(right[:half].mean()), float(right[half:].mean()), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=sorted(SCALES), required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    accuracies = []
    for seed in args.seeds:
        first, second, seconds = run(args.scale, seed)
        accuracies += [first, second]
        print(f"RESULT scale={args.scale} seed={seed} train_s={seconds:.1f} "
              f"test_acc_half1={first:.4f} test_acc_half2={second:.4f}", flush=True)
    print(f"min {min(accuracies):.4f}  mean {np.mean(accuracies):.4f}  max {max(accuracies):.4f}")


if __name__ == "__main__":
    main()
