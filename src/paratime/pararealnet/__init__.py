"""Parareal neural networks: the layers of a residual network as time steps, torn into P fine
sub-networks that run concurrently and joined by a small coarse network (Lee, Park and Lee,
"Parareal Neural Networks Emulating a Parallel-in-Time Algorithm", IEEE TNNLS 2022)."""

from ._blocks import (
    LayerCell as LayerCell,
    ResidualBlock as ResidualBlock,
    ResidualNetwork as ResidualNetwork,
    make_blocks as make_blocks,
)
from ._classifier import (
    Classifier as Classifier,
    count_parameters as count_parameters,
    cross_entropy as cross_entropy,
    make_classifiers as make_classifiers,
)
from ._config import TrainConfig as TrainConfig
from ._data import Dataset as Dataset, load_dataset as load_dataset
from ._network import ParaRealNet as ParaRealNet, make_coarse as make_coarse
from ._train import train_classifier as train_classifier, train_run as train_run

__all__ = [
    "Classifier",
    "Dataset",
    "LayerCell",
    "ParaRealNet",
    "ResidualBlock",
    "ResidualNetwork",
    "TrainConfig",
    "count_parameters",
    "cross_entropy",
    "load_dataset",
    "make_blocks",
    "make_classifiers",
    "make_coarse",
    "train_classifier",
    "train_run",
]
