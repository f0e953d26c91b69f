"""Crash safety: a real training process killed with SIGKILL at many moments resumes exactly.

A small script trains with `paratime.train.train` (checkpoints every 4 steps, a validation
every 3 that keeps the best model in `best.eqx`). It is started,
made to pause at a chosen moment (inside a step, in the middle of a checkpoint write with the
temporary file on disk, between keeping the previous checkpoint and writing the new one, in
the middle of appending a metrics line, while a resumed run rewrites its log, inside a
validation, in the middle of writing the best model `best.eqx`), killed with
SIGKILL there, and restarted, again and again in the same run directory. The final parameters
must equal, bit for bit, those of an uninterrupted run, and the metrics log must be complete
and identical.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
STEPS = 30

SCRIPT = r"""
import contextlib, os, sys, time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

import paratime.train as pt
from paratime.train import _checkpoint, _loop

out = Path(sys.argv[1])
steps = int(sys.argv[2])
kind, _, at = os.environ.get("PAUSE_AT", "").partition(":")
at = int(at) if at else -1


def pause(what):
    print(f"PAUSED {what}", flush=True)
    time.sleep(120)  # the parent kills us here


if kind in ("ckpt-write", "best-write"):  # write half of a checkpoint file, then stop
    real_open = _checkpoint.atomic_open
    target = "best.eqx" if kind == "best-write" else "checkpoint.eqx"

    @contextlib.contextmanager
    def slow_open(path):
        with real_open(path) as f:
            class Half:
                def write(self, data):
                    step = int(data.split(b'"step": ')[1].split(b",")[0])
                    if step != at or Path(path).name != target:
                        return f.write(data)
                    f.write(data[: len(data) // 2])
                    f.flush()
                    pause(f"{kind} {step}")
            yield Half()

    _checkpoint.atomic_open = slow_open

if kind == "keep-previous":  # the previous checkpoint is kept; the new one not yet written
    real_keep = _checkpoint._keep_previous

    def keep(path):
        real_keep(path)
        if pt.verify_checkpoint(path) + 4 == at:
            pause(f"keep-previous {at}")

    _checkpoint._keep_previous = keep

if kind == "truncate-log":  # a resumed run rewriting the log up to its checkpoint
    from paratime.train import _atomic

    def slow_write_text(path, text):
        with _atomic.atomic_open(path) as f:
            f.write(text[: len(text) // 2].encode())
            f.flush()
            pause("truncate-log")

    _loop.atomic_write_text = slow_write_text

if kind == "log-append":  # a torn metrics line
    real_append = _loop._append_line

    def append(path, line):
        if f'"step": {at},' in line:
            real_append(path, line[: len(line) // 2])
            pause(f"log-append {at}")
        real_append(path, line)

    _loop._append_line = append


def loss_fn(model, key):
    x = jax.random.normal(key, (32, 3))
    y = jnp.sin(x @ jnp.array([1.0, -2.0, 0.5]))[:, None]
    return jnp.mean((jax.vmap(model)(x) - y) ** 2)


model = eqx.nn.MLP(3, 1, 8, 2, key=jax.random.key(0))
optimizer = optax.adam(1e-2)
inner = pt.make_step(loss_fn, optimizer)


# The run state: the training state and the model selection so far (best score, its step).
def step_fn(state, step):
    if kind == "step" and step == at:
        pause(f"step {step}")
    new, metrics = inner(state[0], step)
    return (new, state[1]), metrics


def validate(state, done):  # a validation loss; the best state goes to best.eqx
    if kind == "validate" and done == at:
        pause(f"validate {done}")
    score = float(loss_fn(state[0].model, jax.random.key(99)))
    if score < float(state[1][0]):
        state = (state[0], (jnp.asarray(score), jnp.asarray(done)))
        pt.save_checkpoint(out / "best.eqx", state, step=done, score=score)
    return state, {"val_loss": score, "best_step": float(state[1][1])}


params = eqx.filter(model, eqx.is_inexact_array)
state = (pt.TrainState(model, optimizer.init(params), jax.random.key(1)),
         (jnp.asarray(jnp.inf), jnp.asarray(-1)))
resume = any((out / n).exists() for n in ("checkpoint.eqx", "checkpoint.prev.eqx"))
state, _ = pt.train(
    step_fn, state, steps=steps, out_dir=out, resume=resume, checkpoint_every=4,
    progress=False, validate=validate, validate_every=3,
)
trained = state[0].model
leaves = [np.asarray(x) for x in jax.tree_util.tree_leaves(eqx.filter(trained, eqx.is_array))]
np.savez(out / "final.npz", *leaves)
print("DONE", flush=True)
"""

# (pause point, the temporary file that must exist when the process is killed)
KILLS = [
    ("step:2", None),  # before the first checkpoint: the restart starts fresh
    ("ckpt-write:8", ".checkpoint.eqx.*.tmp"),  # half of checkpoint 8 in the temporary file
    ("log-append:13", None),  # a torn metrics line
    ("truncate-log:", ".metrics.jsonl.*.tmp"),  # resuming: the log half rewritten
    ("keep-previous:16", None),  # checkpoint 12 kept as previous, 16 not written yet
    ("validate:18", None),  # inside a validation, after the checkpoint at 16
    ("best-write:27", ".best.eqx.*.tmp"),  # half of the best model (step 27) written
    ("ckpt-write:30", ".checkpoint.eqx.*.tmp"),  # inside the final checkpoint
]


def _env(pause=None):
    env = dict(os.environ, JAX_PLATFORMS="cpu", JAX_ENABLE_X64="1", PYTHONPATH=str(SRC))
    env.pop("PAUSE_AT", None)
    env.pop("XLA_FLAGS", None)
    if pause is not None:
        env["PAUSE_AT"] = pause
    return env


def _start(script, out, pause=None):
    return subprocess.Popen(
        [sys.executable, str(script), str(out), str(STEPS)],
        env=_env(pause),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _read_log(out):
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "time"} for r in records]


def _final(out):
    with np.load(out / "final.npz") as f:
        return [f[k] for k in sorted(f.files, key=lambda k: int(k.split("_")[1]))]


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_sigkill_at_many_moments_then_resume_is_bit_identical(tmp_path):
    script = tmp_path / "train_script.py"
    script.write_text(SCRIPT)
    full_dir, run_dir = tmp_path / "full", tmp_path / "run"
    reference = _start(script, full_dir)  # runs alongside the killed ones
    stderr = []
    for pause, temporary in KILLS:
        proc = _start(script, run_dir, pause)
        line = proc.stdout.readline()
        if not line.startswith("PAUSED"):
            proc.kill()
            _, err = proc.communicate()
            pytest.fail(f"{pause}: the script did not pause (got {line!r}):\n{err[-3000:]}")
        temporaries = sorted(p.name for p in run_dir.glob(".*.tmp"))
        if temporary is None:
            assert not any(".checkpoint.eqx." in t for t in temporaries), (pause, temporaries)
        else:
            assert list(run_dir.glob(temporary)), (pause, temporaries)
        os.kill(proc.pid, signal.SIGKILL)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        stderr.append(err)
    proc = _start(script, run_dir)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "DONE" in out, err[-3000:]
    stderr.append(err)
    out, err = reference.communicate(timeout=120)
    assert reference.returncode == 0 and "DONE" in out, err[-3000:]

    # Bit-identical final parameters and an identical, complete metrics log.
    for a, b in zip(_final(run_dir), _final(full_dir), strict=True):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes()
    assert [r["step"] for r in _read_log(run_dir)] == list(range(STEPS))
    assert _read_log(run_dir) == _read_log(full_dir)
    # The selected model: the same best.eqx, byte for byte, at the argmin of the logged scores.
    best = (run_dir / "best.eqx").read_bytes()
    assert best == (full_dir / "best.eqx").read_bytes()
    scores = {r["step"] + 1: r["val_loss"] for r in _read_log(run_dir) if "val_loss" in r}
    assert sorted(scores) == [3, 6, 9, 12, 15, 18, 21, 24, 27, 30]
    assert f'"step": {min(scores, key=scores.get)},'.encode() in best.split(b"\n")[1]
    # The restarts said what they repaired, and left no debris.
    said = "".join(stderr)
    assert "temporary file(s)" in said and "torn last line" in said
    assert not list(run_dir.glob(".*.tmp"))
