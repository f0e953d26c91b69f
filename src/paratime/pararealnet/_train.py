"""Train a ParaRealNet classifier (and, to compare, its sequential baseline)."""

import json
import os
import statistics
from pathlib import Path
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ..bench._environment import environment
from ..train import atomic_write_text, fit, has_checkpoint
from ._classifier import Classifier, count_parameters, cross_entropy, make_classifiers
from ._data import Dataset, load_dataset
from ._network import ParaRealNet


def _seconds_per_step(history: list[dict[str, Any]], warmup: int = 3) -> float:
    """Median wall time per step, skipping the first `warmup` steps (the first one compiles);
    with fewer steps than that, the last step's time."""
    diffs = np.diff([0.0, *(record["time"] for record in history)])
    return float(statistics.median(diffs[min(warmup, len(diffs) - 1) :]))


def shard_fine(model: Classifier) -> Classifier:
    """Place the fine sub-networks' parameters of a sharded `ParaRealNet` one per device."""
    body = model.body
    if not isinstance(body, ParaRealNet) or body.parallel != "shard":
        return model
    mesh = Mesh(np.asarray(jax.devices()[: body.num_parallel]), ("p",))
    sharding = NamedSharding(mesh, PartitionSpec("p"))
    fine = jax.tree_util.tree_map(
        lambda a: jax.device_put(a, sharding) if eqx.is_array(a) else a, body.fine
    )
    return eqx.tree_at(lambda m: m.body.fine, model, fine)


def train_classifier(
    model: Classifier,
    data: Dataset,
    *,
    steps: int,
    key: jax.Array,
    batch_size: int = 128,
    learning_rate: float = 3e-3,
    out_dir: str | os.PathLike | None = None,
    resume: bool = False,
    progress: bool = True,
    description: str = "training",
) -> tuple[Classifier, dict[str, Any]]:
    """Minimise the cross-entropy with Adam (cosine decay) on random minibatches.

    Minibatch k is drawn from `fold_in(key, k)`, so a resumed run repeats an uninterrupted one.

    **Returns:**

    `(model, results)` with `test_accuracy`, `final_loss` (last minibatch),
    `seconds_per_step` (median over steps after the first two, which compile) and `parameters`.
    """
    x_train, y_train = jnp.asarray(data.x_train), jnp.asarray(data.y_train)
    batch_size = min(batch_size, len(y_train))

    def loss_fn(m, k):
        idx = jax.random.randint(k, (batch_size,), 0, len(y_train))
        loss, acc = cross_entropy(m, x_train[idx], y_train[idx])
        return loss, {"accuracy": acc}

    schedule = optax.cosine_decay_schedule(learning_rate, max(steps, 1), alpha=0.05)
    model = shard_fine(model)
    model, history = fit(
        loss_fn,
        model,
        optax.adam(schedule),
        steps=steps,
        key=key,
        out_dir=out_dir,
        resume=resume,
        progress=progress,
        description=description,
        show=("loss", "accuracy"),
    )
    evaluate = eqx.filter_jit(cross_entropy)
    _, test_acc = evaluate(model, jnp.asarray(data.x_test), jnp.asarray(data.y_test))
    results = {
        "test_accuracy": float(test_acc),
        "final_loss": float(history[-1]["loss"]) if history else float("nan"),
        "seconds_per_step": _seconds_per_step(history) if history else float("nan"),
        "parameters": count_parameters(model),
        "steps": steps,
    }
    return model, results


def run_experiment(
    *,
    data: str = "digits",
    depth: int = 32,
    num_parallel: int = 4,
    steps: int = 500,
    out: str | os.PathLike,
    baseline: bool = False,
    width: int = 32,
    hidden: int = 32,
    coarse_hidden: int = 8,
    coarse_depth: int = 1,
    interface: Literal["coarse", "input"] = "coarse",
    parallel: Literal["vmap", "shard"] = "vmap",
    batch_size: int = 128,
    learning_rate: float = 3e-3,
    seed: int = 0,
    resume: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Train a ParaRealNet classifier (and with `baseline=True` the sequential network of equal
    parameter count, same data, steps and optimiser) and write `out/metrics.json`.

    **Returns:**

    The dict written to `metrics.json`: top-level `test_accuracy` and `seconds_per_step` of
    the ParaRealNet, `pararealnet` and `baseline` result dicts, `config` and `environment`.
    """
    if num_parallel < 1 or depth % num_parallel:
        raise ValueError(
            f"`num_parallel` must be a positive divisor of `depth`={depth}; got {num_parallel}."
        )
    dataset = load_dataset(data, seed=seed)
    key_model, key_train = jax.random.split(jax.random.key(seed))
    # Raw uint32 key data: `paratime.train`'s checkpoints cannot serialise typed PRNG keys.
    key_train = jax.random.key_data(key_train)
    model, base = make_classifiers(
        in_features=dataset.x_train.shape[1],
        num_classes=dataset.num_classes,
        depth=depth,
        width=width,
        hidden=hidden,
        num_parallel=num_parallel,
        coarse_hidden=coarse_hidden,
        coarse_depth=coarse_depth,
        interface=interface,
        parallel=parallel,
        key=key_model,
    )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    common: dict[str, Any] = dict(
        steps=steps,
        key=key_train,
        batch_size=batch_size,
        learning_rate=learning_rate,
        resume=resume,
        progress=progress,
    )
    _, results = train_classifier(
        model,
        dataset,
        out_dir=out / "pararealnet",
        description=f"ParaRealNet P={num_parallel}",
        **common,
    )
    metrics: dict[str, Any] = {
        "test_accuracy": results["test_accuracy"],
        "seconds_per_step": results["seconds_per_step"],
        "pararealnet": results,
    }
    if baseline:
        # On resume, a baseline that never started (killed during the first part) starts now.
        base_resume = resume and has_checkpoint(out / "baseline")
        _, base_results = train_classifier(
            base,
            dataset,
            out_dir=out / "baseline",
            description="sequential ResNet",
            **{**common, "resume": base_resume},
        )
        metrics["baseline"] = base_results
    metrics["config"] = {
        "data": data,
        "depth": depth,
        "num_parallel": num_parallel,
        "width": width,
        "hidden": hidden,
        "baseline_hidden": base.body.blocks.inner.weight.shape[1],
        "coarse_hidden": coarse_hidden,
        "coarse_depth": coarse_depth,
        "interface": interface,
        "parallel": parallel,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "seed": seed,
        "train_size": len(dataset.y_train),
        "test_size": len(dataset.y_test),
    }
    metrics["environment"] = environment()
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return metrics
