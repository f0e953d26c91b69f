"""Lorenz-63 observed through a random linear map into D dimensions, with noise: a
high-dimensional DSR data set whose true dimension is 3.

    python benchmarks/dsr/highdim_data.py runs/highdim [D]

Writes OUT/train.npy (100 000 steps of the standardised Lorenz-63 orbit, mapped by a
Gaussian D × 3 matrix with entries N(0, 1/3), plus 5 % Gaussian noise per channel) and
OUT/test.npy (another 20 000 steps of an independent orbit, the same map, no noise), both
standardised per channel with the training part's statistics. D = 40 by default.
"""

import sys
from pathlib import Path

import numpy as np

import paratime.data as data

out = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/highdim")
dim = int(sys.argv[2]) if len(sys.argv) > 2 else 40
out.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(0)
B = rng.normal(0.0, 1.0 / np.sqrt(3.0), (3, dim))
train = np.asarray(data.lorenz63(100_000, standardise=True, key=0)) @ B
test = np.asarray(data.lorenz63(20_000, standardise=True, key=1)) @ B
train = train + 0.05 * train.std(0) * rng.normal(size=train.shape)
mean, std = train.mean(0), train.std(0)
np.save(out / "train.npy", ((train - mean) / std).astype(np.float32))
np.save(out / "test.npy", ((test - mean) / std).astype(np.float32))
print(f"wrote {out}/train.npy {train.shape} and test.npy {test.shape}")
