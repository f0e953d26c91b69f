"""Time-series data: chaotic generators, offline real datasets, loaders and validation.

Named datasets (`DATASETS`, `load`) need no files beside the package: the Lorenz-63
benchmark is generated on first use and cached in `cache_dir()`.

Generators return float32 NumPy arrays of shape `(T, d)`, computed in JAX with a fixed-step
RK4 integrator (`lax.scan`), in float64 when `jax_enable_x64` is on and float32 otherwise; a
chaotic trajectory therefore differs between the two modes after a few Lyapunov times, while
its statistics agree. Loaders (`load_series`, `DATASETS`) return float32 `(T, d)` arrays too,
and all load offline. `check_series` gives the clear errors applications need.
"""

from ._benchmark import cache_dir as cache_dir
from ._datasets import (
    DATASETS as DATASETS,
    co2 as co2,
    elnino as elnino,
    load as load,
    load_series as load_series,
    lorenz63_test as lorenz63_test,
    lorenz63_train as lorenz63_train,
    nile as nile,
    santafe_laser as santafe_laser,
    sunspots as sunspots,
)
from ._delay import mackey_glass as mackey_glass, narma10 as narma10
from ._embed import (
    choose_dimension as choose_dimension,
    choose_lag as choose_lag,
    delay_embed as delay_embed,
    embed as embed,
    false_nearest_neighbours as false_nearest_neighbours,
    mutual_information as mutual_information,
)
from ._files import read_series as read_series
from ._integrate import integrate as integrate, rk4_step as rk4_step
from ._slow_fast import (
    slow_fast_lorenz as slow_fast_lorenz,
    slow_fast_lorenz_vector_field as slow_fast_lorenz_vector_field,
    slow_fast_test as slow_fast_test,
    slow_fast_train as slow_fast_train,
)
from ._systems import (
    lorenz63 as lorenz63,
    lorenz63_vector_field as lorenz63_vector_field,
    lorenz96 as lorenz96,
    lorenz96_vector_field as lorenz96_vector_field,
    rossler as rossler,
    rossler_vector_field as rossler_vector_field,
)
from ._validate import (
    check_series as check_series,
    standardise as standardise,
    train_test_split as train_test_split,
)

__all__ = [
    "DATASETS",
    "cache_dir",
    "check_series",
    "choose_dimension",
    "choose_lag",
    "co2",
    "delay_embed",
    "elnino",
    "embed",
    "false_nearest_neighbours",
    "integrate",
    "load",
    "load_series",
    "lorenz63",
    "lorenz63_test",
    "lorenz63_train",
    "lorenz63_vector_field",
    "lorenz96",
    "lorenz96_vector_field",
    "mackey_glass",
    "mutual_information",
    "narma10",
    "nile",
    "read_series",
    "rk4_step",
    "rossler",
    "rossler_vector_field",
    "santafe_laser",
    "slow_fast_lorenz",
    "slow_fast_lorenz_vector_field",
    "slow_fast_test",
    "slow_fast_train",
    "standardise",
    "sunspots",
    "train_test_split",
]
