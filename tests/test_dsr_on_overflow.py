"""`--on-overflow bounded`: an unbounded model whose validation free runs keep overflowing is
replaced by the bounded model (clipped shPLRNN), trained from several seeds; the best on
validation becomes the run's model for eval, generate and `load_run`."""

import json
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import paratime.data
from paratime import ConfigError, dsr
from paratime.dsr._config import TrainConfig
from paratime.dsr._overflow import bounded_config, escaped, selected_run
from paratime.dsr._select import MIN_FLOOR, data_floor, restart_score, validation_scores

typer_testing = pytest.importorskip("typer.testing")
from paratime.dsr._cli import app, pick_restart  # noqa: E402

INF = float("inf")


def _val(step, d_stsp):
    return {"step": step - 1, "val_D_stsp": d_stsp}


@pytest.mark.parametrize(
    "scores, expected",
    [
        ([1.0, INF, INF, 2.0], True),  # half overflowed
        ([INF, INF, INF], True),
        ([1.0, INF, 2.0, 3.0], False),  # a quarter: the run's own selection stands
        ([1.0, 2.0], False),
        ([], False),  # no validation at all
    ],
)
def test_the_bounded_model_replaces_one_that_overflowed_at_half_the_validations(scores, expected):
    history = [{"step": 0, "loss": 1.0}] + [_val(100 * (i + 1), s) for i, s in enumerate(scores)]
    cfg = TrainConfig(data="lorenz63")
    assert escaped(cfg, history) is expected
    # Never with --on-overflow keep, nor for the bounded model itself.
    assert not escaped(cfg.replace(on_overflow="keep"), history)
    assert not escaped(cfg.replace(model="clipped-shplrnn"), history)


def test_the_bounded_config_changes_the_model_forcing_selection_and_seed_only():
    cfg = TrainConfig(data="x.npy", seed=7, hidden=31, seq_len=77, steps=123, alpha0=0.5)
    for j in range(3):
        b = bounded_config(cfg, j)
        assert (b.model, b.gtf, b.select_on) == ("clipped-shplrnn", "adaptive", "both")
        assert b.alpha_max == 0.3 and b.alpha0 == 0.3 and b.seed == 7 + 1000 * j
        assert b.steps == 4 * cfg.steps
        same = {k: getattr(cfg, k) for k in ("hidden", "seq_len", "patience", "lr", "data")}
        assert same == {k: getattr(b, k) for k in same}
    assert bounded_config(cfg.replace(alpha_max=0.2, alpha0=0.1), 0).alpha_max == 0.2
    with pytest.raises(ConfigError, match="bounded_restarts"):
        TrainConfig(data="x.npy", bounded_restarts=0)
    for target in (-1.0, float("nan"), INF):
        with pytest.raises(ConfigError, match="bounded_target"):
            TrainConfig(data="x.npy", bounded_target=target)
    with pytest.raises(ConfigError, match="on_overflow"):
        TrainConfig(data="x.npy", on_overflow="retry")  # type: ignore[arg-type]


def test_the_kept_restart_has_the_lowest_mean_score_not_the_lowest_worst_run_score():
    restarts = [
        dict(run="bounded-0", best_score=2.5, mean_score=2.4),
        dict(run="bounded-1", best_score=3.2, mean_score=2.1),
        dict(run="bounded-2", best_score=3.0, mean_score=2.1),
    ]
    assert pick_restart(restarts)["run"] == "bounded-1"


def test_the_restart_score_is_the_floor_scaled_mean_over_the_runs():
    x = np.asarray(paratime.data.lorenz63(1200, standardise=True, key=0), np.float64)
    ref, val = x[:900], x[900:]
    model = dsr.build_model("clipped-shplrnn", 3, latent=3, hidden=8, key=jax.random.key(0))
    floor = {k: max(v, MIN_FLOOR) for k, v in data_floor(ref, val).items()}
    scored = {r: validation_scores(model, jnp.asarray(val), reduce=r) for r in ("mean", "worst")}
    unit = lambda s: s["val_D_stsp"] / floor["D_stsp"] + s["val_D_H"] / floor["D_H"]
    got = restart_score(model, val, ref)
    assert got == pytest.approx(unit(scored["mean"]), rel=1e-12)
    assert got <= unit(scored["worst"])


def _invoke(*args):
    result = typer_testing.CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr + str(result.exception or "")


def _train(data, out, *extra):
    # lr = 0.6 makes the unbounded shPLRNN's free runs overflow at every validation.
    args = ["train", "--data", data / "train.npy", "--out", out, "--hidden", "8"]
    args += ["--seq-len", "50", "--batch-size", "2", "--alpha-every", "2", "--steps", "12"]
    args += ["--solver", "sequential", "--lr", "0.6", "--no-progress", "--validation", "0.25"]
    args += ["--validate-every", "2", "--checkpoint-every", "3", "--bounded-restarts", "3"]
    return _invoke(*args, *extra)


def test_an_overflowing_run_trains_the_bounded_model_and_eval_uses_the_best(lorenz_files, tmp_path):
    run = tmp_path / "run"
    code, out, err = _train(lorenz_files, run)
    assert code == 0, out + err
    said = " ".join(err.split())
    assert "free run of the shplrnn model became non-finite" in said, said
    record = json.loads((run / "bounded.json").read_text())
    assert record["model"] == "shplrnn"
    assert record["overflowed_validations"] >= record["validations"] / 2
    restarts = record["restarts"]
    assert [r["seed"] for r in restarts] == [0, 1000, 2000]
    scores = [r["best_score"] for r in restarts]
    means = [r["mean_score"] for r in restarts]
    assert np.isfinite(scores).all() and all(m <= w for m, w in zip(means, scores))
    chosen = restarts[int(np.argmin(means))]  # kept by the mean score, not the worst-run one
    assert record["selected"] == chosen["run"] and f"selected {chosen['run']}" in out
    assert out.count("validation score") == 3 and "no more restarts" not in out
    # Each restart is a run of the bounded model, with the scores the record gives.
    for r in restarts:
        cfg, state, *_ = dsr.load_run(run / r["run"])
        assert cfg.model == "clipped-shplrnn" and cfg.select_on == "both"
        assert float(state.best_score) == r["best_score"]
    # load_run, eval and generate follow the record to the selected restart.
    cfg, state, step, which = dsr.load_run(run, "best")
    assert cfg.model == "clipped-shplrnn" and cfg.seed == chosen["seed"]
    assert (which, step) == ("best", chosen["best_step"])
    assert dsr.read_run_config(run).seed == chosen["seed"]
    code, out, err = _invoke("eval", run, "--data", lorenz_files / "test.npy")
    assert code == 0 and f"best checkpoint, step {chosen['best_step']}" in out, out + err
    assert (run / "metrics.json").is_file()
    code, out, err = _invoke("generate", run, "--steps", "20", "--out", tmp_path / "g.npy")
    assert code == 0 and np.isfinite(np.load(tmp_path / "g.npy")).all(), out + err

    # The restarts stop at the first that scores below --bounded-target (none did above).
    assert min(scores[:2]) >= 3.0
    target = f"{scores[0] * (1 + 1e-6):.17g}"
    code, out, err = _train(lorenz_files, tmp_path / "first", "--bounded-target", target)
    assert code == 0 and "no more restarts" in out, out + err
    first = json.loads((tmp_path / "first" / "bounded.json").read_text())
    assert first["restarts"] == [restarts[0]] and not (tmp_path / "first" / "bounded-1").exists()

    # --on-overflow keep: the run's own (early) model, and a note naming the way out.
    code, out, err = _train(lorenz_files, tmp_path / "kept", "--on-overflow", "keep")
    assert code == 0 and not (tmp_path / "kept" / "bounded.json").exists(), out + err
    assert "--on-overflow bounded" in " ".join(err.split())
    assert dsr.load_run(tmp_path / "kept")[0].model == "shplrnn"

    # A new run is not started over the restarts of an earlier one.
    (tmp_path / "stale").mkdir()
    shutil.copytree(run / "bounded-0", tmp_path / "stale" / "bounded-0")
    code, out, err = _train(lorenz_files, tmp_path / "stale")
    assert code != 0 and "--out" in err and "already holds a run" in err, out + err

    # Interrupted after the second restart: --resume keeps both and trains the third, to the
    # same record and the same selected model as the uninterrupted run.
    again = tmp_path / "again"
    shutil.copytree(run, again)
    (again / "bounded.json").unlink()
    shutil.rmtree(again / restarts[2]["run"])
    code, out, err = _train(lorenz_files, again, "--resume")
    assert code == 0 and out.count("already trained") == 2, out + err
    assert json.loads((again / "bounded.json").read_text()) == record
    selected = selected_run(run) / "best.eqx"
    assert (selected_run(again) / "best.eqx").read_bytes() == selected.read_bytes()


def test_a_damaged_record_is_refused_naming_it(lorenz_files, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "bounded.json").write_text("{")
    with pytest.raises(ValueError, match="bounded.json"):
        selected_run(run)
    (run / "bounded.json").write_text(json.dumps({"selected": "../elsewhere"}))
    with pytest.raises(ValueError, match="not a restart"):
        selected_run(run)
    code, out, err = _invoke("eval", run, "--data", lorenz_files / "test.npy")
    assert code != 0 and "RUN" in err and "bounded.json" in " ".join(err.split()), out + err


def test_the_restarts_share_what_the_time_limit_leaves(lorenz_files, tmp_path):
    # The first step spends a 1 ms budget (its one validation overflows): no restart is
    # trained, and the run keeps its own model, saying so.
    code, out, err = _train(lorenz_files, tmp_path / "run", "--time-limit", "0.001")
    said = " ".join(err.split())
    assert code == 0 and "the time limit is spent: 0 of the restarts trained" in said, out + err
    assert not (tmp_path / "run" / "bounded.json").exists()
    assert not list((tmp_path / "run").glob("bounded-*"))
    assert dsr.load_run(tmp_path / "run")[0].model == "shplrnn"
