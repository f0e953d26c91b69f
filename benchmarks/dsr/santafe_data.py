"""The Santa Fe laser, delay-embedded, as train/test files for `paratime dsr`, and its floor.

    python benchmarks/dsr/santafe_data.py runs/santafe

Writes OUT/train.npy and OUT/test.npy: the series (reservoirpy's copy, 10 093 steps) is split
80/20 in time, standardised with the training part's mean and std, and delay-embedded
(`paratime.data.embed`: τ from the first minimum of the mutual information, m from false
nearest neighbours below 1 %, both chosen on the training part). Writes OUT/floor.json: the
training part's own D_stsp and D_H against the test part, the floor a perfect model of the
training data could reach with a test set this short.
"""

import json
import sys
from pathlib import Path

import numpy as np

import paratime.data as data
from paratime.dsr import metrics

out = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/santafe")
out.mkdir(parents=True, exist_ok=True)
x = data.santafe_laser()[:, 0].astype(np.float64)
cut = int(0.8 * x.size)
mean, std = x[:cut].mean(), x[:cut].std()
z = (x - mean) / std
_, lag, dim = data.embed(z[:cut])
train = data.delay_embed(z[:cut], lag, dim).astype(np.float32)
test = data.delay_embed(z[cut:], lag, dim).astype(np.float32)
np.save(out / "train.npy", train)
np.save(out / "test.npy", test)
n = test.shape[0]
windows = [train[s : s + n] for s in range(0, train.shape[0] - n + 1, n)]
floor = {
    "lag": lag,
    "dim": dim,
    "train_steps": int(train.shape[0]),
    "test_steps": int(n),
    "fnn": data.false_nearest_neighbours(z[:cut], lag, 8).round(4).tolist(),
    # The whole training part against the test part (D_stsp), and each test-length window
    # of it (D_H needs equal lengths; D_stsp per window shows the spread at this length).
    "D_stsp_train_vs_test": metrics.state_space_divergence(test, train),
    "D_stsp_windows": [metrics.state_space_divergence(test, w) for w in windows],
    "D_H_windows": [metrics.power_spectrum_distance(test, w) for w in windows],
}
(out / "floor.json").write_text(json.dumps(floor, indent=2))
print(json.dumps(floor, indent=2))
