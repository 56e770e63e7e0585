"""Published ImageNet results, as data with their sources: the ILSVRC story and the race.

Two tables, each a tuple of frozen dataclasses (compute first, render second: the labs
plot and tabulate them):

- `ILSVRC_TOP5`: the winning classification entry of each ILSVRC year, top-5 error in
  percent on the challenge's test set, with the network's depth in weight layers where it
  has one. The seeds quote these figures (Grosse, CSC321 lecture 12, slide 20; Forsyth,
  Applied Machine Learning, figure 18.1, after Kaiming He's "revolution of depth" slide).
  Where the seeds differ from the challenge's own number, `note` says how.
- `IMAGENET_TOP1`: single-model, single-crop (224x224) top-1 accuracy on the ILSVRC-2012
  validation set of the architectures that `course.models` builds, as their reference
  implementation publishes it (torchvision's weights' metadata, or the paper's table).

`HUMAN_TOP5` is the human top-5 error Russakovsky et al. measured (one trained annotator).
"""
from __future__ import annotations

import dataclasses

HUMAN_TOP5 = 5.1
HUMAN_SOURCE = ("Russakovsky et al. (2015), ImageNet Large Scale Visual Recognition "
                "Challenge, IJCV, section 6.4 (one annotator, 1,500 test images)")

_TORCHVISION = "torchvision {} weights metadata (IMAGENET1K_V1), acc@1"


@dataclasses.dataclass(frozen=True)
class ChallengeEntry:
    """One ILSVRC classification result: year, entry, network, top-5 error (%)."""

    year: int
    entry: str
    network: str
    top5_error: float
    depth: int | None
    source: str
    note: str = ""


@dataclasses.dataclass(frozen=True)
class PublishedAccuracy:
    """Single-crop ImageNet top-1 accuracy (%) of one architecture, and where it is published."""

    network: str
    top1: float | None
    source: str


ILSVRC_TOP5 = (
    ChallengeEntry(2010, "NEC-UIUC", "hand-designed descriptors + SVM", 28.2, None,
                   "Lin et al. (2011), CVPR; Grosse lecture 12 slide 20"),
    ChallengeEntry(2011, "XRCE", "compressed Fisher vectors + SVM", 25.8, None,
                   "Sanchez & Perronnin (2011), CVPR; Grosse lecture 12 slide 20"),
    ChallengeEntry(2012, "SuperVision", "AlexNet", 16.4, 8,
                   "Krizhevsky et al. (2012), NIPS, table 2; Grosse lecture 12 slide 20",
                   "15.3% with extra training data (Torralba's slide quotes that one)"),
    ChallengeEntry(2013, "Clarifai", "ZFNet (a variant of AlexNet)", 11.7, 8,
                   "Zeiler & Fergus (2014), ECCV; Grosse lecture 12 slide 20"),
    ChallengeEntry(2014, "VGG", "VGG-19 (2nd place)", 7.3, 19,
                   "Simonyan & Zisserman (2015), ICLR, table 7; Forsyth figure 18.1"),
    ChallengeEntry(2014, "GoogLeNet", "GoogLeNet", 6.7, 22,
                   "Szegedy et al. (2015), CVPR, table 2 (6.67%); Grosse lecture 12 slide 20",
                   "Grosse rounds it to 6.6%"),
    ChallengeEntry(2015, "MSRA", "ResNet-152 (ensemble)", 3.57, 152,
                   "He et al. (2016), CVPR, table 5; Forsyth figure 18.1 (3.6%)",
                   "Grosse's 4.5% is one ResNet-152 on the validation set (table 4: 4.49%)"),
    ChallengeEntry(2016, "Trimps-Soushen", "Inception + ResNet ensemble", 2.99, None,
                   "ILSVRC 2016 results, image-net.org/challenges/LSVRC/2016/results"),
    ChallengeEntry(2017, "WMW", "SENet (squeeze-and-excitation)", 2.25, 154,
                   "Hu, Shen, Sun (2018), CVPR, section 7 (2.251%)"),
)

IMAGENET_TOP1 = (
    PublishedAccuracy("AlexNet", 56.522, _TORCHVISION.format("alexnet")),
    PublishedAccuracy("VGG-16", 71.592, _TORCHVISION.format("vgg16")),
    PublishedAccuracy("NiN", None, "Lin et al. (2014) report CIFAR-10/100, SVHN and MNIST, not ImageNet"),
    PublishedAccuracy("GoogLeNet", 69.778, _TORCHVISION.format("googlenet")),
    PublishedAccuracy("ResNet-18", 69.758, _TORCHVISION.format("resnet18")),
    PublishedAccuracy("ResNet-50", 76.130, _TORCHVISION.format("resnet50")),
    PublishedAccuracy("SE-ResNet-50", 76.71,
                      "Hu, Shen, Sun (2018), table 2: 23.29% single-crop top-1 error"),
    PublishedAccuracy("DenseNet-121", 74.434, _TORCHVISION.format("densenet121")),
    PublishedAccuracy("MobileNetV2", 71.878, _TORCHVISION.format("mobilenet_v2")),
)


def top1(network: str) -> float | None:
    """The published top-1 accuracy (%) of `network` (a name in `IMAGENET_TOP1`)."""
    for row in IMAGENET_TOP1:
        if row.network == network:
            return row.top1
    raise KeyError(f"no published top-1 for {network!r}; known: {[r.network for r in IMAGENET_TOP1]}")
