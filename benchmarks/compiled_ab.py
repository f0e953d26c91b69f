"""Are two source trees' compiled programs the same? Compile each case against `--old` and
`--new` (each in a fresh subprocess) and compare the optimised XLA programs after removing what
does not run: instruction names, metadata (source lines) and the order of computations. Equal
programs run the same instructions on the same buffers, so a timing difference between them
is noise; where they differ, the sizes and the working memory say by how much.

    git worktree add ../before <commit>
    python benchmarks/compiled_ab.py --old ../before/src --new src [--json out.json]

Cases (CPU, float32): forward (`fwd`) and gradient (`grad`) of `unroll` for each solver and
cell at T = 1000 and N = 16 (batch 1 and a vmapped batch of 8), and DEER with time sharded over
4 host devices.
"""

import argparse
import json
import os
import re
import subprocess
import sys

CHILD = r"""
import json, os, re, sys, hashlib
import jax, jax.numpy as jnp, paratime
solver_expr, cell_name, workload, T, N, B = sys.argv[1:7]
T, N, B = int(T), int(N), int(B)
cell = getattr(paratime.cells, cell_name)(3, N, key=jax.random.key(0))
h0 = (jnp.zeros(N), jnp.zeros(N)) if cell_name == "LSTM" else jnp.zeros(N)
xs = jax.random.normal(jax.random.key(1), (B, T, 3) if B > 1 else (T, 3))
if "Sharded" in solver_expr:
    mesh = jax.make_mesh((4,), ("time",))
solver = eval(solver_expr)

def forward(c, h, x):
    return paratime.unroll(c, h, x, solver=solver).states

def loss(c, h, x):
    return jnp.mean(jax.tree.leaves(forward(c, h, x))[0] ** 2)

f = forward if workload == "fwd" else jax.grad(loss)
if B > 1:
    f = jax.vmap(f, in_axes=(None, None, 0))
compiled = jax.jit(f).trace(cell, h0, xs).lower().compile()
lines = []
for line in compiled.as_text().splitlines():
    line = line.strip()
    if not line.startswith(("%", "ROOT")):
        continue
    line = re.sub(r",? ?metadata=\{[^}]*\}", "", line)
    line = re.sub(r"%[\w.-]+", "%", line)  # names of instructions and computations
    lines.append(line)
lines.sort()
text = "\n".join(lines)
m = compiled.memory_analysis()
print(json.dumps({"hash": hashlib.sha256(text.encode()).hexdigest()[:16],
                  "instructions": len(lines), "temp_bytes": m.temp_size_in_bytes}))
"""

SHARDED = "paratime.DEER(recurrence=paratime.recurrences.Sharded(mesh, 'time'))"
CASES = [
    (solver, cell, workload, T, 16, batch)
    for solver in ("paratime.DEER()", "paratime.QuasiDEER()", "paratime.Auto()",
                   "paratime.Sequential()")  # fmt: skip
    for cell in ("GRU", "LSTM", "Elman")
    for workload in ("fwd", "grad")
    for T, batch in ((1000, 1), (1000, 8))
] + [(SHARDED, "GRU", w, 100_000, 16, 1) for w in ("fwd", "grad")]


def compile_case(src: str, case) -> dict:
    env = {**os.environ, "PYTHONPATH": src, "JAX_PLATFORMS": "cpu"}
    env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
    args = [sys.executable, "-c", CHILD, *map(str, case)]
    out = subprocess.run(args, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1][:200]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--old", required=True)
    p.add_argument("--new", required=True)
    p.add_argument("--json", default=None)
    a = p.parse_args()
    rows = []
    print("| solver | cell | pass | T | batch | same program | instructions old / new "
          "| temp bytes old / new |")  # fmt: skip
    print("|---|---|---|---:|---:|---|---|---|")
    for case in CASES:
        old, new = compile_case(a.old, case), compile_case(a.new, case)
        same = "hash" in old and old.get("hash") == new.get("hash")
        name = re.sub(r"recurrence=.*\)", "Sharded(4))", case[0].removeprefix("paratime."))
        rows.append({"case": list(case), "old": old, "new": new, "same": same})
        print(
            f"| {name} | {case[1]} | {case[2]} | {case[3]} | {case[5]} | "
            f"{'yes' if same else 'no'} | {old.get('instructions')} / {new.get('instructions')} "
            f"| {old.get('temp_bytes')} / {new.get('temp_bytes')} |",
            flush=True,
        )
    print(f"\n{sum(r['same'] for r in rows)} of {len(rows)} programs are the same.")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
