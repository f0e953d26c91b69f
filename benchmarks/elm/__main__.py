"""`python -m benchmarks.elm bench|lstsq|plot` (from the repository root): the evidence of
docs/elm.md. `bench` compares ELM with BPTT and writes JSON lines, `lstsq` compares QR,
Cholesky and SVD, `plot` draws the figure and rewrites the table from the JSON lines."""

import json
from pathlib import Path

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False)


def _x64(enable: bool) -> None:
    import jax

    jax.config.update("jax_enable_x64", enable)


@app.command("bench")
def bench_command(
    datasets: str = typer.Option(
        "santafe,mackey-glass,sunspots,narma10,elnino",
        help="Comma-separated dataset names or paths.",
    ),
    archs: str = typer.Option(
        "elman,jordan,narmax,fully-connected,lstm,gru", help="Comma-separated architectures."
    ),
    out: Path = typer.Option(Path("benchmarks/results/elm-cpu.jsonl"), help="JSONL of rows."),
    docs: Path = typer.Option(
        None,
        help="Markdown file whose table (between the markers "
        "<!-- elm-bench:start --> and <!-- elm-bench:end -->) is rewritten.",
    ),
    hidden: int = typer.Option(32, min=1),
    window: int = typer.Option(16, min=1),
    bptt_steps: int = typer.Option(400, min=1, help="Most Adam steps per BPTT run."),
    eval_every: int = typer.Option(50, min=1, help="Steps between validation checks."),
    patience: int = typer.Option(4, min=1, help="Checks without improvement before stopping."),
    batch_size: int = typer.Option(64, min=1),
    max_length: int = typer.Option(5000, min=0, help="Truncate each series (0: all)."),
    parallel: str = typer.Option(
        "",
        help="Parallel solver for BPTT (DEER | QuasiDEER | ELK); "
        "empty: time each and take the fastest.",
    ),
    elm_parallel: bool = typer.Option(
        True, help="Also time ELM with H built by the parallel solver."
    ),
    quick: bool = typer.Option(False, help="Tiny run: sunspots × elman,gru, 8 hidden, 30 steps."),
    resume: bool = typer.Option(True, help="Keep rows already in OUT and skip them."),
    x64: bool = typer.Option(True, help="Compute in float64."),
) -> None:
    """Compare ELM with BPTT (Sequential and the fastest parallel solver); write JSONL + table."""
    _x64(x64)
    from .comparison import markdown_table, run_bench

    if quick:
        datasets, archs, hidden, window = "sunspots", "elman,gru", 8, 8
        bptt_steps, eval_every, batch_size = 30, 10, 32
        parallel = parallel or "QuasiDEER"
    rows = run_bench(
        out,
        datasets_=tuple(d for d in datasets.split(",") if d),
        archs=tuple(a for a in archs.split(",") if a),
        resume=resume,
        log=typer.echo,
        hidden=hidden,
        window=window,
        bptt_steps=bptt_steps,
        eval_every=eval_every,
        patience=patience,
        batch_size=batch_size,
        max_length=max_length or None,
        parallel=parallel or None,
        elm_parallel=elm_parallel,
    )
    table = markdown_table(rows)
    typer.echo(table)
    if docs is not None:
        _write_table(docs, table)


def _write_table(path: Path, table: str) -> None:
    start, end = "<!-- elm-bench:start -->", "<!-- elm-bench:end -->"
    text = path.read_text() if path.exists() else f"{start}\n{end}\n"
    if start not in text or end not in text:
        text = text.rstrip("\n") + f"\n\n{start}\n{end}\n"
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{start}\n{table}{end}{tail}")


@app.command("lstsq")
def lstsq_command(
    data: str = typer.Option("santafe", help="Dataset whose ELM hidden-state matrix is used."),
    arch: str = typer.Option("gru"),
    hidden: int = typer.Option(100, min=1),
    window: int = typer.Option(20, min=1),
    lam: float = typer.Option(1e-6, min=0.0, help="Ridge λ used for every method."),
    cond: float = typer.Option(1e10, help="Condition number of the synthetic matrix."),
    out: Path = typer.Option(Path("benchmarks/results/elm-lstsq-cpu.json")),
    x64: bool = typer.Option(True, help="Compute in float64 (else float32)."),
) -> None:
    """Compare QR, Cholesky and SVD (speed, accuracy against numpy.linalg.lstsq) on a real
    ELM hidden-state matrix and on a synthetic ill-conditioned one."""
    _x64(x64)
    import jax
    import jax.numpy as jnp

    from paratime.elm import hidden_matrix, load_task, make_cell, prepare

    from .comparison import environment
    from .lstsq import compare_methods, ill_conditioned

    prepared = prepare(load_task(data), window)
    dtype = jnp.float64 if x64 else jnp.float32
    cell = make_cell(arch, prepared.inputs.shape[-1], hidden, key=jax.random.key(0), dtype=dtype)
    H = hidden_matrix(
        cell, jnp.asarray(prepared.inputs, dtype), jnp.asarray(prepared.feedback, dtype)
    )
    Y = jnp.asarray(prepared.targets, dtype)
    results = {
        **environment(),
        "command": f"python -m benchmarks.elm lstsq --data {data} --arch {arch} --hidden {hidden} "
        f"--window {window} --lam {lam} --cond {cond} {'--x64' if x64 else '--no-x64'}",
        f"elm_{data}_{arch}": compare_methods(H, Y, lam),
        "synthetic_ill_conditioned": compare_methods(
            *ill_conditioned(H.shape[0], hidden, cond, dtype=dtype), lam
        ),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    for name in (f"elm_{data}_{arch}", "synthetic_ill_conditioned"):
        r = results[name]
        typer.echo(
            f"{name}: {r['rows']}×{r['columns']} {r['dtype']}, cond {r['condition_number']:.3g}"
        )
        for m, v in r["methods"].items():
            typer.echo(
                f"  {m:>9}: {v['seconds'] * 1e3:8.2f} ms (CPU {v['cpu_seconds'] * 1e3:8.2f} ms)  "
                f"β rel. error {v['beta_relative_error']:.2e}"
                f"  rel. residual {v['relative_residual']:.4g}"
            )
    typer.echo(f"wrote {out}")


@app.command("plot")
def plot_command(
    results: str = typer.Option(
        "benchmarks/results/elm-cpu.jsonl", help="Bench JSONL files, comma-separated."
    ),
    out: Path = typer.Option(Path("docs/figures/elm_comparison.png"), help="PNG to write."),
    docs: Path = typer.Option(None, help="Also rewrite the table in this Markdown file."),
) -> None:
    """Draw the ELM-versus-BPTT figure (and optionally the table) from bench results."""
    from .comparison import markdown_table, read_rows
    from .figures import plot_comparison

    rows, seen = [], set()
    for path in (p for p in results.split(",") if p):
        for row in read_rows(path):  # the first file wins where a row is repeated
            if (row["dataset"], row["arch"]) not in seen:
                seen.add((row["dataset"], row["arch"]))
                rows.append(row)
    plot_comparison(rows, out)
    typer.echo(f"wrote {out}")
    if docs is not None:
        _write_table(docs, markdown_table(rows))
        typer.echo(f"updated the table in {docs}")


if __name__ == "__main__":
    app()
