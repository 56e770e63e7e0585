"""Keras 3 builders of the classic image classifiers, checked against their papers.

Every builder has the signature
`build_<arch>(input_shape=..., num_classes=..., *, <options>, name="<arch>")` and
returns an uncompiled `keras.Model` built with random weights (no downloads). The
parameter count that matches the published one is stated in each docstring;
for networks with batch norm it is the trainable count (Keras' count less the batch-norm
moving statistics), which is what torchvision and the papers report.

The blocks lab 04 asks students to write (VGG's configurations, the mlpconv, Inception,
residual, squeeze-and-excitation and dense blocks) are not here: the paper-size builders
of VGG, NiN, GoogLeNet, ResNet, SE-ResNet and DenseNet take them as required keyword
arguments (`build_resnet50(bottleneck_block=...)`), so a student counts the published
networks with their own blocks.

Pretrained networks for transfer learning come from `pretrained(name)` (see
`course.models.backbones`): one ships with the course, one downloads ImageNet weights.
"""

from course.models.densenet import build_densenet, build_densenet121
from course.models.inception import build_googlenet
from course.models.lenet import build_lenet1989, build_lenet1998
from course.models.mobilenet import build_mobilenet_v2
from course.models.nin import build_nin
from course.models.backbones import BackboneCard, BackboneUnavailable, backbone_card, backbone_names, pretrained
from course.models.resnet import (
    build_resnet,
    build_resnet18,
    build_resnet34,
    build_resnet50,
    build_resnet101,
    build_resnet152,
)
from course.models.senet import build_se_resnet50
from course.models.simple import build_mlp
from course.models.vgg import build_vgg

__all__ = [
    "BackboneCard",
    "BackboneUnavailable",
    "backbone_card",
    "backbone_names",
    "build_densenet",
    "build_densenet121",
    "build_googlenet",
    "build_lenet1989",
    "build_lenet1998",
    "build_mlp",
    "build_mobilenet_v2",
    "build_nin",
    "build_resnet",
    "build_resnet18",
    "build_resnet34",
    "build_resnet50",
    "build_resnet101",
    "build_resnet152",
    "build_se_resnet50",
    "build_vgg",
    "pretrained",
]
