"""The slow–fast benchmark with the drive's quadrature v observed as a fifth column.

The same trajectory as the datasets `slow-fast` / `slow-fast-test` (200 000 samples, seed 0,
standardised as a whole; the first half with 5 % observation noise trains, the noise-free
second half tests), returning (x, y, z, u, v) instead of (x, y, z, u). Writes
OUT/train.npy and OUT/test.npy:

    python benchmarks/dsr/slow_fast_quadrature.py runs/slow-fast-quadrature
"""

import argparse
from pathlib import Path

import jax
import numpy as np

from paratime.data import slow_fast_lorenz
from paratime.data._finish import finish


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    a = p.parse_args()
    x = slow_fast_lorenz(200_000, standardise=True, key=0, observed=5)
    train = finish(x[:100_000], standardise=False, noise=0.05, key=jax.random.key(1))
    a.out.mkdir(parents=True, exist_ok=True)
    np.save(a.out / "train.npy", train)
    np.save(a.out / "test.npy", x[100_000:])
    print(f"wrote {a.out}/train.npy {train.shape} and test.npy {x[100_000:].shape}")


if __name__ == "__main__":
    main()
