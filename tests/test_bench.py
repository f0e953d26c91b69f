"""The benchmark harness, its baselines, report and CLI; the CPU fast paths it measured."""

import json

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest
from typer.testing import CliRunner

import paratime
from helpers import tree_max_abs_diff
from paratime._scan import sequential_linear_recurrence
from paratime._solver._auto import ImplicitSequential
from paratime.bench import Group, grid, load_results, naive_deer, run_bench, write_report
from paratime.bench._cli import app
from paratime.bench._grid import solvers_for


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


def test_report_and_figures(results, tmp_path):
    _, records = results
    md = write_report(
        records, tmp_path / "docs" / "benchmarks.md", figures=tmp_path / "docs" / "figures"
    )
    text = md.read_text()
    assert "| N | T | Sequential | DEER |" in text and "Load caveat" in text
    figs = list((tmp_path / "docs" / "figures").glob("bench_*.png"))
    assert len(figs) >= 3 and all(f.stat().st_size > 1000 for f in figs)


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


@pytest.mark.parametrize("kind", ["dense", "diagonal"])
def test_implicit_sequential_gradient_is_bptt(kind, getkey):
    cell = paratime.cells.GRU(3, 6, key=getkey())
    h0, xs = jnp.zeros(6), jax.random.normal(getkey(), (100, 3))

    def loss(cell, solver):
        return jnp.mean(paratime.unroll(cell, h0, xs, solver=solver).states ** 2) * 1e-3

    ref = eqx.filter_grad(loss)(cell, paratime.Sequential())
    got = eqx.filter_grad(loss)(cell, ImplicitSequential(kind))
    scale = max(float(jnp.max(jnp.abs(x))) for x in jax.tree_util.tree_leaves(ref))
    assert tree_max_abs_diff(got, ref) <= 1e-9 * scale  # relative, even for a tiny loss


def test_auto_on_cpu_uses_the_implicit_adjoint(getkey):
    gru = paratime.cells.GRU(3, 16, key=getkey())
    assert paratime.Auto().select(gru, 1000, 16) == ImplicitSequential("dense")
    assert paratime.Auto().select(gru, 1000, 64) == paratime.Sequential()  # measured crossover
    assert paratime.Auto().select(gru, 10**7, 16) == paratime.Sequential()  # T·N² too large
    assert paratime.Auto().select(lambda h, x: h, 1000, 16) == paratime.Sequential()


@pytest.mark.parametrize(
    "structure,method",
    [(s, m) for s in ("diagonal", "dense", "block") for m in ("associative", "sequential")],
)
def test_linear_recurrence_derivatives(structure, method, getkey):
    """Implicit (custom_linear_solve) derivatives equal autodiff through a plain scan."""
    reverse = structure != "dense"
    T, N = 9, 4
    shape = {"diagonal": (T, N), "dense": (T, N, N), "block": (T, 2, 2, 2)}[structure]
    cplx = lambda s: jax.random.normal(getkey(), s) + 1j * jax.random.normal(getkey(), s)  # noqa: E731
    a, b, h0, w = 0.5 * cplx(shape), cplx((T, N)), cplx((N,)), cplx((T, N))
    run = lambda f: lambda a, b, h0: f(a, b, h0, reverse=reverse)  # noqa: E731
    ours = run(lambda *x, **k: paratime.linear_recurrence(*x, **k, method=method))
    ref = run(sequential_linear_recurrence)
    loss = lambda f: lambda *x: jnp.sum(jnp.abs(w * f(*x)) ** 2)  # noqa: E731
    g1 = jax.grad(loss(ours), argnums=(0, 1, 2))(a, b, h0)
    g2 = jax.grad(loss(ref), argnums=(0, 1, 2))(a, b, h0)
    assert tree_max_abs_diff(g1, g2) < 1e-10
    tangents = (cplx(shape), cplx((T, N)), cplx((N,)))
    t1 = jax.jvp(ours, (a, b, h0), tangents)[1]
    t2 = jax.jvp(ref, (a, b, h0), tangents)[1]
    assert tree_max_abs_diff(t1, t2) < 1e-10


def test_ablation_runs_only_the_named_experiments(tmp_path):
    from paratime.bench._ablation import run_ablation

    with pytest.raises(ValueError, match="unknown experiments"):
        run_ablation(tmp_path, quick=True, only=["no such technique"])
    path = run_ablation(tmp_path, quick=True, repeats=2, only=["mixed precision"])
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert {r["experiment"] for r in records} == {"mixed precision"}
    assert {r["variant"] for r in records} == {"float32", "bfloat16"}
    assert all(len(r["times_s"]) == 2 and r["min_s"] <= r["median_s"] for r in records)


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


def test_report_compares_times_of_one_run():
    from paratime.bench._report import _latest, ablation_section, auto_check

    def rec(solver, median, date, **kw):
        return dict(
            device="cpu", cell="GRU", N=4, T=10, batch=1, workload="forward", solver=solver,
            status="ok", median_s=median, min_s=median, date=date, **kw,
        )  # fmt: skip

    records = [
        rec("Sequential", 1.0, "d1"),
        rec("DEER", 4.0, "d1"),
        rec("Auto", 1.0, "d1"),
        rec("Sequential", 2.0, "d2"),  # a later, slower run of two solvers only
        rec("Auto", 2.0, "d2"),
    ]
    latest = {r["solver"]: r for r in _latest(records)}
    assert latest["DEER"]["sequential_median_s"] == 1.0  # its own run's Sequential, not d2's
    assert latest["Auto"]["sequential_median_s"] == 2.0
    # Auto (d2) is compared with Sequential of d2 (1.0×), not with d1's faster Sequential.
    assert [r["ratio"] for r in auto_check(records, "median_s")] == [1.0]

    def ablation(variant, median, date):
        return dict(
            device="cpu", experiment="e", setting="s", variant=variant, median_s=median,
            ratio=1.0, date=date, load_avg=0.5,
        )  # fmt: skip

    rows = ablation_section([ablation("a", 1.0, "d1"), ablation("b", 9.0, "d1")] + [
        ablation("a", 2.0, "d2")
    ])  # fmt: skip
    table = [line for line in rows if line.startswith("| e |")]
    assert len(table) == 1 and "| a |" in table[0] and "d2" in table[0]  # the latest run only
