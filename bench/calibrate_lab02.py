"""Calibrate lab 02's accuracy thresholds: train its recipe over seeds, print test accuracy.

Lab 02 grades the trained MNIST and CIFAR-10 networks by accuracy on held-out images, with
a threshold per scale. A threshold must be met by the reference recipe on every seed tried,
with a margin: this script trains exactly that recipe (Forsyth's nets, autograder/reference/convnets.py,
Adam 1e-3 with `course.train.fit(schedule="cosine")`, batch 128 (64 for CIFAR at `cpu`
scale), the lab's 420 s time budget, which plans the epochs that fit after the first; CIFAR
at `gpu` scale adds flips and shifts) and prints one RESULT line per run, with the epochs run
of those planned.

    # cpu scale, on this machine (TensorFlow):
    python bench/calibrate_lab02.py mnist --epochs 5 --seeds 0 1 2
    python bench/calibrate_lab02.py cifar10 --epochs 10 --batch 64 --seeds 0 1 2
    # gpu scale, on the GPU machine (JAX; see ../shared/gpu/README.md for the wheels and data):
    python3 bench/calibrate_lab02.py mnist --epochs 15 --seeds 0 1 2
    python3 bench/calibrate_lab02.py cifar10 --epochs 30 --augment --seeds 0 1 2
"""
from __future__ import annotations

import argparse

import numpy as np


def run(dataset: str, epochs: int, seed: int, augment: bool, budget: float | None,
        batch: int = 128, lr: float = 1e-3, n_val: int = 5000):
    """Train the lab's recipe once; return (test accuracy, course.train History)."""
    import course.env
    course.env.setup(seed=seed, print_fn=None)
    import keras

    from course import data, train
    from autograder.reference import convnets

    keras.utils.set_random_seed(seed)
    (x, y), (x_test, y_test) = data.load(dataset)
    x, x_test = x.astype("float32") / 255, x_test.astype("float32") / 255
    if x.ndim == 3:
        x, x_test = x[..., None], x_test[..., None]
    x, y = x[:-n_val], y[:-n_val].reshape(-1)  # the lab keeps the last images for validation
    model = convnets.forsyth_mnist() if dataset == "mnist" else convnets.forsyth_cifar()
    trainer = model
    if augment:
        trainer = keras.Sequential([keras.Input(model.input_shape[1:]),
                                    keras.layers.RandomFlip("horizontal"),
                                    keras.layers.RandomTranslation(0.1, 0.1), model])
    trainer.compile(keras.optimizers.Adam(lr), "sparse_categorical_crossentropy")
    hist = train.fit(trainer, x, y, batch_size=batch, epochs=epochs, time_budget=budget,
                     schedule="cosine", verbose=0)
    predicted = np.asarray(model.predict(x_test, batch_size=512, verbose=0)).argmax(-1)
    return float(np.mean(predicted == y_test.reshape(-1))), hist


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", choices=["mnist", "cifar10"])
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--augment", action="store_true")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam's peak learning rate")
    parser.add_argument("--budget", type=float, default=420.0,
                        help="seconds, as the lab's training cells (0: no budget)")
    args = parser.parse_args()
    accuracies = []
    for seed in args.seeds:
        acc, hist = run(args.dataset, args.epochs, seed, args.augment, args.budget or None,
                        args.batch, args.lr)
        accuracies.append(acc)
        print(f"RESULT {args.dataset} epochs={hist.epochs}/{args.epochs} augment={args.augment} "
              f"batch={args.batch} lr={args.lr:g} "
              f"seed={seed} train_s={hist.seconds:.1f} test_acc={acc:.4f} ({hist.summary()})",
              flush=True)
    print(f"min {min(accuracies):.4f}  mean {np.mean(accuracies):.4f}  max {max(accuracies):.4f}")


if __name__ == "__main__":
    main()
