"""Train a byte-level language model, measure bits per byte, generate text."""

import json
import math
import os
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.lax as lax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray

from .._engine._record import SolveLog, recording
from ..nn import SequenceModel, WarmStart
from ..train import load_checkpoint, train
from ..train._atomic import atomic_write_text
from ._config import LMConfig
from ._corpus import (
    Corpus,
    evaluation_windows,
    evaluation_windows_and_resets,
    load_corpus,
    sample_windows,
    sample_windows_and_resets,
)
from ._model import make_mesh, make_model, num_parameters

CONFIG = "config.toml"
RESULT = "result.json"


class LMState(eqx.Module):
    """What a language-model run carries and checkpoints: the model, the optimiser state and
    the warm start (each layer's last trajectories, or `None` without warm starts)."""

    model: SequenceModel
    opt_state: Any
    warm: WarmStart | None


def make_optimizer(config: LMConfig) -> optax.GradientTransformation:
    """Adam with global-norm clipping at 1, linear warm-up and cosine decay to 10 %."""
    schedule = optax.warmup_cosine_decay_schedule(
        0.0,
        config.learning_rate,
        warmup_steps=min(config.warmup, max(config.steps - 1, 0)),
        decay_steps=max(config.steps, 1),
        end_value=0.1 * config.learning_rate,
    )
    return optax.chain(optax.clip_by_global_norm(1.0), optax.adam(schedule))


def _loss(
    model: SequenceModel,
    windows: Int[Array, "B L"],
    warm: WarmStart | None,
    resets: Bool[Array, "B L"] | None = None,
):
    inputs = windows[:, :-1]
    if resets is None:
        logits, warm = jax.vmap(model.warm)(inputs, warm)
    else:
        logits, warm = jax.vmap(lambda x, w, r: model.warm(x, w, resets=r))(
            inputs, warm, resets[:, :-1]
        )
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, windows[:, 1:])
    return jnp.mean(ce), warm


def loss_and_grad(model: SequenceModel, windows: Int[Array, "B L"]) -> tuple[Array, Any]:
    """The mean next-byte cross-entropy (nats) of a batch of windows, and its gradient."""
    return eqx.filter_value_and_grad(lambda m: _loss(m, windows, None)[0])(model)


@eqx.filter_jit
def _evaluate(model: SequenceModel, windows: Int[Array, "B L"], resets) -> Float[Array, ""]:
    return _loss(model, windows, None, resets)[0]


def bits_per_byte(
    model: SequenceModel,
    windows: np.ndarray,
    *,
    batch: int = 8,
    resets: np.ndarray | None = None,
) -> float:
    """The mean next-byte cross-entropy of `model` on `windows` (B, L), in bits per byte.

    Every byte of a window after its first is predicted from the bytes before it in the same
    window (from those of its own file, with `resets`: (B, L) booleans, true where a file
    begins). Windows are evaluated `batch` at a time.
    """
    total, count = 0.0, 0
    for i in range(0, len(windows), batch):
        chunk = jnp.asarray(windows[i : i + batch])
        cut = None if resets is None else jnp.asarray(resets[i : i + batch])
        total += float(_evaluate(model, chunk, cut)) * len(chunk)
        count += len(chunk)
    return total / count / math.log(2)


def _initial_warm(model: SequenceModel, config: LMConfig) -> WarmStart | None:
    if not config.warm_start:
        return None
    T = config.context
    states = tuple(
        jax.tree.map(lambda h: jnp.zeros((config.batch, T) + h.shape, h.dtype), b.rnn.initial_state)
        for b in model.blocks
    )
    return WarmStart(states, tuple(jnp.zeros(config.batch, int) for _ in model.blocks))


def _step_function(config: LMConfig, corpus: Corpus, optimizer, mesh: Mesh | None, test):
    sharding = None if mesh is None else NamedSharding(mesh, PartitionSpec("batch"))

    log = SolveLog()  # the layers' solves report their fallbacks and residuals here

    @eqx.filter_jit
    def update(state: LMState, windows, resets, step):
        with recording(log, step):
            (loss, warm), grads = eqx.filter_value_and_grad(_loss, has_aux=True)(
                state.model, windows, state.warm, resets
            )
        params = eqx.filter(state.model, eqx.is_inexact_array)
        updates, opt_state = optimizer.update(grads, state.opt_state, params)
        model = eqx.apply_updates(state.model, updates)
        newton = sum(jnp.mean(s) for s in warm.num_steps) / len(warm.num_steps)
        metrics = {
            "loss": loss,
            "bpb": loss / math.log(2),
            "newton_iters": newton,
            "grad_norm": optax.tree_utils.tree_norm(grads),
        }
        return LMState(model, opt_state, warm if config.warm_start else None), metrics

    def step_fn(state: LMState, step: int):
        rng = np.random.default_rng([config.seed, step])
        length = config.context + 1
        if config.file_resets:
            windows, resets = sample_windows_and_resets(
                corpus.train, corpus.train_starts, config.batch, length, rng
            )
            resets = jnp.asarray(resets)
        else:
            windows, resets = sample_windows(corpus.train, config.batch, length, rng), None
        windows = jnp.asarray(windows)
        if sharding is not None:
            windows = jax.device_put(windows, sharding)
            resets = None if resets is None else jax.device_put(resets, sharding)
        state, metrics = update(state, windows, resets, jnp.asarray(step))
        done = step + 1
        if done == config.steps or (config.eval_every and done % config.eval_every == 0):
            test_bpb = bits_per_byte(state.model, test[0], resets=test[1])
            metrics = {**metrics, "test_bpb": test_bpb}
        return state, metrics

    step_fn.solve_log = log  # type: ignore[attr-defined]
    return step_fn


def train_lm(
    config: LMConfig,
    out_dir: str | os.PathLike | None = None,
    *,
    resume: bool = False,
    progress: bool = False,
    corpus: Corpus | None = None,
) -> tuple[SequenceModel, list[dict[str, Any]]]:
    """Train the byte-level language model of `config`.

    Batches are random windows of `context + 1` bytes of the training split, drawn from a
    generator seeded by `(seed, step)`, so a resumed run continues exactly as an uninterrupted
    one. The held-out bits per byte (`test_bpb`) are measured on `eval_windows` fixed windows
    of the test split, every `eval_every` steps and at the end.

    **Arguments:**

    - `config`: an `LMConfig`.
    - `out_dir`: the run folder: `config.toml`, `checkpoint.eqx`, `metrics.jsonl` (one JSON line
        per step: `loss`, `bpb`, `newton_iters`, `grad_norm`, `test_bpb`, `time`) and, at the
        end, `result.json`. `None` keeps nothing on disk.
    - `resume`: continue from the checkpoint in `out_dir`; the stored config must agree with
        `config` in every field except `steps`.
    - `progress`: show a progress bar.
    - `corpus`: an already loaded `Corpus` (default: `load_corpus(config.data)`).

    **Returns:**

    `(model, history)`.

    **Raises:**

    `ValueError` if `resume` finds a different config.

    **Example:**

    ```python
    from paratime.lm import LMConfig, train_lm
    model, history = train_lm(LMConfig(steps=100, context=1024), "runs/lm")
    history[-1]["test_bpb"]
    ```
    """
    if out_dir is not None:
        out = Path(out_dir)
        stored = out / CONFIG
        if resume and stored.exists():
            changed = LMConfig.from_toml(stored).differences(config)
            if changed:
                raise ValueError(f"`resume` with a different config: {'; '.join(changed)}.")
        out.mkdir(parents=True, exist_ok=True)
        config.save(stored)
    corpus = load_corpus(config.data) if corpus is None else corpus
    mesh = make_mesh(config)
    model = make_model(config, mesh=mesh)
    optimizer = make_optimizer(config)
    state = LMState(
        model,
        optimizer.init(eqx.filter(model, eqx.is_inexact_array)),
        _initial_warm(model, config),
    )
    if config.file_resets:
        test = evaluation_windows_and_resets(
            corpus.test, corpus.test_starts, config.eval_windows, config.context + 1
        )
    else:
        test = (evaluation_windows(corpus.test, config.eval_windows, config.context + 1), None)
    state, history = train(
        _step_function(config, corpus, optimizer, mesh, test),
        state,
        steps=config.steps,
        out_dir=out_dir,
        resume=resume,
        checkpoint_every=max(1, min(100, config.steps)),
        progress=progress,
        description=f"lm {config.cell}",
        show=("loss", "bpb", "newton_iters"),
    )
    if out_dir is not None:
        result = {
            "test_bpb": history[-1].get("test_bpb") if history else None,
            "train_bpb": history[-1].get("bpb") if history else None,
            "parameters": num_parameters(state.model),
            "train_bytes": int(len(corpus.train)),
            "test_bytes": int(len(corpus.test)),
            "train_files": corpus.train_files,
            "test_files": corpus.test_files,
        }
        atomic_write_text(Path(out_dir) / RESULT, json.dumps(result, indent=1) + "\n")
    return state.model, history


def load_run(run: str | os.PathLike) -> tuple[LMConfig, SequenceModel]:
    """The config and trained model of a `train_lm` run folder.

    **Raises:**

    `ValueError` if the folder holds no config or checkpoint.
    """
    run = Path(run)
    if not (run / CONFIG).exists() or not (run / "checkpoint.eqx").exists():
        raise ValueError(f"{str(run)!r} is not a `paratime lm train` run folder.")
    config = LMConfig.from_toml(run / CONFIG)
    model = make_model(config.replace(batch_devices=1, time_devices=1))
    optimizer = make_optimizer(config)
    template = LMState(
        model, optimizer.init(eqx.filter(model, eqx.is_inexact_array)), _initial_warm(model, config)
    )
    state, _, _ = load_checkpoint(run / "checkpoint.eqx", template)
    return config, state.model


@eqx.filter_jit
def _generate(model: SequenceModel, prompt, length: int, key: PRNGKeyArray, temperature):
    def feed(states, x):
        logits, states = model.step(x, states)
        return states, logits

    states, logits = lax.scan(feed, model.initial_states(), prompt)

    def sample(carry, k):
        states, logits = carry
        token = jax.random.categorical(k, logits / temperature)
        logits, states = model.step(token, states)
        return (states, logits), token

    _, tokens = lax.scan(sample, (states, logits[-1]), jax.random.split(key, length))
    return tokens


def generate(
    model: SequenceModel,
    prompt: bytes,
    length: int,
    *,
    key: PRNGKeyArray,
    temperature: float = 1.0,
) -> bytes:
    """Sample `length` bytes that continue `prompt` (one step after another).

    **Arguments:**

    - `model`: a trained byte-level `SequenceModel`.
    - `prompt`: the bytes to continue (an empty prompt starts from a newline).
    - `length`: how many bytes to sample.
    - `key`: a PRNG key.
    - `temperature`: divides the logits before sampling (lower: more conservative).

    **Returns:**

    The sampled bytes (without the prompt).
    """
    if length < 0:
        raise ValueError(f"`length` must be non-negative; got {length}.")
    if not temperature > 0:
        raise ValueError(f"`temperature` must be positive; got {temperature}.")
    if length == 0:
        return b""
    tokens = jnp.asarray(np.frombuffer(prompt or b"\n", np.uint8).astype(np.int32))
    out = _generate(model, tokens, length, key, jnp.asarray(temperature))
    return bytes(np.asarray(out, np.uint8).tolist())
