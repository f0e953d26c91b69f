"""`paratime pararealnet train` (with baseline) on a tiny problem, and its errors."""

import json

from typer.testing import CliRunner

from paratime.pararealnet._cli import app


def test_train_writes_metrics(tmp_path):
    runner = CliRunner()
    out = tmp_path / "run"
    args = ["train", "--data", "synthetic", "--depth", "4", "--parallel", "2", "--steps", "4"]
    args += ["--width", "8", "--hidden", "8", "--coarse-hidden", "4", "--batch-size", "16"]
    result = runner.invoke(app, [*args, "--out", str(out), "--baseline", "--no-progress"])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    for entry in (metrics, metrics["pararealnet"], metrics["baseline"]):
        assert 0.0 <= entry["test_accuracy"] <= 1.0
        assert entry["seconds_per_step"] > 0.0
    assert metrics["config"]["num_parallel"] == 2
    assert abs(metrics["pararealnet"]["parameters"] - metrics["baseline"]["parameters"]) < 100
    assert (out / "pararealnet" / "checkpoint.eqx").exists()
    assert len((out / "baseline" / "metrics.jsonl").read_text().splitlines()) == 4

    # --resume on a run directory that does not exist is an error, not a fresh start
    args[args.index("--steps") + 1] = "1"
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "none"), "--resume"])
    assert result.exit_code == 2 and "--resume" in result.output
    assert not (tmp_path / "none").exists()


def test_train_rejects_bad_parallel(tmp_path):
    args = ["train", "--data", "synthetic", "--depth", "6", "--parallel", "4", "--steps", "1"]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path)])
    assert result.exit_code != 0
    assert "num_parallel" in result.output
