"""Model selection on a validation segment: best.eqx, the logged scores, eval/generate, resume."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import paratime
import paratime.data
from helpers import tree_allclose
from paratime import dsr
from paratime.dsr import _train as dsr_train
from paratime.dsr._select import MIN_VALIDATION, make_validator, split_validation
from paratime.train import load_checkpoint, verify_checkpoint

typer_testing = pytest.importorskip("typer.testing")
from paratime.dsr._cli import app  # noqa: E402

STEPS = 9


@pytest.fixture(scope="module")
def series():
    return np.asarray(paratime.data.lorenz63(900, standardise=True, key=0), np.float64)


def _fit(series, out, steps=STEPS, resume=False):
    x, val = split_validation(series, 0.25, min_train=50)
    model = dsr.build_model("shplrnn", 3, latent=3, hidden=8, key=jax.random.key(0))
    return dsr.fit(
        model,
        jnp.asarray(x),
        dsr.FitSettings(
            steps=steps,
            extra_steps=0,  # end at `steps` (the extension: test_dsr_extra_steps.py)
            seq_len=50,
            batch_size=2,
            lr=3e-2,
            alpha_every=2,
            validate_every=2,
            checkpoint_every=3,
        ),
        key=jax.random.key(1),
        solver=paratime.Sequential(),
        validation=jnp.asarray(val),
        out_dir=out,
        resume=resume,
        progress=False,
    )


def _log(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_split_validation_holds_out_the_end(series):
    x, val = split_validation(series, 0.25)
    assert x.shape[0] + val.shape[0] == series.shape[0] and val.shape[0] == 225
    np.testing.assert_array_equal(val, series[-225:])
    assert split_validation(series, 0)[1] is None
    with pytest.raises(ValueError, match="at least"):
        split_validation(series, 0.1)  # 90 < MIN_VALIDATION steps
    with pytest.raises(ValueError, match="in \\[0, 1\\)"):
        split_validation(series, 1.0)
    with pytest.raises(ValueError, match="sequence length"):
        split_validation(series[: MIN_VALIDATION + 10], 0.99, min_train=50)


def test_the_best_is_the_argmin_of_the_logged_validation_scores(series, tmp_path):
    state, history = _fit(series, tmp_path)
    scored = [h for h in history if "val_D_stsp" in h]
    # Validated every 2 steps and after the last: done = 2, 4, 6, 8, 9.
    assert [h["step"] + 1 for h in scored] == [2, 4, 6, 8, 9]
    scores = [h["val_D_stsp"] for h in scored]
    best = int(np.argmin(scores))
    assert int(state.best_step) == scored[best]["step"] + 1
    assert float(state.best_score) == pytest.approx(scores[best], rel=1e-6)
    assert scored[-1]["best_step"] == int(state.best_step)
    # best.eqx: a verified checkpoint of that step, holding the model that scored best.
    assert verify_checkpoint(tmp_path / "best.eqx") == int(state.best_step)
    best_state, step, extra = load_checkpoint(tmp_path / "best.eqx", state)
    assert extra["D_stsp"] == pytest.approx(scores[best])
    _, val = split_validation(series, 0.25)
    again = make_validator(jnp.asarray(val), None)
    fresh = dsr.DSRState(best_state.model, best_state.opt_state, best_state.key, 0.1)
    _, rescored = again(fresh, 0)
    assert rescored["val_D_stsp"] == pytest.approx(scores[best], rel=1e-9)


def test_resume_with_selection_is_bit_identical(series, tmp_path, monkeypatch):
    full, hist_full = _fit(series, tmp_path / "a")
    make = dsr_train.make_dsr_step

    def interrupted(*args, **kwargs):
        step_fn = make(*args, **kwargs)

        def wrapped(state, step):
            if step == 7:  # after the checkpoint at 6 and the validation at 6
                raise KeyboardInterrupt
            return step_fn(state, step)

        return wrapped

    monkeypatch.setattr(dsr_train, "make_dsr_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _fit(series, tmp_path / "b")
    monkeypatch.undo()
    resumed, hist_resumed = _fit(series, tmp_path / "b", resume=True)
    assert tree_allclose(full.model, resumed.model, rtol=0, atol=0)
    assert int(full.best_step) == int(resumed.best_step)
    assert float(full.best_score) == float(resumed.best_score)
    strip = lambda h: [json.dumps({k: v for k, v in r.items() if k != "time"}) for r in h]
    assert strip(hist_full) == strip(hist_resumed)
    assert (tmp_path / "a" / "best.eqx").read_bytes() == (tmp_path / "b" / "best.eqx").read_bytes()


def _invoke(*args):
    result = typer_testing.CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr + str(result.exception or "")


def test_eval_and_generate_use_the_best_checkpoint_by_default(series, tmp_path):
    data, test = tmp_path / "train.npy", tmp_path / "test.npy"
    np.save(data, series.astype(np.float32))
    np.save(test, paratime.data.lorenz63(400, standardise=True, key=1))
    run = tmp_path / "run"
    args = ["train", "--data", data, "--out", run, "--hidden", "8", "--seq-len", "50"]
    args += ["--batch-size", "2", "--alpha-every", "2", "--solver", "sequential"]
    args += ["--steps", str(STEPS), "--lr", "0.03", "--no-progress", "--checkpoint-every", "3"]
    args += ["--validation", "0.25", "--validate-every", "2", "--extra-steps", "0"]
    code, out, err = _invoke(*args, "--restarts", "0")  # the run's own selection
    assert code == 0, out + err
    log = _log(run)
    best_step = verify_checkpoint(run / "best.eqx")
    scored = {r["step"] + 1: r["val_D_stsp"] for r in log if "val_D_stsp" in r}
    assert best_step == min(scored, key=lambda k: (scored[k], k)) and f"step {best_step}" in out

    code, out, err = _invoke("eval", run, "--data", test)
    assert code == 0, out + err
    assert f"best checkpoint, step {best_step}" in out
    assert json.loads((run / "metrics.json").read_text())["step"] == best_step
    code, out, err = _invoke("eval", run, "--data", test, "--checkpoint", "last")
    assert code == 0, out + err
    assert json.loads((run / "metrics.json").read_text())["step"] == STEPS

    # A damaged best.eqx is refused, naming it and the way to the last checkpoint.
    saved = (run / "best.eqx").read_bytes()
    (run / "best.eqx").write_bytes(saved[:-7] + bytes(7))
    code, out, err = _invoke("eval", run, "--data", test)
    said = " ".join(err.split())
    assert code != 0 and "best.eqx" in said and "--checkpoint last" in said, out + err
    (run / "best.eqx").write_bytes(saved)

    best, last = tmp_path / "best.npy", tmp_path / "last.npy"
    assert _invoke("generate", run, "--steps", "30", "--out", best)[0] == 0
    assert _invoke("generate", run, "--steps", "30", "--out", last, "--checkpoint", "last")[0] == 0
    differs = not np.array_equal(np.load(best), np.load(last))
    assert differs == (best_step != STEPS)


def test_a_series_too_short_for_validation_trains_without_selection(series, tmp_path):
    data = tmp_path / "train.npy"
    np.save(data, series[:500].astype(np.float32))
    args = ["train", "--data", data, "--seq-len", "50", "--hidden", "8", "--batch-size", "2"]
    args += ["--steps", "2", "--no-progress"]
    code, out, err = _invoke(*args, "--out", tmp_path / "r")  # 10 % of 500: too short
    assert code == 0 and "without model selection" in err, out + err
    assert (tmp_path / "r" / "checkpoint.eqx").exists()
    assert not (tmp_path / "r" / "best.eqx").exists()
    # eval then says, and records, that it used the last checkpoint.
    np.save(tmp_path / "test.npy", series[:400].astype(np.float32))
    code, out, err = _invoke("eval", tmp_path / "r", "--data", tmp_path / "test.npy")
    assert code == 0 and "has no best.eqx" in " ".join(err.split()), out + err
    assert "model: last checkpoint, step 2" in out
    assert json.loads((tmp_path / "r" / "metrics.json").read_text())["checkpoint"] == "last"
    # A checkpoint written before model selection (no best_score/best_step) still loads.
    from paratime.dsr import load_run
    from paratime.train import save_checkpoint

    _, state, step, _ = load_run(tmp_path / "r")
    old = (state.model, state.opt_state, state.key, state.alpha)
    save_checkpoint(tmp_path / "r" / "checkpoint.eqx", old, step=step)
    with pytest.raises(ValueError):  # (the current layout does not read it)
        load_checkpoint(tmp_path / "r" / "checkpoint.eqx", state)
    code, out, err = _invoke("eval", tmp_path / "r", "--data", tmp_path / "test.npy")
    assert code == 0 and "model: last checkpoint, step 2" in out, out + err
    # Holding out so much that too little is left to train on is refused.
    code, out, err = _invoke(*args, "--out", tmp_path / "s", "--validation", "0.95")
    assert code != 0 and "validation" in err and "sequence length" in " ".join(err.split())
    assert not (tmp_path / "s" / "checkpoint.eqx").exists()


def test_the_cli_says_when_overflowing_validation_runs_froze_the_selection():
    from paratime.dsr._cli import overflow_note

    inf = float("inf")
    val = lambda step, d: {"step": step - 1, "val_D_stsp": d}
    assert overflow_note([{"step": 0, "loss": 1.0}], -1) is None  # no validation at all
    assert overflow_note([val(100, 1.0), val(200, 0.5)], 200) is None
    assert overflow_note([val(100, 1.0), val(200, inf), val(300, 2.0)], 100) is None
    none = overflow_note([val(100, inf), val(200, inf)], -1)
    assert none is not None and "no model was selected" in none
    froze = overflow_note([val(100, 1.0), val(200, inf), val(300, inf)], 100)
    assert froze is not None and "after step 100 (2 of 3)" in froze
    assert "--model clipped-shplrnn --alpha-max 0.3 --select-on both" in froze
    kept = overflow_note([val(100, 1.0), val(200, inf), val(300, inf)], 100, kept=True)
    assert kept is not None and "--on-overflow bounded" in kept
