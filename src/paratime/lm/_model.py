"""The language model of a config: cells by name, solvers by name, the device mesh."""

import functools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.sharding import AxisType, Mesh

from .. import cells
from .._engine import AbstractSolver
from .._names import fallback_policy, make_solver
from ..nn import SequenceModel
from ..recurrences import Sharded
from ._config import LMConfig

VOCAB = 256  # bytes

CELLS = {
    "gru": cells.GRU,
    "lstm": cells.LSTM,
    "mingru": cells.MinGRU,
    "elman": functools.partial(cells.Elman, weight_scale=0.5),
    "diagonal_gru": cells.DiagonalGRU,
    "diagonal_lstm": cells.DiagonalLSTM,
    "block_gru": functools.partial(cells.BlockGRU, block_size=8),
    "cfc": cells.CfC,
}
"""The cells `LMConfig.cell` names, each a constructor `(dim, hidden_size, *, key, dtype)`
(`block_gru` has 8×8 recurrent blocks; the diagonal cells one head)."""


def make_mesh(config: LMConfig) -> Mesh | None:
    """The (batch × time) mesh of `config`, or `None` for one device.

    **Raises:**

    `ValueError` if fewer devices are available than `batch_devices * time_devices`.
    """
    need = config.batch_devices * config.time_devices
    if need == 1:
        return None
    if jax.device_count() < need:
        raise ValueError(
            f"`batch_devices` × `time_devices` = {need} devices requested; "
            f"{jax.device_count()} available."
        )
    return jax.make_mesh(
        (config.batch_devices, config.time_devices),
        ("batch", "time"),
        devices=jax.devices()[:need],
        axis_types=(AxisType.Auto, AxisType.Auto),
    )


def layer_solver(config: LMConfig, mesh: Mesh | None = None) -> AbstractSolver:
    """The recurrent layers' solver named by `config.solver` (`paratime.make_solver`), with the
    time axis split over the mesh's `"time"` devices if `time_devices > 1`."""
    if mesh is not None and config.time_devices > 1:
        return make_solver(config.solver, recurrence=Sharded(mesh, "time"))
    return make_solver(config.solver)


def make_model(config: LMConfig, *, mesh: Mesh | None = None) -> SequenceModel:
    """The byte-level `paratime.nn.SequenceModel` of `config` (256 tokens in, 256 logits out),
    initialised from `config.seed`."""
    return SequenceModel(
        CELLS[config.cell],
        dim=config.dim,
        depth=config.depth,
        output_size=VOCAB,
        vocab_size=VOCAB,
        hidden_size=config.hidden_size,
        mlp_ratio=config.mlp_ratio,
        solver=layer_solver(config, mesh),
        fallback=fallback_policy(config.fallback),
        dtype=jnp.dtype(config.dtype),
        key=jax.random.key(config.seed),
    )


def num_parameters(model: eqx.Module) -> int:
    """The number of trainable numbers (inexact array elements) in `model`; also works on
    the shapes from `eqx.filter_eval_shape(make_model, config)`."""
    leaves = [
        x
        for x in jax.tree.leaves(model)
        if isinstance(x, jax.Array | jax.ShapeDtypeStruct) and jnp.issubdtype(x.dtype, jnp.inexact)
    ]
    return sum(math.prod(x.shape) for x in leaves)
