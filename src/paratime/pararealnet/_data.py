"""Offline classification data: scikit-learn's digits, and a synthetic set for tests."""

from typing import NamedTuple

import numpy as np

DATASETS = ("digits", "synthetic")


class Dataset(NamedTuple):
    """Flattened features in [0, 1] (float32) and integer labels, split into train and test."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    name: str


def _split(x: np.ndarray, y: np.ndarray, test_fraction: float, seed: int, name: str) -> Dataset:
    """A stratified, seeded train/test split."""
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), dtype=bool)
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        test[idx[: int(round(test_fraction * len(idx)))]] = True
    x = x.astype(np.float32)
    y = y.astype(np.int32)
    return Dataset(x[~test], y[~test], x[test], y[test], int(y.max()) + 1, name)


def load_digits(*, test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """scikit-learn's 8x8 handwritten digits (1 797 images, 10 classes), shipped in its wheel.

    Pixels are scaled from 0..16 to [0, 1]; 20% of each class is held out for testing.
    """
    from .._extras import require

    data = require("sklearn.datasets", "The digits dataset").load_digits()
    return _split(data.data / 16.0, data.target, test_fraction, seed, "digits")


def make_synthetic(
    *,
    num_samples: int = 512,
    num_features: int = 16,
    num_classes: int = 4,
    test_fraction: float = 0.25,
    seed: int = 0,
) -> Dataset:
    """Gaussian clusters around random class centres in [0, 1]^d; learnable, for fast tests."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0.0, 1.0, (num_classes, num_features))
    y = rng.integers(0, num_classes, num_samples)
    x = np.clip(centres[y] + 0.15 * rng.standard_normal((num_samples, num_features)), 0.0, 1.0)
    return _split(x, y, test_fraction, seed, "synthetic")


def load_dataset(name: str, *, seed: int = 0) -> Dataset:
    """Load a dataset by name: `"digits"` or `"synthetic"`.

    **Raises:**

    `ValueError` if `name` is unknown.
    """
    if name == "digits":
        return load_digits(seed=seed)
    if name == "synthetic":
        return make_synthetic(seed=seed)
    raise ValueError(f"`data` must be one of {DATASETS}; got {name!r}.")
