"""The metrics' floor on the Lorenz-63 benchmark: an independent exact orbit vs the test set.

D_stsp and D_H of (a) a freshly integrated, noise-free Lorenz-63 orbit (RK4, dt = 0.01,
standardised by its own mean and std, another initial condition) and (b) the
noisy training series, both against the noise-free test series. A perfect model can score
no better than (a).

    taskset -c 1 .venv/bin/python benchmarks/dsr/reference_orbit.py
"""

import json

import numpy as np

import paratime.data
from paratime.dsr import metrics

test = paratime.data.lorenz63_test().astype(np.float64)
train = paratime.data.lorenz63_train().astype(np.float64)
raw = np.asarray(paratime.data.lorenz63(test.shape[0], key=1), np.float64)
orbit = (raw - raw.mean(0)) / raw.std(0)
out = {}
for name, x in (("independent_orbit", orbit), ("noisy_train_series", train)):
    out[name] = {
        "D_stsp": metrics.state_space_divergence(test, x),
        "D_H": metrics.power_spectrum_distance(test, x),
    }
print(json.dumps(out, indent=1))
