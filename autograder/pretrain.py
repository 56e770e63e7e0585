"""Pretrain the course's offline backbone: the CIFAR ResNet-20 on the six CIFAR-10 animals.

ImageNet weights cannot be downloaded in CI, in the grading sandbox or on a laptop without
network, so the transfer lab ships its own pretrained network, made by this instructor's command
(it builds the network from lab 04's reference blocks, which students never get; the
committed backbone was made by the same recipe as ``python -m course.pretrain`` before
the blocks left the library)::

    python -m autograder.pretrain                                   # the committed backbone
    python -m autograder.pretrain --epochs 1 --n-train 3000 --out /tmp/bb   # a quick sizing run

Source task: CIFAR-10's bird, cat, deer, dog, frog and horse (30,000 training images,
relabelled 0-5; ``course.data.load("cifar10")``); the four vehicle classes are left for the
lab's near target. The last ``--n-val`` training images (after the data layer's seeded
shuffle) are held out to print a validation accuracy after every epoch; nothing is selected
on them. The source accuracy written to the card is measured once, at the end, on the 6,000
animal images of CIFAR-10's test split.

Recipe (He et al. 2016, section 4.2, shortened): the CIFAR ResNet-20
(``autograder.reference.architecture_blocks.build_cifar_net(20)``) with a 6-way head and projection shortcuts (option B; 272,214 trainable parameters), random flips
and shifts of up to 4 pixels, SGD with Nesterov momentum 0.9 from 0.1 with a cosine decay to
zero, decoupled weight decay 5e-4, batch 128, seed 0. Inputs are
standardized per channel with the source training set's mean and standard deviation (on the
0-255 scale); these numbers are the backbone's preprocessing and are written to its card.

Output: ``<name>.keras`` (the whole source classifier, no optimizer state) and ``<name>.json``
(the card: preprocessing, layers to tap, source accuracy, sha256 of the .keras file, the
command). ``course.models.pretrained(name)`` refuses a file whose sha256 differs from its
card. A rerun reproduces the accuracy, not the bytes: a .keras file records when it was
saved, and multithreaded CPU kernels do not sum in a fixed order.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np

NAME = "resnet20_cifar_animals"
SOURCE_CLASSES = (2, 3, 4, 5, 6, 7)          # CIFAR-10 labels of the source task, in order
WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "course" / "models" / "weights"
# Where to tap features, bottom to top: the stem and the end of each residual stage.
BLOCK_ENDS = ("conv1_relu", "conv2_block3_out", "conv3_block3_out", "conv4_block3_out")
FEATURE_LAYER = "avg_pool"


def source_split(x, y, classes=SOURCE_CLASSES):
    """The images of `classes` with labels renumbered 0..len(classes)-1 in that order."""
    y = np.ravel(y)
    keep = np.isin(y, classes)
    relabel = np.full(int(y.max()) + 1, -1)
    relabel[list(classes)] = np.arange(len(classes))
    return x[keep], relabel[y[keep]].astype("int64")


def channel_stats(x: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-channel mean and standard deviation of uint8 images, on the 0-255 scale."""
    flat = x.reshape(-1, x.shape[-1]).astype("float64")
    return [round(float(v), 3) for v in flat.mean(0)], [round(float(v), 3) for v in flat.std(0)]


def standardize(x: np.ndarray, mean, std) -> np.ndarray:
    """uint8 images -> float32 (x - mean) / std per channel: the backbone's preprocessing."""
    return ((x.astype("float32") - np.float32(mean)) / np.float32(std)).astype("float32")


def train_backbone(x, y, *, epochs: int, seed: int = 0, batch_size: int = 128, lr: float = 0.1,
                   weight_decay: float = 5e-4, validation_data=None, verbose=2,
                   name: str = NAME):
    """Train a ResNet-20 classifier on standardized images; return the model (no optimizer).

    Args:
        x: float32 images (N, 32, 32, 3), already standardized.
        y: integer labels (N,), 0..K-1.
        epochs: passes over the data (the cosine schedule spans all of them).
        seed: seeds weights, shuffling and augmentation.
        validation_data: optional (x, y) to print an accuracy after each epoch.
        verbose: Keras's verbosity (2: one line per epoch).

    Returns:
        The trained `keras.Model` (softmax over K classes), uncompiled.
    """
    import keras

    from autograder.reference.architecture_blocks import build_cifar_net

    keras.utils.set_random_seed(seed)
    classes = int(np.max(y)) + 1
    # Projection shortcuts (option B): every layer is a stock Keras layer, so a model built
    # on this backbone loads anywhere with safe_mode, without the course installed.
    model = build_cifar_net(20, input_shape=x.shape[1:], num_classes=classes, shortcut="B", name=name)
    trainer = keras.Sequential([
        keras.Input(x.shape[1:]),
        keras.layers.RandomFlip("horizontal", seed=seed),
        keras.layers.RandomTranslation(4 / 32, 4 / 32, fill_mode="constant", seed=seed),
        model,
    ], name="pretrainer")
    steps = epochs * -(-len(x) // batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(lr, steps)
    trainer.compile(keras.optimizers.SGD(schedule, momentum=0.9, nesterov=True,
                                         weight_decay=weight_decay),
                    "sparse_categorical_crossentropy", metrics=["accuracy"])
    trainer.fit(x, y, batch_size=batch_size, epochs=epochs, validation_data=validation_data,
                verbose=verbose)
    return model


def accuracy(model, x, y) -> float:
    """Top-1 accuracy of a classifier on standardized images."""
    predicted = np.asarray(model.predict(x, batch_size=500, verbose=0)).argmax(-1)
    return float(np.mean(predicted == np.asarray(y).reshape(-1)))


def save(model, out: Path, card: dict) -> dict:
    """Write `<name>.keras` and its card `<name>.json` (with the file's sha256) into `out`."""
    from course.data import sha256_file

    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{card['name']}.keras"
    model.save(path)
    card = {**card, "file": path.name, "sha256": sha256_file(path), "bytes": path.stat().st_size}
    (out / f"{card['name']}.json").write_text(json.dumps(card, indent=1) + "\n")
    return card


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autograder.pretrain",
        description="Train the offline backbone of the transfer lab (ResNet-20 on the six "
                    "CIFAR-10 animal classes) and write it with its card.",
        epilog="example:  COURSE_DATA=../shared/data python -m autograder.pretrain --epochs 30",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--n-train", type=int, default=None,
                        help="train on this many images (stratified; default: all 30,000 less --n-val)")
    parser.add_argument("--n-val", type=int, default=2000,
                        help="training images held out to print progress (default 2000)")
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR,
                        help=f"output folder (default: the package's {WEIGHTS_DIR})")
    args = parser.parse_args(argv)

    import keras

    from course import data

    start = time.perf_counter()
    (x_all, y_all), (x_test, y_test) = data.load("cifar10")
    x_src, y_src = source_split(x_all, y_all)
    x_test, y_test = source_split(x_test, y_test)
    x_train, y_train = x_src[:-args.n_val], y_src[:-args.n_val]
    x_val, y_val = x_src[-args.n_val:], y_src[-args.n_val:]
    if args.n_train is not None and args.n_train < len(y_train):
        keep = data.stratified_indices(y_train, args.n_train, seed=args.seed)
        x_train, y_train = x_train[keep], y_train[keep]
    mean, std = channel_stats(x_train)
    names = [data.class_names("cifar10")[c] for c in SOURCE_CLASSES]
    print(f"autograder.pretrain: {NAME}: {len(y_train):,} training images of {', '.join(names)}; "
          f"{len(y_val):,} validation, {len(y_test):,} test; mean {mean} std {std}; "
          f"{args.epochs} epochs, seed {args.seed}, keras {keras.__version__} on "
          f"{keras.backend.backend()}", flush=True)
    model = train_backbone(standardize(x_train, mean, std), y_train, epochs=args.epochs,
                           seed=args.seed, batch_size=args.batch_size, lr=args.lr,
                           validation_data=(standardize(x_val, mean, std), y_val))
    seconds = time.perf_counter() - start
    test_acc = accuracy(model, standardize(x_test, mean, std), y_test)
    command = "python -m autograder.pretrain " + shlex.join(
        a for a in (argv if argv is not None else sys.argv[1:]))
    card = save(model, args.out, {
        "name": NAME,
        "builder": "autograder.reference.architecture_blocks.build_cifar_net(20, shortcut='B')",
        "input_shape": [32, 32, 3],
        "mean": mean,
        "std": std,
        "source": "cifar10",
        "source_classes": list(SOURCE_CLASSES),
        "source_class_names": names,
        "source_accuracy": round(test_acc, 4),
        "source_test_images": len(y_test),
        "n_train": len(y_train),
        "epochs": args.epochs,
        "seed": args.seed,
        "feature_layer": FEATURE_LAYER,
        "block_ends": list(BLOCK_ENDS),
        "command": command.strip(),
        "train_seconds": round(seconds),
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
    })
    print(f"autograder.pretrain: source accuracy {test_acc:.4f} on {len(y_test):,} CIFAR-10 test "
          f"images of the six animal classes; {seconds / 60:.1f} min")
    print(f"autograder.pretrain: wrote {args.out / card['file']} ({card['bytes']:,} bytes, "
          f"sha256 {card['sha256']}) and its card {card['name']}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
