"""Save and load a fitted `RecurrentModel` (weights plus the configuration to rebuild it)."""

import json
import os

import jax
import jax.numpy as jnp

from ..train import load_checkpoint, save_checkpoint
from ._cells import make_cell
from ._model import RecurrentModel


def save_model(path: str | os.PathLike, model: RecurrentModel, **cell_options) -> None:
    """Write `model` atomically; `cell_options` are those given to `make_cell` (they fix the
    static structure, e.g. NARMAX `lags`)."""
    beta = model.beta
    config = {
        "arch": model.arch,
        "window": model.window,
        "direct": model.direct,
        "input_size": len(model.in_mean),
        "output_size": len(model.out_mean),
        "features": int(beta.shape[0]),
        "hidden": _hidden_size(model),
        "dtype": str(beta.dtype),
        "scaling": [model.in_mean, model.in_std, model.out_mean, model.out_std],
        "bounds": model.bounds,
        "cell_options": cell_options,
    }
    save_checkpoint(path, model, step=0, config=config)


def _hidden_size(model: RecurrentModel) -> int:
    bias = getattr(model.cell, "bias", None)
    return int(bias.shape[0] if bias is not None else getattr(model.cell, "weight_hh").shape[1])


def load_model(path: str | os.PathLike) -> RecurrentModel:
    """Read a model written by `save_model`.

    **Raises:**

    `ValueError` if `path` is not a paratime checkpoint of an ELM model.
    """
    with open(path, "rb") as f:
        f.readline()
        try:
            header = json.loads(f.readline())
        except ValueError:
            header = {}
    config = header.get("extra", {}).get("config") if isinstance(header, dict) else None
    if config is None:
        raise ValueError(f"`path` {str(path)!r} holds no ELM model configuration.")
    dtype = jnp.dtype(config["dtype"])
    cell = make_cell(
        config["arch"], config["input_size"], config["hidden"], key=jax.random.key(0),
        output_size=config["output_size"], dtype=dtype, **config["cell_options"],
    )  # fmt: skip
    K = config["output_size"]
    in_mean, in_std, out_mean, out_std = (tuple(s) for s in config["scaling"])
    like = RecurrentModel(
        cell, jnp.zeros((config["features"], K), dtype), jnp.zeros(K, dtype), config["arch"],
        config["window"], config["direct"], in_mean, in_std, out_mean, out_std,
        _bounds(config.get("bounds")),
    )  # fmt: skip
    return load_checkpoint(path, like)[0]


def _bounds(value) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    return None if value is None else (tuple(value[0]), tuple(value[1]))
