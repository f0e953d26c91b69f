"""Working memory per element (bytes · T · N) in float32 and bfloat16, from XLA's compiled
memory analysis (temporaries + outputs; nothing is run), forward and gradient.

    python benchmarks/mixed_precision_memory.py [--T 100000] [--N 16] [--platform cpu|cuda]

`--platform cuda` lowers for a GPU on any machine but compiling needs one (the memory
analysis comes from the compiled program); on a CPU-only machine use the default.
bfloat16 runs under the mixed-precision policy of `paratime.unroll` (cell in bfloat16, the
solver's states, recurrences and residual in float32) and, for comparison, with
`precision=jnp.bfloat16` (everything in bfloat16).
"""

import argparse

import equinox as eqx
import jax
import jax.numpy as jnp

import paratime

CASES = {  # (cell, solver)
    "GRU (dense J), Sequential": (paratime.cells.GRU, paratime.Sequential()),
    "GRU (dense J), DEER": (paratime.cells.GRU, paratime.DEER()),
    "GRU (dense J), QuasiDEER": (paratime.cells.GRU, paratime.QuasiDEER()),
    "DiagonalGRU (diagonal J), DEER": (paratime.cells.DiagonalGRU, paratime.DEER()),
    "MinGRU (linear), Auto = LinearScan": (paratime.cells.MinGRU, paratime.Auto()),
}
MODES = {  # (parameter, input and state dtype, precision)
    "float32": (jnp.float32, None),
    "bfloat16 (mixed)": (jnp.bfloat16, None),
    "bfloat16 (native)": (jnp.bfloat16, jnp.bfloat16),
}


def working_bytes(cell_cls, solver, dtype, precision, T, N, gradient, platform):
    cell = cell_cls(4, N, key=jax.random.key(0), dtype=dtype)
    h0 = jnp.zeros(N, dtype)
    xs = jax.ShapeDtypeStruct((T, 4), dtype)

    def forward(cell, h0, xs):
        return paratime.unroll(cell, h0, xs, solver=solver, precision=precision, throw=False)

    def loss(cell, h0, xs):
        return jnp.sum(forward(cell, h0, xs).states.astype(jnp.float32) ** 2)

    def fn(cell, h0, xs):
        if gradient:
            return eqx.filter_grad(loss)(cell, h0, xs)
        return forward(cell, h0, xs).states

    with paratime.for_platform(platform):
        lowered = jax.jit(fn).trace(cell, h0, xs).lower(lowering_platforms=(platform,))
    mem = lowered.compile().memory_analysis()
    return mem.output_size_in_bytes + mem.temp_size_in_bytes


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--T", type=int, default=100_000)
    parser.add_argument("--N", type=int, default=16)
    parser.add_argument("--platform", default="cpu")
    args = parser.parse_args()
    T, N = args.T, args.N
    print(f"bytes · T · N (working memory / (T·N)), T = {T}, N = {N}, {args.platform}\n")
    head = ["cell, solver", "pass"] + list(MODES)
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for name, (cell_cls, solver) in CASES.items():
        for gradient in (False, True):
            row = [name, "gradient" if gradient else "forward"]
            for dtype, precision in MODES.values():
                size = working_bytes(
                    cell_cls, solver, dtype, precision, T, N, gradient, args.platform
                )
                row.append(f"{size / (T * N):.1f}")
            print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
