"""Train a ParaRealNet classifier (and, to compare, its sequential baseline)."""

import json
import os
import statistics
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ..bench._environment import environment
from ..train import atomic_write_text, fit, has_checkpoint
from ._classifier import Classifier, count_parameters, cross_entropy, make_classifiers
from ._config import TrainConfig
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


def train_run(
    config: TrainConfig,
    out: str | os.PathLike,
    *,
    resume: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Train the ParaRealNet classifier that `config` describes (and with `config.baseline`
    the sequential network of about equal parameter count, same data, steps and optimiser);
    write `out/metrics.json`, with checkpoints in `out/pararealnet` and `out/baseline`.

    **Arguments:**

    - `config`: the run's `TrainConfig`.
    - `out`: the run folder.
    - `resume`: continue from the checkpoints in `out`.
    - `progress`: show progress bars.

    **Returns:**

    The dict written to `metrics.json`: top-level `test_accuracy` and `seconds_per_step` of
    the ParaRealNet, `pararealnet` and `baseline` result dicts, `config` and `environment`.
    """
    c = config
    dataset = load_dataset(c.data, seed=c.seed)
    key_model, key_train = jax.random.split(jax.random.key(c.seed))
    # Raw uint32 key data: `paratime.train`'s checkpoints cannot serialise typed PRNG keys.
    key_train = jax.random.key_data(key_train)
    model, base = make_classifiers(
        in_features=dataset.x_train.shape[1],
        num_classes=dataset.num_classes,
        depth=c.depth,
        width=c.width,
        hidden=c.hidden,
        num_parallel=c.parallel,
        coarse_hidden=c.coarse_hidden,
        coarse_depth=c.coarse_depth,
        interface=c.interface,
        parallel=c.mode,
        key=key_model,
    )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    def train(classifier: Classifier, folder: str, description: str, resume: bool):
        return train_classifier(
            classifier, dataset, steps=c.steps, key=key_train, batch_size=c.batch_size,
            learning_rate=c.learning_rate, out_dir=out / folder, resume=resume,
            progress=progress, description=description,
        )  # fmt: skip

    _, results = train(model, "pararealnet", f"ParaRealNet P={c.parallel}", resume)
    metrics: dict[str, Any] = {
        "test_accuracy": results["test_accuracy"],
        "seconds_per_step": results["seconds_per_step"],
        "pararealnet": results,
    }
    if c.baseline:
        # On resume, a baseline that never started (killed during the first part) starts now.
        base_resume = resume and has_checkpoint(out / "baseline")
        _, base_results = train(base, "baseline", "sequential ResNet", base_resume)
        metrics["baseline"] = base_results
    metrics["config"] = {
        "data": c.data,
        "depth": c.depth,
        "num_parallel": c.parallel,
        "width": c.width,
        "hidden": c.hidden,
        "baseline_hidden": base.body.blocks.inner.weight.shape[1],
        "coarse_hidden": c.coarse_hidden,
        "coarse_depth": c.coarse_depth,
        "interface": c.interface,
        "parallel": c.mode,
        "batch_size": c.batch_size,
        "learning_rate": c.learning_rate,
        "seed": c.seed,
        "train_size": len(dataset.y_train),
        "test_size": len(dataset.y_test),
    }
    metrics["environment"] = environment()
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return metrics
