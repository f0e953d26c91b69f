"""Run configs: validated on construction, read from `--config run.toml` with flags on top,
stored as TOML in the run directory and checked field by field on `--resume`; `dsr generate`
refuses a non-finite trajectory."""

import numpy as np
import pytest
from typer.testing import CliRunner

import paratime
from paratime._config import ConfigError
from paratime.cli import app
from paratime.dsr._config import TrainConfig

runner = CliRunner()


@pytest.mark.parametrize(
    "field, value",
    [
        ("hidden", 0),
        ("hidden", 2.5),
        ("steps", True),
        ("seq_len", 1),
        ("lr", float("nan")),
        ("lr", -1e-3),
        ("alpha0", 2.0),
        ("solver", "quasideer"),
        ("model", "rnn"),
        ("gtf", "sometimes"),
        ("latent", 0),
        ("checkpoint_every", 0),
    ],
)
def test_train_config_names_the_bad_field(field, value):
    with pytest.raises(ConfigError, match=f"`{field}`") as info:
        TrainConfig(data="x.npy", **{field: value})
    assert info.value.field == field


def test_train_config_round_trips_through_toml(tmp_path):
    cfg = TrainConfig(data='a "quoted" path.npy', gtf="0.25", lr=3e-4, latent=None)
    path = tmp_path / "c.toml"
    path.write_text(cfg.to_toml())
    assert "latent =" not in path.read_text()  # None: not set
    assert TrainConfig.from_toml(path) == cfg
    path.write_text('data = "x.npy"\ngtf = 0.5\n')  # a number in TOML is accepted too
    assert TrainConfig.from_toml(path).gtf_value() == 0.5
    assert cfg.differences(TrainConfig(data=cfg.data, gtf="0.25", lr=3e-4, steps=5)) == []
    assert cfg.differences(TrainConfig(data=cfg.data, gtf="0.25", lr=1e-3)) == [
        "lr: 0.0003 -> 0.001"
    ]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("dsr-config")
    x = paratime.data.lorenz63(300, standardise=True, key=0)
    np.save(root / "train.npy", np.asarray(x, np.float32))
    (root / "run.toml").write_text(
        f'data = "{root / "train.npy"}"\nhidden = 8\nseq_len = 50\nbatch_size = 2\n'
        'steps = 2\nsolver = "deer"\nlr = 0.5\n'
    )
    out = root / "run"
    args = ["dsr", "train", "--config", root / "run.toml", "--out", out, "--lr", "0.001"]
    result = runner.invoke(app, [str(a) for a in [*args, "--no-progress"]])
    assert result.exit_code == 0, result.output
    return root, out


def test_flags_override_the_file_and_the_resolved_config_is_stored(run):
    _, out = run
    stored = TrainConfig.from_toml(out / "config.toml")
    assert stored.lr == 0.001  # the flag, not the file's 0.5
    assert stored.hidden == 8 and stored.solver == "deer"  # from the file
    assert stored.latent == 3 and stored.data_size == 3  # the data's dimension
    assert not list(out.glob(".config.toml.*.tmp"))


def test_resume_checks_the_stored_config_field_by_field(run):
    root, out = run
    base = ["dsr", "train", "--config", str(root / "run.toml"), "--out", str(out)]
    result = runner.invoke(app, [*base, "--resume", "--hidden", "9", "--no-progress"])
    assert result.exit_code == 2
    assert "--resume" in result.output and "hidden: 8 -> 9" in result.output
    assert "lr: 0.001 -> 0.5" in result.output  # the file's lr differs from the stored one
    ok = [*base, "--lr", "0.001", "--resume", "--steps", "3", "--no-progress"]
    result = runner.invoke(app, ok)
    assert result.exit_code == 0, result.output
    assert TrainConfig.from_toml(out / "config.toml").steps == 3  # `steps` may change


def test_generate_refuses_a_non_finite_trajectory(run, monkeypatch):
    root, out = run
    traj = root / "traj.npy"

    def diverging(model, context, steps):  # the model's free run, replaced by a diverging one
        x = np.zeros((steps, 3))
        x[7:] = np.inf
        return x

    monkeypatch.setattr(paratime.dsr._evaluate, "_free_run", diverging)
    result = runner.invoke(app, ["dsr", "generate", str(out), "--steps", "20", "--out", str(traj)])
    # (the run is too short for model selection: a note says the last checkpoint is used)
    lines = [s for s in result.output.strip().splitlines() if not s.startswith("note:")]
    assert result.exit_code == 1 and len(lines) == 1
    assert "step 7 of 20" in lines[0] and "nothing was written" in lines[0]
    assert not traj.exists() and not list(root.glob(".traj.npy.*"))
