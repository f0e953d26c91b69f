"""Byte-level language modelling on a real corpus (the Python standard library's sources)."""

from ._config import LMConfig as LMConfig
from ._corpus import Corpus as Corpus, is_test_file as is_test_file, load_corpus as load_corpus
from ._model import (
    CELLS as CELLS,
    make_mesh as make_mesh,
    make_model as make_model,
    num_parameters as num_parameters,
)
from ._train import (
    bits_per_byte as bits_per_byte,
    generate as generate,
    load_run as load_run,
    loss_and_grad as loss_and_grad,
    train_lm as train_lm,
)

__all__ = [
    "CELLS",
    "Corpus",
    "LMConfig",
    "bits_per_byte",
    "generate",
    "is_test_file",
    "load_corpus",
    "load_run",
    "loss_and_grad",
    "make_mesh",
    "make_model",
    "num_parameters",
    "train_lm",
]
