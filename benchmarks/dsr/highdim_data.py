"""A low-dimensional orbit observed through a random linear map into D dimensions, with
noise: a high-dimensional DSR data set whose true dimension is small.

    python benchmarks/dsr/highdim_data.py runs/highdim [D] [--source DIR]

Without `--source` the orbit is Lorenz-63 (100 000 training steps of the standardised orbit
and another 20 000 steps of an independent orbit for testing); with `--source DIR` it is
DIR/train.npy and DIR/test.npy (e.g. a flow written by `benchmarks/dsr/dysts.py make`, whose
training part already carries 5 % noise). Writes OUT/train.npy (the orbit mapped by a
Gaussian D × d matrix with entries N(0, 1/d), plus 5 % Gaussian noise per channel) and
OUT/test.npy (the test orbit, the same map, no noise), both standardised per channel with the
training part's statistics. D = 40 by default.
"""

import argparse
from pathlib import Path

import numpy as np

import paratime.data as data

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("out", type=Path, nargs="?", default=Path("runs/highdim"))
p.add_argument("dim", type=int, nargs="?", default=40)
p.add_argument("--source", type=Path, help="a folder with train.npy and test.npy")
a = p.parse_args()
if a.source is None:
    train = np.asarray(data.lorenz63(100_000, standardise=True, key=0))
    test = np.asarray(data.lorenz63(20_000, standardise=True, key=1))
else:
    train, test = np.load(a.source / "train.npy"), np.load(a.source / "test.npy")
a.out.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(0)
B = rng.normal(0.0, 1.0 / np.sqrt(train.shape[1]), (train.shape[1], a.dim))
train, test = train @ B, test @ B
train = train + 0.05 * train.std(0) * rng.normal(size=train.shape)
mean, std = train.mean(0), train.std(0)
np.save(a.out / "train.npy", ((train - mean) / std).astype(np.float32))
np.save(a.out / "test.npy", ((test - mean) / std).astype(np.float32))
print(f"wrote {a.out}/train.npy {train.shape} and test.npy {test.shape}")
