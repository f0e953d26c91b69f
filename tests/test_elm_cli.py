"""`paratime elm fit` and the bench table, through typer's CliRunner on small data."""

import json

import numpy as np
from typer.testing import CliRunner

from paratime.elm._bench import markdown_table
from paratime.elm._cli import _write_table, app

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


def test_table_is_written_between_markers(tmp_path):
    side = {"train_seconds": 2.0, "rmse": 0.5, "nrmse_multistep": 0.9}
    row = {"dataset": "d", "arch": "gru", "parallel_solver": "QuasiDEER",
           "elm": {"train_seconds": 0.1, "rmse": 0.4, "nrmse_multistep": 0.8},
           "bptt_sequential": side, "bptt_parallel": {"error": "boom"},
           "ratio_bptt_sequential": 20.0, "cpu_ratio_bptt_sequential": 15.0,
           "ratio_bptt_parallel": None}  # fmt: skip
    table = markdown_table([row])
    assert "| d | gru | 0.1 | 2 | — (QuasiDEER) | 20.0× (15.0×) | — | 0.4 | 0.5 | — |" in table
    doc = tmp_path / "elm.md"
    doc.write_text("# ELM\n\n<!-- elm-bench:start -->\nold\n<!-- elm-bench:end -->\n\nafter\n")
    _write_table(doc, table)
    text = doc.read_text()
    assert "old" not in text and table in text and text.endswith("after\n")
