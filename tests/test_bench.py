"""The benchmark harness (`paratime bench`): its grid, baselines, records and command line."""

import json

import jax
import jax.numpy as jnp
import pytest
from typer.testing import CliRunner

import paratime
from helpers import tree_max_abs_diff
from paratime.bench import Group, grid, naive_deer, run_bench
from paratime.bench._cli import app
from paratime.bench._grid import solvers_for


def load_results(paths):
    return [json.loads(line) for p in paths for line in p.read_text().splitlines() if line]


def test_naive_deer_matches_scan(getkey):
    cell = paratime.cells.LSTM(3, 5, key=getkey())  # a PyTree state
    h0 = (0.1 * jnp.ones(5), jnp.zeros(5))
    xs = jax.random.normal(getkey(), (60, 3))
    states, iters = jax.jit(lambda h, x: naive_deer(cell, h, x))(h0, xs)
    ref = paratime.bench.scan_baseline(cell, h0, xs)
    assert tree_max_abs_diff(states, ref) < 1e-10
    assert 1 <= int(iters) < 60


def test_grid_and_solver_selection():
    groups = grid(cells=("GRU",), Ts=(100, 10), Ns=(256, 4), batches=(1,), workloads=("train",))
    assert [g.T for g in groups] == [10, 10, 100, 100]  # cheapest first
    big = Group("GRU", 256, 1000, 1, "forward")
    names = solvers_for(big, ["Sequential", "DEER", "QuasiDEER", "naive-DEER", "cuDNN"], torch=None)
    assert names == ["Sequential", "QuasiDEER"]
    small = Group("LSTM", 4, 1000, 1, "forward")
    assert "DEER+warm" not in solvers_for(small, ["DEER", "DEER+warm"], torch="cuda")
    assert solvers_for(small, ["cuDNN", "torch-CPU"], torch="cuda") == ["cuDNN"]
    assert solvers_for(small, ["cuDNN", "torch-CPU"], torch="cpu") == ["torch-CPU"]
    train = Group("GRU", 4, 1000, 1, "train")
    assert solvers_for(train, ["DEER", "DEER+warm", "naive-DEER", "Sequential"], torch=None) == [
        "Sequential",
        "DEER",
        "DEER+warm",
    ]
    with pytest.raises(ValueError, match="cells"):
        grid(cells=("RNN",))
    with pytest.raises(ValueError, match="unknown solver"):
        solvers_for(small, ["Magic"], torch=None)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    groups = grid(cells=("GRU",), Ts=(16,), Ns=(3,), batches=(2,))
    solvers = ("Sequential", "DEER", "naive-DEER", "DEER+warm")
    path = run_bench(groups, solvers=solvers, out_dir=out, repeats=2, progress=False)
    return path, load_results([path])


def test_run_bench_records(results):
    path, records = results
    assert path.name.startswith("cpu-") and path.suffix == ".jsonl"
    assert [(r["solver"], r["workload"]) for r in records] == [
        ("Sequential", "forward"),
        ("DEER", "forward"),
        ("naive-DEER", "forward"),
        ("Sequential", "train"),
        ("DEER", "train"),
        ("DEER+warm", "train"),
    ]
    for r in records:
        assert r["status"] == "ok", r
        for key in (
            "device",
            "jax_version",
            "date",
            "cpu",
            "median_s",
            "min_s",
            "max_s",
            "compile_s",
            "iterations",
            "working_bytes",
            "workload",
        ):
            assert key in r, key
        assert r["min_s"] <= r["median_s"] <= r["max_s"] and len(r["times_s"]) >= 2
        if r["solver"] != "Sequential":
            assert r["rel_dev"] < 1e-4, r  # float32
        if r["solver"] == "DEER":
            assert r["iterations"] >= 1
    warm = [r for r in records if r["solver"] == "DEER+warm"]
    cold = {
        (r["T"], r["batch"]): r
        for r in records
        if r["solver"] == "DEER" and r["workload"] == "train"
    }
    assert all(r["iterations"] <= cold[(r["T"], r["batch"])]["iterations"] for r in warm)


def test_budget_skips_and_records_reason(tmp_path):
    groups = grid(cells=("GRU",), Ts=(16, 2_000_000), Ns=(3,), batches=(1,), workloads=("forward",))
    path = run_bench(
        groups,
        solvers=("Sequential",),
        out_dir=tmp_path,
        repeats=1,
        max_call_s=0.5,
        progress=False,
    )
    recs = load_results([path])
    assert [r["status"] for r in recs] == ["ok", "skipped"]
    assert "predicted" in recs[1]["reason"]


def test_cli_runs_and_summarises(tmp_path):
    args = [
        "--cell",
        "GRU",
        "--T",
        "16",
        "--N",
        "3",
        "--batch",
        "1",
        "--workload",
        "forward",
        "--solver",
        "Sequential",
        "--solver",
        "DEER",
        "--repeats",
        "1",
        "--out-dir",
        str(tmp_path),
        "--no-progress",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "DEER" in result.output and "results:" in result.output
    lines = next(tmp_path.glob("*.jsonl")).read_text().splitlines()
    assert [json.loads(x)["solver"] for x in lines] == ["Sequential", "DEER"]


@pytest.mark.parametrize("workload", ["forward", "train"])
def test_torch_baseline_on_cpu(workload):
    pytest.importorskip("torch")
    from paratime.bench._baselines import time_torch_rnn

    rec = time_torch_rnn("LSTM", 8, 4, 50, 2, workload, 3, device="cpu")
    assert len(rec["times_s"]) == 3
    assert 0 < rec["min_s"] <= rec["median_s"] <= rec["max_s"]
    assert "peak_bytes" not in rec  # no device memory statistics on a CPU
    with pytest.raises(ValueError, match="workload"):
        time_torch_rnn("GRU", 8, 4, 50, 2, "predict", 3, device="cpu")


def test_time_solvers_on_a_user_cell(getkey):
    import equinox as eqx

    class Damped(eqx.Module):  # a cell of the user's own, no analytic Jacobian
        w: jax.Array

        def __call__(self, h, x):
            return jnp.tanh(self.w @ h + x)

    cell = Damped(0.3 * jax.random.normal(getkey(), (4, 4)))
    xs = jax.random.normal(getkey(), (3, 40, 4))  # a batch of 3
    recs = paratime.bench.time_solvers(
        cell, jnp.zeros((3, 4)), xs, solvers=("sequential", "deer", "lax.scan"), repeats=2
    )
    assert [r["solver"] for r in recs] == ["sequential", "deer", "lax.scan"]
    for r in recs:
        assert 0 < r["min_s"] <= r["median_s"] and len(r["times_s"]) == 2
        assert r["max_dev"] < 1e-10
    assert recs[1]["iterations"] >= 1
    train = paratime.bench.time_solvers(cell, jnp.zeros(4), xs[0], workload="train", repeats=1)
    assert [r["solver"] for r in train] == ["sequential", "deer", "quasi-deer", "auto"]
    assert all(r["rel_dev"] < 1e-8 for r in train)  # loss and gradient agree
    with pytest.raises(ValueError, match="unknown solver"):
        paratime.bench.time_solvers(cell, jnp.zeros(4), xs[0], solvers=("newton",))
    with pytest.raises(ValueError, match="workload"):
        paratime.bench.time_solvers(cell, jnp.zeros(4), xs[0], workload="predict")
