"""Pretrained backbones for transfer learning: one shipped with the course, one from ImageNet.

    from course.models import pretrained, backbone_card
    source = pretrained("resnet20_cifar_animals")   # offline: in the package, sha256-checked
    card = backbone_card("resnet20_cifar_animals")  # its preprocessing, layers, source accuracy
    base = pretrained("mobilenet_v2_imagenet")      # online (Colab, a laptop with network)

``resnet20_cifar_animals`` is the CIFAR ResNet-20 trained by the instructor's pretraining
command (``python -m autograder.pretrain``, the recipe that made the file when it was still
``course.pretrain``) on the six CIFAR-10 animal classes; the whole source classifier is returned (its head is named
``predictions``), so a lab can measure what fine-tuning makes it forget. Its file is verified
against the sha256 in its card before Keras reads it.

``mobilenet_v2_imagenet`` is ``keras.applications.MobileNetV2`` at 160x160 without its top,
with ImageNet weights, followed by a global average pool named ``avg_pool`` (the keras-io
transfer-learning guide's base model). The weights come from the network on first use;
offline, when Keras has no cached copy, it raises ``BackboneUnavailable`` at once.

Both backbones take float images standardized as ``(x - card.mean) / card.std`` per channel,
with ``x`` on the 0-255 scale (MobileNetV2's ``preprocess_input``: mean = std = 127.5).
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from course.data import ChecksumError, online, sha256_file

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
IMAGENET_HOST = "storage.googleapis.com"
MOBILENET_V2_FILE = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_160_no_top.h5"

__all__ = ["BackboneCard", "BackboneUnavailable", "ChecksumError", "backbone_card",
           "backbone_names", "pretrained"]


class BackboneUnavailable(RuntimeError):
    """The backbone's weights cannot be had here (offline, and not cached)."""


@dataclasses.dataclass(frozen=True)
class BackboneCard:
    """What a lab needs to know to use a backbone.

    Attributes:
        name: the name `pretrained` takes.
        input_shape: `(H, W, C)` the backbone was trained at.
        mean, std: per-channel preprocessing on the 0-255 scale: `(x - mean) / std`.
        feature_layer: the pooled feature layer (what a linear head reads).
        block_ends: layers that end a stage, bottom to top (where to tap features and
            where to cut when freezing).
        source: the data the backbone was trained on, in words.
        source_classes: its class names (empty when there are too many to list).
        source_accuracy: top-1 accuracy on the source test images (None if unknown).
        offline: True when the weights ship with the course.
        command: how the weights were made.
    """

    name: str
    input_shape: tuple[int, int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    feature_layer: str
    block_ends: tuple[str, ...]
    source: str
    source_classes: tuple[str, ...] = ()
    source_accuracy: float | None = None
    offline: bool = True
    command: str = ""


MOBILENET_V2_CARD = BackboneCard(
    name="mobilenet_v2_imagenet",
    input_shape=(160, 160, 3),
    mean=(127.5, 127.5, 127.5),
    std=(127.5, 127.5, 127.5),
    feature_layer="avg_pool",
    block_ends=("block_2_add", "block_5_add", "block_9_add", "block_12_add", "block_15_add",
                "out_relu"),
    source="ImageNet-1k (1.28 M images, 1,000 classes), keras.applications weights",
    source_accuracy=0.713,  # top-1 at 224x224, as keras.applications lists it
    offline=False,
    command="keras.applications.MobileNetV2(input_shape=(160, 160, 3), include_top=False, "
            "weights='imagenet')",
)


def _shipped(weights_dir: Path) -> dict[str, dict]:
    """name -> card dict of every backbone in `weights_dir` (one `<name>.json` each)."""
    cards = {}
    for path in sorted(Path(weights_dir).glob("*.json")):
        card = json.loads(path.read_text())
        cards[card["name"]] = card
    return cards


def backbone_names(weights_dir: Path | None = None) -> list[str]:
    """Every name `pretrained` accepts: the shipped backbones, then the online one."""
    return list(_shipped(weights_dir or WEIGHTS_DIR)) + [MOBILENET_V2_CARD.name]


def _check_name(name: str, weights_dir: Path) -> None:
    known = backbone_names(weights_dir)
    if name not in known:
        raise ValueError(f"unknown backbone {name!r}; known: {', '.join(known)}")


def backbone_card(name: str, *, weights_dir: Path | None = None) -> BackboneCard:
    """The card of backbone `name` (no weights are read or downloaded)."""
    weights_dir = Path(weights_dir or WEIGHTS_DIR)
    _check_name(name, weights_dir)
    if name == MOBILENET_V2_CARD.name:
        return MOBILENET_V2_CARD
    c = _shipped(weights_dir)[name]
    return BackboneCard(
        name=name, input_shape=tuple(c["input_shape"]), mean=tuple(c["mean"]),
        std=tuple(c["std"]), feature_layer=c["feature_layer"], block_ends=tuple(c["block_ends"]),
        source=f"{c['source']}: {len(c['source_classes'])} classes, {c['n_train']:,} images",
        source_classes=tuple(c["source_class_names"]), source_accuracy=c["source_accuracy"],
        offline=True, command=c["command"])


def pretrained(name: str, *, weights_dir: Path | None = None):
    """Load a pretrained backbone as a `keras.Model` (uncompiled, every layer trainable).

    Args:
        name: one of `backbone_names()`: "resnet20_cifar_animals" (shipped with the course)
            or "mobilenet_v2_imagenet" (downloaded by Keras on first use).
        weights_dir: where the shipped backbones and their cards are (default: the package).

    Returns:
        For a shipped backbone, its whole source classifier; for MobileNetV2, the ImageNet
        feature extractor ending in `avg_pool` (1,280 features).

    Raises:
        ChecksumError: the shipped file's sha256 is not its card's (names both hashes).
        BackboneUnavailable: ImageNet weights are neither cached nor reachable.
    """
    import keras

    weights_dir = Path(weights_dir or WEIGHTS_DIR)
    _check_name(name, weights_dir)
    if name == MOBILENET_V2_CARD.name:
        return _mobilenet_v2_imagenet()
    card = _shipped(weights_dir)[name]
    path = weights_dir / card["file"]
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall the course, or remake it with "
                                f"`{card['command']}`")
    actual = sha256_file(path)
    if actual != card["sha256"]:
        raise ChecksumError(
            f"{path}: sha256 mismatch: its card {name}.json says {card['sha256']}, the file "
            f"hashes to {actual}. The file is corrupt or not the one the card describes; "
            f"reinstall the course or remake it with `{card['command']}`.")
    return keras.saving.load_model(path, compile=False, safe_mode=True)


def _keras_cache() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"


def _mobilenet_v2_imagenet():
    import keras

    cached = (_keras_cache() / MOBILENET_V2_FILE).is_file()
    why = ("it needs ImageNet weights (~9 MB) from {host}, which {state}; Keras has no cached "
           "copy ({path}). Offline, use the backbone that ships with the course: "
           "pretrained('resnet20_cifar_animals').")
    if not cached and not online(IMAGENET_HOST):
        state = "is switched off (COURSE_OFFLINE is set)" if os.environ.get("COURSE_OFFLINE") \
            else "cannot be reached"
        raise BackboneUnavailable("mobilenet_v2_imagenet: " + why.format(
            host=IMAGENET_HOST, state=state, path=_keras_cache() / MOBILENET_V2_FILE))
    try:
        base = keras.applications.MobileNetV2(input_shape=MOBILENET_V2_CARD.input_shape,
                                              include_top=False, weights="imagenet")
    except Exception as exc:  # the download itself failed (a network that drops)
        raise BackboneUnavailable("mobilenet_v2_imagenet: the download failed "
                                  f"({type(exc).__name__}: {exc}); " + why.format(
                                      host=IMAGENET_HOST, state="did not answer",
                                      path=_keras_cache() / MOBILENET_V2_FILE)) from exc
    features = keras.layers.GlobalAveragePooling2D(name="avg_pool")(base.output)
    return keras.Model(base.input, features, name="mobilenet_v2_imagenet")
