"""A trained run back from its directory: the stored config and a checkpoint."""

import json
import os
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp

from ._build import build_model
from ._config import TrainConfig
from ._overflow import selected_run

CONFIG = "config.toml"


def read_run_config(run: str | os.PathLike) -> TrainConfig:
    """The resolved config of a `paratime dsr train` run directory (`config.toml`, or the
    `config.json` of older runs); of the restart that replaced the run's model, if
    `run/bounded.json` or `run/restarts.json` names one.

    **Raises:**

    `FileNotFoundError` if `run` holds neither; `ValueError` if the stored config is bad.
    """
    run = selected_run(run)
    if (run / CONFIG).is_file():
        return TrainConfig.from_toml(run / CONFIG)
    if (run / "config.json").is_file():
        values = json.loads((run / "config.json").read_text())
        values["gtf"] = str(values["gtf"])
        values["solver"] = {"quasideer": "quasi-deer"}.get(values["solver"], values["solver"])
        return TrainConfig(**values)
    raise FileNotFoundError(
        f"{str(run)!r} is not a `paratime dsr train` run directory (no {CONFIG})."
    )


def build_from_config(cfg: TrainConfig, key) -> Any:
    """The freshly initialised model that `cfg` describes (`cfg.latent` and `cfg.data_size`
    must be set, as they are in a stored config)."""
    if cfg.data_size is None or cfg.latent is None:
        raise ValueError("`data_size` and `latent` must be set (the config of a stored run).")
    return build_model(
        cfg.model,
        cfg.data_size,
        latent=cfg.latent,
        hidden=cfg.hidden,
        observation=cfg.observation,
        num_relu=cfg.num_relu,
        hidden_estimate=cfg.hidden_estimate,
        key=key,
    )


def load_run(
    run: str | os.PathLike, which: Literal["best", "last"] = "last"
) -> tuple[TrainConfig, Any, int, Literal["best", "last"]]:
    """A trained run: its config, its `DSRState`, the step of the checkpoint and which
    checkpoint it is.

    **Arguments:**

    - `run`: a run directory of `paratime dsr train`; if its model was replaced by a
        restart (the bounded model's, `on_overflow = "bounded"`, or its own, `restarts`), the
        one that `run/bounded.json` or `run/restarts.json` names.
    - `which`: `"last"` loads `checkpoint.eqx`; `"best"` loads `best.eqx` (the model selected
        on the validation segment), or the last checkpoint for a run without one (trained
        before model selection, or with `validation = 0`): the returned `which` says so.

    **Returns:**

    `(config, state, step, which)`, `which` being `"best"` or `"last"`.

    **Raises:**

    `FileNotFoundError` if `run` is not a run directory or has no checkpoint;
    `paratime.train.CheckpointError` (a `ValueError`) for a damaged checkpoint.
    """
    from ..train import CheckpointError, load_checkpoint
    from ._select import BEST
    from ._train import DSRState, make_optimizer

    run = selected_run(run)
    cfg = read_run_config(run)
    ckpt = run / "checkpoint.eqx"
    if not ckpt.exists():
        raise FileNotFoundError(
            f"{str(run)!r} has no checkpoint.eqx: its training never saved one."
        )
    if which == "best" and (run / BEST).is_file():
        ckpt = run / BEST
    kmodel, ktrain = jax.random.split(jax.random.key(cfg.seed))
    model = build_from_config(cfg, kmodel)
    opt = make_optimizer(cfg.lr, cfg.steps, clip=cfg.grad_clip or None)
    opt_state = opt.init(eqx.filter(model, eqx.is_inexact_array))
    like = DSRState(model, opt_state, jax.random.key_data(ktrain), jnp.zeros(()))
    try:
        state, step, _ = load_checkpoint(ckpt, like)
    except CheckpointError:
        raise
    except ValueError as e:  # a checkpoint of an older run: no model-selection fields
        legacy = (like.model, like.opt_state, like.key, like.alpha)
        try:
            (model, opt_state, key, alpha), step, _ = load_checkpoint(ckpt, legacy)
        except ValueError:
            raise e from None
        state = DSRState(model, opt_state, key, alpha)
    return cfg, state, step, "best" if ckpt.name == BEST else "last"
