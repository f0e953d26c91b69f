"""`--restarts`: a run whose selected model scores above `--restart-target` on validation (the
mean over its free runs) trains the same model from more seeds; the best of all becomes the
run's model for eval, generate and `load_run`."""

import json
import shutil

import numpy as np
import pytest

from paratime import ConfigError, dsr
from paratime.dsr._config import TrainConfig
from paratime.dsr._overflow import restart_config, selected_run

typer_testing = pytest.importorskip("typer.testing")
from paratime.dsr._cli import app  # noqa: E402


def _invoke(*args):
    result = typer_testing.CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr + str(result.exception or "")


def _train(data, out, *extra):
    # 12 steps leave the model far from the data: its mean score is far above 3.
    args = ["train", "--data", data / "train.npy", "--out", out, "--hidden", "8"]
    args += ["--seq-len", "50", "--batch-size", "2", "--steps", "12", "--solver", "sequential"]
    args += ["--no-progress", "--validation", "0.25", "--validate-every", "4"]
    return _invoke(*args, *extra)


def test_a_restart_changes_the_seed_only():
    cfg = TrainConfig(data="x.npy", seed=7, hidden=31, steps=123)
    for j in (1, 2):
        assert restart_config(cfg, j) == cfg.replace(seed=7 + 1000 * j)
    with pytest.raises(ConfigError, match="restarts"):
        TrainConfig(data="x.npy", restarts=-1)
    for target in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ConfigError, match="restart_target"):
            TrainConfig(data="x.npy", restart_target=target)


def test_a_poor_run_trains_more_seeds_and_keeps_the_best(lorenz_files, tmp_path):
    run = tmp_path / "run"
    code, out, err = _train(lorenz_files, run)
    assert code == 0, out + err
    assert "above --restart-target 3" in " ".join(err.split()), err
    record = json.loads((run / "restarts.json").read_text())
    entries = record["restarts"]
    assert [e["run"] for e in entries] == [None, "restart-1", "restart-2"]
    assert [e["seed"] for e in entries] == [0, 1000, 2000]
    means = [e["mean_score"] for e in entries]
    assert all(m > 3 for m in means), means  # none reached the target: all were trained
    chosen = entries[int(np.argmin(means))]
    assert record["selected"] == chosen["run"]
    for e in entries[1:]:  # each restart is a run of the same model with its own seed
        cfg, state, *_ = dsr.load_run(run / e["run"])
        assert (cfg.model, cfg.seed, cfg.hidden) == ("shplrnn", e["seed"], 8)
        assert float(state.best_score) == e["best_score"]
    # load_run and eval follow the record.
    cfg, state, step, _ = dsr.load_run(run, "best")
    assert cfg.seed == chosen["seed"] and step == chosen["best_step"]
    code, out, err = _invoke("eval", run, "--data", lorenz_files / "test.npy")
    assert code == 0 and f"best checkpoint, step {chosen['best_step']}" in out, out + err

    # The restarts stop at the first at or below --restart-target: from seed 1000, whose
    # first restart (seed 2000) scores below it, as the run's second restart did above.
    assert means[1] > means[2]
    target = f"{means[2] * (1 + 1e-6):.17g}"
    first = tmp_path / "first"
    code, out, err = _train(lorenz_files, first, "--seed", "1000", "--restart-target", target)
    assert code == 0, out + err
    assert json.loads((first / "restarts.json").read_text()) == {
        "restarts": [{**entries[1], "run": None}, {**entries[2], "run": "restart-1"}],
        "selected": "restart-1",
    }
    assert not (first / "restart-2").exists()

    # Interrupted before the second restart: --resume keeps the first and trains the second,
    # to the same record and the same selected model.
    again = tmp_path / "again"
    shutil.copytree(run, again)
    (again / "restarts.json").unlink()
    shutil.rmtree(again / "restart-2")
    code, out, err = _train(lorenz_files, again, "--resume")
    assert code == 0 and out.count("already trained") == 1, out + err
    assert json.loads((again / "restarts.json").read_text()) == record
    best = selected_run(run) / "best.eqx"
    assert (selected_run(again) / "best.eqx").read_bytes() == best.read_bytes()

    # A new run is not started over the restarts of an earlier one.
    (tmp_path / "stale").mkdir()
    shutil.copytree(run / "restart-1", tmp_path / "stale" / "restart-1")
    code, out, err = _train(lorenz_files, tmp_path / "stale")
    assert code != 0 and "already holds a run" in err, out + err


@pytest.mark.parametrize("flags", [("--restarts", "0"), ("--restart-target", "1e9")])
def test_no_restart_without_restarts_or_above_a_target_that_is_met(lorenz_files, tmp_path, flags):
    run = tmp_path / "run"
    code, out, err = _train(lorenz_files, run, *flags)
    assert code == 0 and "--restart-target" not in err and "restart 1 of" not in out, out + err
    assert not (run / "restarts.json").exists() and not list(run.glob("restart-*"))
    assert selected_run(run) == run


def test_the_record_may_keep_the_run_itself_and_a_damaged_one_is_refused(tmp_path):
    run = tmp_path / "run"
    (run / "restart-1").mkdir(parents=True)
    (run / "restarts.json").write_text(json.dumps({"selected": None}))
    assert selected_run(run) == run
    (run / "restarts.json").write_text(json.dumps({"selected": "restart-1"}))
    assert selected_run(run) == run / "restart-1"
    (run / "restarts.json").write_text("{")
    with pytest.raises(ValueError, match="restarts.json"):
        selected_run(run)
    (run / "restarts.json").write_text(json.dumps({"selected": "../elsewhere"}))
    with pytest.raises(ValueError, match="not a restart"):
        selected_run(run)
