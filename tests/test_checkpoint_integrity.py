"""Checkpoint integrity: checksums, refused damage, the previous checkpoint, torn logs, debris."""

import json

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
import pytest
from hypothesis import given, settings, strategies as st

from helpers import tree_allclose
from paratime.train import (
    CheckpointError,
    load_checkpoint,
    make_step,
    previous_path,
    save_checkpoint,
    train,
    verify_checkpoint,
)
from paratime.train._fit import TrainState

OPTIMIZER = optax.sgd(1e-1)


def loss_fn(model, key):
    x = jax.random.normal(key, (8, 2))
    return jnp.mean((jax.vmap(model)(x) - x[:, :1] * 2.0) ** 2)


STEP = make_step(loss_fn, OPTIMIZER)


def initial_state():
    model = eqx.nn.Linear(2, 1, key=jax.random.key(0))
    return TrainState(
        model, OPTIMIZER.init(eqx.filter(model, eqx.is_inexact_array)), jax.random.key(1)
    )


def run(out_dir, steps=6, **kwargs):
    return train(
        STEP,
        initial_state(),
        steps=steps,
        out_dir=out_dir,
        checkpoint_every=2,
        progress=False,
        **kwargs,
    )


def arrays(tree):
    return eqx.filter(tree, eqx.is_array)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "checkpoint.eqx"
    save_checkpoint(path, initial_state(), step=3)
    return path.read_bytes()


def test_header_holds_size_and_checksum(tmp_path, saved):
    lines = saved.split(b"\n", 3)
    assert lines[0] == b"PARATIME-CKPT-2"
    header = json.loads(lines[1])
    assert header["size"] == len(lines[3]) and len(lines[2]) == len("sha256:") + 64
    path = tmp_path / "checkpoint.eqx"
    path.write_bytes(saved)
    assert verify_checkpoint(path) == 3


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_any_flipped_bit_is_refused(tmp_path_factory, saved, data):
    """Every single-bit flip, in the magic, header or payload, is detected."""
    bit = data.draw(st.integers(0, 8 * len(saved) - 1))
    damaged = bytearray(saved)
    damaged[bit // 8] ^= 1 << (bit % 8)
    path = tmp_path_factory.mktemp("flip") / "checkpoint.eqx"
    path.write_bytes(bytes(damaged))
    with pytest.raises(CheckpointError, match="checkpoint.eqx"):
        load_checkpoint(path, initial_state())


@pytest.mark.parametrize(
    "cut, problem",
    [(0, "is empty"), (10, "first line"), (40, "corrupt header"), (-1, "is truncated")],
)
def test_truncated_files_are_refused_with_the_reason(tmp_path, saved, cut, problem):
    path = tmp_path / "checkpoint.eqx"
    path.write_bytes(saved[:cut])
    with pytest.raises(CheckpointError, match=problem) as info:
        load_checkpoint(path, initial_state())
    assert str(path) in str(info.value) and "no earlier checkpoint" in str(info.value)


def test_trailing_bytes_and_future_versions_are_refused(tmp_path, saved):
    path = tmp_path / "checkpoint.eqx"
    path.write_bytes(saved + b"junk")
    with pytest.raises(CheckpointError, match="4 unexpected bytes"):
        verify_checkpoint(path)
    path.write_bytes(saved.replace(b"CKPT-2", b"CKPT-9", 1))
    with pytest.raises(CheckpointError, match="version 9"):
        verify_checkpoint(path)


def test_a_checkpoint_of_another_model_names_like(tmp_path):
    path = tmp_path / "checkpoint.eqx"
    save_checkpoint(path, initial_state(), step=1)
    other = eqx.nn.Linear(3, 1, key=jax.random.key(0))
    with pytest.raises(ValueError, match="`like`"):
        load_checkpoint(path, other)


def test_version_1_files_still_load(tmp_path):
    state = initial_state()
    path = tmp_path / "old.eqx"
    with open(path, "wb") as f:
        f.write(b"PARATIME-CKPT-1\n" + json.dumps({"step": 4, "extra": {}}).encode() + b"\n")
        raw = jax.tree_util.tree_map(
            lambda x: (
                jax.random.key_data(x) if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) else x
            ),
            state,
        )
        eqx.tree_serialise_leaves(f, raw)
    loaded, step, _ = load_checkpoint(path, initial_state())
    assert step == 4 and tree_allclose(arrays(loaded.model), arrays(state.model))


def test_previous_checkpoint_is_kept_and_used_when_the_latest_is_corrupt(tmp_path):
    full, full_history = run(tmp_path / "full")
    out = tmp_path / "run"
    run(out, steps=4)  # checkpoints at steps 2 and 4
    ckpt = out / "checkpoint.eqx"
    assert verify_checkpoint(ckpt) == 4 and verify_checkpoint(previous_path(ckpt)) == 2
    data = bytearray(ckpt.read_bytes())
    data[-3] ^= 0x10
    ckpt.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="checkpoint.prev.eqx"):
        load_checkpoint(ckpt, initial_state())
    with pytest.warns(UserWarning, match="previous checkpoint .*step 2"):
        resumed, history = run(out, resume=True)
    assert tree_allclose(arrays(resumed), arrays(full), rtol=0, atol=0)
    assert [r["step"] for r in history] == list(range(6))


def test_both_checkpoints_corrupt_is_an_error(tmp_path):
    run(tmp_path, steps=4)
    for path in (tmp_path / "checkpoint.eqx", tmp_path / "checkpoint.prev.eqx"):
        path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(CheckpointError, match="previous one"):
        run(tmp_path, resume=True)


def test_a_fresh_run_does_not_keep_another_runs_checkpoint_as_previous(tmp_path):
    run(tmp_path, steps=4)
    run(tmp_path, steps=1)  # fresh: one checkpoint at step 1, no previous one
    assert verify_checkpoint(tmp_path / "checkpoint.eqx") == 1
    assert not (tmp_path / "checkpoint.prev.eqx").exists()


def test_torn_last_log_line_is_dropped_and_resume_continues(tmp_path):
    full, _ = run(tmp_path / "full")
    out = tmp_path / "run"
    run(out, steps=4)
    with open(out / "metrics.jsonl", "a") as f:
        f.write('{"step": 4, "time": 0.1, "lo')
    with pytest.warns(UserWarning, match="torn last line"):
        resumed, history = run(out, resume=True)
    assert tree_allclose(arrays(resumed), arrays(full), rtol=0, atol=0)
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == list(range(6))


def test_a_corrupt_line_in_the_middle_of_the_log_is_an_error(tmp_path):
    run(tmp_path, steps=4)
    log = tmp_path / "metrics.jsonl"
    lines = log.read_text().splitlines()
    lines[1] = "garbage"
    log.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="line 2"):
        run(tmp_path, resume=True)


def test_stale_temporaries_are_removed_at_the_next_start(tmp_path):
    run(tmp_path, steps=2)
    debris = [tmp_path / ".checkpoint.eqx.abc123.tmp", tmp_path / ".config.toml.x.tmp"]
    for path in debris:
        path.write_bytes(b"partial")
    with pytest.warns(UserWarning, match="2 temporary file"):
        run(tmp_path, steps=4, resume=True)
    assert not any(p.exists() for p in debris)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "checkpoint.eqx",
        "checkpoint.prev.eqx",
        "metrics.jsonl",
    ]


def test_keeping_the_previous_checkpoint_twice_leaves_no_debris(tmp_path):
    """After a write that died between keeping the previous checkpoint and writing the new
    one, both names are the same file; the next save must still keep it and clean up."""
    path = tmp_path / "checkpoint.eqx"
    save_checkpoint(path, initial_state(), step=1)
    save_checkpoint(path, initial_state(), step=2, keep_previous=True)
    previous_path(path).unlink()
    previous_path(path).hardlink_to(path)  # as left by a kill right after the keep
    save_checkpoint(path, initial_state(), step=3, keep_previous=True)
    assert verify_checkpoint(path) == 3 and verify_checkpoint(previous_path(path)) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.eqx", "checkpoint.prev.eqx"]


def test_a_missing_log_is_reported_on_resume(tmp_path):
    run(tmp_path, steps=4)
    (tmp_path / "metrics.jsonl").unlink()
    with pytest.warns(UserWarning, match="metrics log .* is missing"):
        _, history = run(tmp_path, resume=True)
    assert [r["step"] for r in history] == [4, 5]


def test_a_fresh_run_removes_the_old_runs_checkpoints(tmp_path):
    """Killed before its first checkpoint, a fresh run must not leave the old run to resume."""
    run(tmp_path, steps=4)

    def dies(state, step):
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        train(dies, initial_state(), steps=6, out_dir=tmp_path, progress=False)
    assert not any(tmp_path.glob("checkpoint*.eqx"))
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        run(tmp_path, resume=True)


def test_after_a_fallback_the_corrupt_latest_does_not_become_the_previous(tmp_path):
    run(tmp_path, steps=4)  # checkpoints 2 (previous) and 4 (latest)
    ckpt = tmp_path / "checkpoint.eqx"
    ckpt.write_bytes(ckpt.read_bytes()[:-9])
    with pytest.warns(UserWarning, match="previous checkpoint"):
        run(tmp_path, steps=4, resume=True)  # redoes steps 2, 3 and writes checkpoint 4
    assert verify_checkpoint(ckpt) == 4
    assert verify_checkpoint(previous_path(ckpt)) == 2  # still the intact one
