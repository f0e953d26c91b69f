"""Interleaved timing of one training step for several models (robust to a busy machine)."""

import time
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from paratime.bench import environment
from paratime.pararealnet import count_parameters, cross_entropy, load_dataset, make_classifiers
from paratime.pararealnet._train import shard_fine
from paratime.train import TrainState, make_step


def time_training_steps(
    *,
    data: str = "digits",
    depth: int = 32,
    parallel: tuple[int, ...] = (1, 2, 4, 8),
    shard: tuple[int, ...] = (2, 4),
    width: int = 32,
    hidden: int = 32,
    coarse_hidden: int = 8,
    batch_size: int = 128,
    steps_per_round: int = 20,
    rounds: int = 15,
    seed: int = 0,
) -> dict[str, Any]:
    """Seconds per training step (forward, backward, Adam update) of each model.

    The models (ParaRealNet with every P in `parallel` vmapped on one device, with every P in
    `shard` on P devices, and the sequential baseline of the largest P's parameter count and
    of the plain P = 1 size) are compiled first; then `rounds` rounds each run
    `steps_per_round` steps of every model in turn, so a change in the machine's load hits all
    models alike. Reported: the median and the minimum over rounds of the mean step time.
    """
    dataset = load_dataset(data, seed=seed)
    x = jnp.asarray(dataset.x_train[:batch_size])
    y = jnp.asarray(dataset.y_train[:batch_size])
    common = dict(
        in_features=x.shape[1],
        num_classes=dataset.num_classes,
        depth=depth,
        width=width,
        hidden=hidden,
        coarse_hidden=coarse_hidden,
        key=jax.random.key(seed),
    )
    models: dict[str, Any] = {}
    for p in parallel:
        model, base = make_classifiers(num_parallel=p, parallel="vmap", **common)
        models[f"pararealnet-vmap-P{p}"] = model
        models[f"baseline-matching-P{p}"] = base
    for p in shard:
        model, _ = make_classifiers(num_parallel=p, parallel="shard", **common)
        models[f"pararealnet-shard-P{p}"] = shard_fine(model)

    def loss_fn(m, _key):
        return cross_entropy(m, x, y)[0]

    optimizer = optax.adam(1e-3)
    step_fn = make_step(loss_fn, optimizer)
    states = {
        name: TrainState(
            m, optimizer.init(eqx.filter(m, eqx.is_inexact_array)), jnp.zeros(2, "uint32")
        )
        for name, m in models.items()
    }
    for name in states:  # compile and warm up
        for k in range(2):
            states[name], metrics = step_fn(states[name], k)
        jax.block_until_ready(metrics)
    per_round: dict[str, list[float]] = {name: [] for name in states}
    for _ in range(rounds):
        for name in states:
            t0 = time.perf_counter()
            for k in range(steps_per_round):
                states[name], metrics = step_fn(states[name], k)
            jax.block_until_ready(metrics)
            per_round[name].append((time.perf_counter() - t0) / steps_per_round)
    return {
        "config": dict(
            data=data,
            depth=depth,
            width=width,
            hidden=hidden,
            coarse_hidden=coarse_hidden,
            batch_size=batch_size,
            steps_per_round=steps_per_round,
            rounds=rounds,
        ),
        "environment": environment(),
        "models": {
            name: {
                "median_seconds_per_step": float(np.median(times)),
                "min_seconds_per_step": float(np.min(times)),
                "parameters": count_parameters(models[name]),
            }
            for name, times in per_round.items()
        },
    }
