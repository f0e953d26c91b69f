"""The byte model of the kernels: bytes read and written per element (one batch · time ·
state number) and per Newton iteration, for each path, against the physical minimum; and the
time it predicts on an H100 and an H200 (a prediction until measured on a GPU).

- The XLA paths (the associative scan; one XLA Newton iteration of DiagonalGRU/DiagonalLSTM:
  the evaluation pass writing J and b, then the scan) are counted by XLA's own cost analysis
  of the compiled program ("bytes accessed"; compiled for the CPU, as no GPU compiler is
  here; the CUDA lowering has no cost analysis before compilation).
- The kernels are counted from their own loads and stores (`KERNELS` below: the numbers each
  step reads and writes in `paratime._engine._kernels`), per design: one pass, or chunked
  (the summary pass reads the steps once more).

    python benchmarks/kernel_bytes.py            # the table in docs/benchmarks.md
    python benchmarks/kernel_bytes.py --T 4096   # the XLA counts at another length
"""

import argparse

import jax
import jax.numpy as jnp

from paratime._engine._kernels._driver import plan
from paratime.cells._diagonal_gru import _value_and_jacobian
from paratime.cells._diagonal_lstm import _value_and_blocks
from paratime.recurrences import Associative
from paratime.structures import BlockDiagonal, Diagonal

BANDWIDTH = {"H100 (3.35 TB/s)": 3.35e12, "H200 (4.8 TB/s)": 4.8e12}
F32 = 4


def xla_bytes(f, *shapes) -> float:
    """XLA's "bytes accessed" of the compiled `f` at these shapes (float32)."""
    args = [jax.ShapeDtypeStruct(s, jnp.float32) for s in shapes]
    cost = jax.jit(f).lower(*args).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list | tuple) else cost
    return float(cost["bytes accessed"])


def xla_rows(T: int, C: int) -> dict[str, float]:
    """Bytes per element of the XLA paths, at T steps and C state numbers (a batch folded in)."""
    n = C // 2

    def scan(a, b, h0):
        return Associative().solve(Diagonal(), a, b, h0, False)

    def scan_block(a, b, h0):
        return Associative().solve(BlockDiagonal(2), a, b, h0, False)

    def gru_iteration(s, pre, w, h0):  # what DEER does per iteration, unfused
        prev = jnp.concatenate([h0[None], s[:-1]])
        f, jac = jax.vmap(lambda p, x: _value_and_jacobian(w, x, p))(prev, pre)
        b = f - jac * prev
        return Associative().solve(Diagonal(), jac, b, h0, False), jnp.max(jnp.abs(s - f))

    def lstm_iteration(s, pre, w, h0):
        prev = jnp.concatenate([h0[None], s[:-1]])  # (T, n, 2)

        def one(p, x):
            (c, h), blocks = _value_and_blocks(w[:3], w[3:], x, p[:, 0], p[:, 1])
            return jnp.stack([c, h], -1), jnp.stack(blocks, -1).reshape(-1, 2, 2)

        f, jac = jax.vmap(one)(prev, pre)
        b = f - jnp.einsum("tnij,tnj->tni", jac, prev)
        h = Associative().solve(BlockDiagonal(2), jac, b.reshape(T, C), h0.reshape(C), False)
        return h, jnp.max(jnp.abs(s - f))

    e = T * C
    return {
        "diagonal scan": xla_bytes(scan, (T, C), (T, C), (C,)) / e,
        "2×2 block scan": xla_bytes(scan_block, (T, n, 2, 2), (T, C), (C,)) / e,
        "DiagonalGRU Newton iteration": xla_bytes(gru_iteration, (T, C), (T, 3, C), (3, C), (C,))
        / e,
        "DiagonalLSTM Newton iteration": xla_bytes(
            lstm_iteration, (T, n, 2), (T, 3, n), (5, n), (n, 2)
        )
        / e,
    }


# Numbers each step reads and writes per state number, from the kernels' loads and stores.
# (reads of the steps, writes): the chunked design's summary pass reads the steps once more.
KERNELS = {
    # a, b read; h written
    "diagonal scan": (2, 1),
    # a (2 per state number: a 2×2 block per 2 numbers), b read; h written
    "2×2 block scan": (3, 1),
    # s and the 3 input pre-activations read (per unit = per state number); s' written
    "DiagonalGRU Newton iteration": (4, 1),
    # per unit (2 state numbers): s (2) and 3 pre-activations read; s' (2) written
    "DiagonalLSTM Newton iteration": (2.5, 1),
}
MINIMUM = {  # the least any path must move: its inputs read once, its output written once
    "diagonal scan": 12.0,
    "2×2 block scan": 16.0,
    "DiagonalGRU Newton iteration": 20.0,
    "DiagonalLSTM Newton iteration": 14.0,
}


def kernel_bytes(name: str, chunked: bool) -> float:
    reads, writes = KERNELS[name]
    return F32 * (reads * (2 if chunked else 1) + writes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--T", type=int, default=1 << 14, help="steps for the XLA counts")
    parser.add_argument("--C", type=int, default=4096, help="state numbers (batch · N)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--T-predict", type=int, default=100_000)
    parser.add_argument("--N", type=int, default=256)
    args = parser.parse_args()
    xla = xla_rows(args.T, args.C)
    elements = args.batch * args.T_predict * args.N
    block, chunk = plan(args.T_predict, args.N, args.batch)
    design = "one pass" if chunk >= args.T_predict else f"chunked, {chunk} steps"
    heads = list(BANDWIDTH)
    print(
        f"Bytes per element (batch·time·state number) per Newton iteration, float32; "
        f"XLA counted at T={args.T}, {args.C} state numbers. Predicted times for batch "
        f"{args.batch}, T={args.T_predict}, N={args.N} ({elements:.3g} elements; the kernels' "
        f"design at that shape: {design}; the LSTM has 2N state numbers). A prediction, "
        "not a measurement.\n"
    )
    print("| path | bytes/element | × minimum | " + " | ".join(heads) + " |")
    print("|---|---|---|" + "---|" * len(heads))
    for name in KERNELS:
        count = elements * (2 if "LSTM" in name else 1)
        rows = [
            (f"{name}: XLA", xla[name]),
            (f"{name}: kernel, one pass", kernel_bytes(name, False)),
            (f"{name}: kernel, chunked", kernel_bytes(name, True)),
            (f"{name}: minimum", MINIMUM[name]),
        ]
        for label, b in rows:
            times = [f"{b * count / bw * 1e3:.2f} ms" for bw in BANDWIDTH.values()]
            print(f"| {label} | {b:.1f} | {b / MINIMUM[name]:.2f}× | " + " | ".join(times) + " |")
    backward_table()


def backward_table(iterations: int = 3) -> None:
    """Whether a fused backward pays: the DiagonalGRU training step per element, f32."""
    newton = iterations * kernel_bytes("DiagonalGRU Newton iteration", False)
    # Unfused (as built): the Jacobians evaluated in XLA (read s and 3 pre-activations, write
    # J), their shifted copy for the reverse recurrence (read, write), the reverse kernel (read
    # J and g, write λ).
    unfused = F32 * (5 + 2 + 3)
    # Fused: one reverse kernel evaluating J on the fly (read s, 3 pre-activations, g; write λ).
    fused = F32 * 6
    # The pullback to the inputs and weights (read prev, 3 pre-activations, λ; write 3 input
    # cotangents): the same in both.
    pullback = F32 * 8
    print(
        f"\nDiagonalGRU training step, bytes per element, with {iterations} Newton iterations "
        "(fused forward, one-pass design):\n"
    )
    print("| backward | adjoint | whole step | share of the step saved |")
    print("|---|---|---|---|")
    for label, adj in (("unfused (built)", unfused), ("fused (not built)", fused)):
        step = newton + adj + pullback
        saved = 1 - step / (newton + unfused + pullback)
        print(f"| {label} | {adj:.0f} | {step:.0f} | {saved:.0%} |")


if __name__ == "__main__":
    main()
