"""Every bad input to the `paratime` command line is one line, `Error: ...`, naming the flag,
with exit code 2 and no traceback (run in-process with typer's test runner)."""

import numpy as np
import pytest
from typer.testing import CliRunner

from paratime.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli-errors")
    t = np.arange(400) * 0.05
    good = np.stack([np.sin(t), np.cos(t), np.sin(2 * t)], axis=1).astype(np.float32)
    np.save(root / "good.npy", good)
    bad = good.copy()
    bad[7, 1] = np.nan
    np.save(root / "nan.npy", bad)
    (root / "unknown.toml").write_text('data = "x.npy"\nwidth = 3\n')
    (root / "zero.toml").write_text(f'data = "{root / "good.npy"}"\nhidden = 0\n')
    (root / "broken.toml").write_text("hidden = = 3\n")
    (root / "elm.toml").write_text('data = "santafe"\nmethod = "lu"\n')
    (root / "pnet.toml").write_text('data = "synthetic"\ndepth = 6\nparallel = 4\n')
    (root / "demo.toml").write_text('solver = "newton"\n')
    (root / "existing").mkdir()
    (root / "existing" / "checkpoint.eqx").write_bytes(b"")
    return root


def _cases(f):
    good, nan = str(f / "good.npy"), str(f / "nan.npy")
    out = str(f / "run")
    dsr = ["dsr", "train", "--data", good, "--out", out]
    elm = ["elm", "fit", "--data", good, "--out", out]
    pnet = ["pararealnet", "train", "--data", "synthetic", "--out", out]
    return [
        (["demo", "--hidden", "0"], "--hidden"),
        (["demo", "--length", "0"], "--length"),
        (["demo", "--steps", "0"], "--steps"),
        (["demo", "--train-length", "-5"], "--train-length"),
        (["demo", "--hidden", "abc"], "--hidden"),
        (["demo", "--solver", "newton"], "--solver"),
        (["demo", "--solver", "quasideer"], "--solver"),
        (["bench", "--solver", "magic"], "--solver"),
        (["bench", "--cell", "RNN"], "--cell"),
        (["bench", "--workload", "predict"], "--workload"),
        (["bench", "--T", "0"], "--T"),
        (["bench", "--N", "-1"], "--N"),
        (["bench", "--repeats", "0"], "--repeats"),
        (["bench", "--max-call-seconds", "0"], "--max-call-seconds"),
        (["bench", "--max-gb", "nan"], "--max-gb"),
        (["dsr", "train", "--out", out], "--data"),
        (["dsr", "train", "--data", str(f / "missing.npy"), "--out", out], "--data"),
        (["dsr", "train", "--data", nan, "--out", out], "--data"),
        ([*dsr, "--checkpoint-every", "0"], "--checkpoint-every"),
        ([*dsr, "--solver", "quasideer"], "--solver"),
        ([*dsr, "--model", "rnn"], "--model"),
        ([*dsr, "--observation", "cubic"], "--observation"),
        ([*dsr, "--gtf", "2"], "--gtf"),
        ([*dsr, "--lr", "0"], "--lr"),
        ([*dsr, "--lr", "nan"], "--lr"),
        ([*dsr, "--alpha0", "1.5"], "--alpha0"),
        ([*dsr, "--select-on", "spectrum"], "--select-on"),
        ([*dsr, "--training-noise", "-1"], "--training-noise"),
        ([*dsr, "--seq-len", "1"], "--seq-len"),
        ([*dsr, "--latent", "0"], "--latent"),
        ([*dsr, "--latent", "2"], "--latent"),  # identity observation needs M >= d = 3
        ([*dsr, "--resume"], "'--resume'"),
        (["dsr", "train", "--data", good, "--out", str(f / "existing")], "'--out'"),
        (["dsr", "train", "--out", out, "--config", str(f / "missing.toml")], "--config"),
        (["dsr", "train", "--out", out, "--config", str(f / "unknown.toml")], "--config"),
        (["dsr", "train", "--out", out, "--config", str(f / "broken.toml")], "--config"),
        (["dsr", "train", "--out", out, "--config", str(f / "zero.toml")], "--hidden"),
        (["dsr", "eval", str(f / "nowhere"), "--data", good], "RUN"),
        (["dsr", "eval", str(f / "nowhere"), "--data", good, "--pe-steps", "0"], "--pe-steps"),
        (["dsr", "generate", str(f / "nowhere"), "--steps", "0", "--out", out], "--steps"),
        (["dsr", "generate", str(f / "nowhere"), "--steps", "5", "--out", out], "RUN"),
        ([*elm, "--arch", "rnn"], "--arch"),
        ([*elm, "--solver", "foo"], "--solver"),
        ([*elm, "--method", "lu"], "--method"),
        ([*elm, "--lam", "-1"], "--lam"),
        ([*elm, "--window", "0"], "--window"),
        ([*elm, "--test-fraction", "1.5"], "--test-fraction"),
        (["elm", "fit", "--data", "no-such-dataset", "--out", out], "--data"),
        (["elm", "fit", "--data", good], "--out"),
        ([*pnet, "--depth", "6", "--parallel", "4"], "--parallel"),
        ([*pnet, "--steps", "0"], "--steps"),
        ([*pnet, "--mode", "gpu"], "--mode"),
        ([*pnet, "--learning-rate", "-1"], "--learning-rate"),
        ([*pnet, "--resume"], "--resume"),
        (["pararealnet", "train", "--data", "mnist", "--out", out], "--data"),
        (["pararealnet", "train", "--out", out, "--config", str(f / "pnet.toml")], "--parallel"),
        (["elm", "fit", "--out", out, "--config", str(f / "elm.toml")], "--method"),
        (["elm", "fit", "--out", out], "--data"),
        (["demo", "--config", str(f / "demo.toml")], "--solver"),
        (["demo", "--config", str(f / "missing.toml")], "--config"),
        (["dsr", "train", "--data", good, "--out", good], "--out"),
        (["elm", "fit", "--data", good, "--out", good], "--out"),
        (["pararealnet", "train", "--data", "synthetic", "--out", good], "--out"),
        (["dsr", "generate", str(f / "nowhere"), "--steps", "5", "--out", str(f)], "--out"),
    ]


def test_there_are_enough_cases(tmp_path):
    assert len(_cases(tmp_path)) >= 30


@pytest.mark.parametrize("index", range(len(_cases(__import__("pathlib").Path(".")))))
def test_bad_input_is_one_line_naming_the_flag(index, files):
    args, flag = _cases(files)[index]
    result = runner.invoke(app, args)
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2, (args, result.output, result.exception)
    assert len(lines) == 1, (args, result.output)
    assert lines[0].startswith("Error: ") and flag in lines[0], (args, lines[0])
    assert "Traceback" not in result.output
    assert not (files / "run" / "checkpoint.eqx").exists()


def test_good_input_still_passes_the_checks(files):
    result = runner.invoke(app, ["dsr", "train", "--help"])
    assert result.exit_code == 0 and "--config" in result.output


def test_a_failed_run_is_one_line_with_exit_code_1(monkeypatch):
    import paratime
    import paratime.cli._demo as demo

    def failing(*args, **kwargs):
        raise paratime.NewtonError("DEER did not converge\nin 3 iterations; try ELK.")

    monkeypatch.setattr(demo, "_time", failing)
    result = runner.invoke(app, ["demo", "--length", "8", "--hidden", "2"])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1
    assert lines[-1] == "Error: DEER did not converge in 3 iterations; try ELK."


def test_a_bug_keeps_its_traceback(monkeypatch):
    import paratime.cli._demo as demo

    def broken(*args, **kwargs):
        raise KeyError("internal")

    monkeypatch.setattr(demo, "_time", broken)
    result = runner.invoke(app, ["demo", "--length", "8", "--hidden", "2"])
    assert result.exit_code == 1 and isinstance(result.exception, KeyError)


def test_a_check_failing_under_jit_is_one_line(monkeypatch):
    import equinox as eqx
    import jax

    import paratime.cli._demo as demo

    def failing(*args, **kwargs):
        check = jax.jit(lambda x: eqx.error_if(x, x > 0, "DEER did not converge; try ELK."))
        return check(1.0)

    monkeypatch.setattr(demo, "_time", failing)
    result = runner.invoke(app, ["demo", "--length", "8", "--hidden", "2"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == "Error: DEER did not converge; try ELK."


def test_a_run_folder_error_names_the_flag_that_was_given(files):
    good = str(files / "good.npy")
    fresh = runner.invoke(app, ["dsr", "train", "--data", good, "--out", str(files / "existing")])
    assert "Invalid value for '--out'" in fresh.output and "already holds a run" in fresh.output
    missing = runner.invoke(
        app, ["dsr", "train", "--data", good, "--out", str(files / "empty"), "--resume"]
    )
    assert "Invalid value for '--resume'" in missing.output and "no run" in missing.output
