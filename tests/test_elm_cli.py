"""`paratime elm fit` and the bench table, through typer's CliRunner on small data."""

import json

import numpy as np
from typer.testing import CliRunner

from paratime.elm._cli import app

runner = CliRunner()


def _csv(tmp_path, x):
    path = tmp_path / "series.csv"
    np.savetxt(path, x, delimiter=",")
    return path


def test_fit_writes_metrics_and_model(tmp_path):
    path = _csv(tmp_path, np.sin(0.3 * np.arange(120)))
    out = tmp_path / "run"
    args = ["fit", "--data", str(path), "--arch", "gru", "--hidden", "4", "--window", "5",
            "--out", str(out), "--horizon", "5"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "RMSE" in result.output and "train" in result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"rmse", "nrmse", "train_seconds"} <= set(metrics)
    assert metrics["nrmse"] < 0.2 and metrics["train_seconds"] > 0
    assert (out / "model.eqx").stat().st_size > 0


def test_fit_reports_bad_input(tmp_path):
    x = np.sin(np.arange(30.0))
    x[7] = np.nan
    out = tmp_path / "run"
    result = runner.invoke(app, ["fit", "--data", str(_csv(tmp_path, x)), "--out", str(out)])
    assert result.exit_code != 0 and "row 7" in result.output
    good = _csv(tmp_path, np.sin(np.arange(30.0)))
    result = runner.invoke(app, ["fit", "--data", str(good), "--window", "40", "--out", str(out)])
    assert result.exit_code != 0 and "longer than the series" in result.output
    result = runner.invoke(app, ["fit", "--data", "no-such-dataset", "--out", str(out)])
    assert result.exit_code != 0 and "unknown dataset" in result.output
    result = runner.invoke(app, ["fit", "--data", str(good), "--arch", "rnn", "--out", str(out)])
    assert result.exit_code != 0 and "`arch`" in result.output
