"""The narrative part of docs/benchmarks.md: what was optimised and how it was measured."""

NOTES = """\
## What was optimised (CPU), and how each technique was kept or dropped

Every technique below was measured against its alternative in one process, in interleaved
rounds (`paratime bench ablation`; the table "Techniques tried" at the end of this page is
generated from those records). Only the ones that helped are in the code.

1. **Linear solves on a CPU use a sequential scan.** `linear_recurrence(method="auto")`
   (used by every Newton step and adjoint) runs `lax.scan` on a CPU and
   `lax.associative_scan` elsewhere. The associative scan does ~2× the operations (N× for
   dense transitions, whose combine is an N×N matrix product) and moves O(T) data per level;
   two cores gain nothing from its depth. A *blocked* scan (sequential inside √T chunks,
   vmapped across them, then a carry pass and a re-run) was tried and dropped: the chunk
   transition products cost N³ per step, so it lands between the two.
2. **Implicit derivatives of `linear_recurrence`** via `lax.custom_linear_solve`: the VJP is
   one reverse linear recurrence with the transposed transitions (the adjoint), the JVP one
   more forward solve; nothing is differentiated through the scan. Faster and less memory
   than autodiff through either scan, and forward mode still works.
3. **One fused evaluation pass per Newton iteration, in place.** The pass returns the next
   step's (J_t, b_t = f_t − J_t s_{t−1}) and the convergence test together, so neither f nor
   the shifted trajectory is stored. On a CPU it runs in blocks of 1024 steps read from the
   trajectory in place (`dynamic_slice`) and writes J and b into the previous iteration's
   buffers, and the linear solve writes the states into the previous iterate: QuasiDEER's
   working memory is the states, J and b, 56 (all steps at once) → 22 (blocks by `lax.map`)
   → 12.4 bytes·T·N at GRU N = 16, T = 1e5, and the forward solve got faster (0.72 → 0.60 s
   there; N = 256, T = 1e4: 2.0 → 1.2 s; same iterations, identical results). Batched (under
   `vmap`, batch 16, T = 1e4) it is 5.1 bytes·T·N per sequence on a CPU (item 12), 16.1 in
   lockstep (item 9), and was 28. For dense DEER blocking used more memory and was not kept.
4. **Analytic Jacobians** (in the cells) against `jacfwd` (the same cell wrapped as a plain
   callable), forward solves at T = 1e4, N = 64 (session 4, low load): DEER 0.43× (GRU), 0.58×
   (LSTM), 0.37× (Elman); QuasiDEER 0.44×, 0.02× (LSTM: the diagonal of the LSTM's Jacobian
   comes from its gate formulas, not from a full 2N × 2N `jacfwd`), 0.82×. At N = 16 (GRU, T
   = 1e5) the gain is small, 0.86×: the Jacobian is cheap next to the linear solve there. The
   whole of paratime's DEER against the straightforward DEER baseline: 0.41× (GRU, N = 16, T
   = 1e5, same run).
5. **Warm starts**: the `+warm` solvers start Newton from the trajectory of a cell whose
   parameters differ by 0.1% (what the previous training step leaves): typically 1–2 Newton
   iterations instead of 3–10; 0.62× the time of a cold DEER solve at GRU N = 16, T = 1e5.
6. **Auto on a CPU = sequential forward + implicit adjoint** (`ImplicitSequential`): the
   forward pass is the exact `lax.scan`; the gradient is one reverse linear scan with the
   analytic transposed Jacobians instead of backpropagation through the scan. Backpropagation
   is bound by the per-step overhead of its backward loop for one sequence (GRU N = 16:
   2.5–4× slower than the adjoint), but batched it spreads that overhead over the batch while
   the adjoint's T·batch·N² Jacobians grow. Measured side by side (training step, T = 1e3,
   time adjoint / time BPTT): GRU N = 16 at batch 1/2/4/8/16: 0.41/0.43/0.56/0.71/0.81–1.05;
   GRU N = 32/64 at batch 1: 1.08/2.15; LSTM (state 2N) N = 4 at batch 1/16: 0.63/1.28;
   Elman N = 4 at batch 16: 0.51. So `Auto` uses the adjoint while batch·N² ≤ 512 (and the
   Jacobians fit in 1 GiB), else plain `Sequential`. `unroll` gives `Auto` the batch size of
   the `jax.vmap`s around it (a `custom_vmap` probe; see `paratime/_batching.py`).
   Two fixes made the batched adjoint competitive at all: (a) reverse linear recurrences now
   scan backwards (`lax.scan(reverse=True)`) instead of flipping `a` and `b`, which under
   `vmap` was a strided copy of T·batch·N² numbers (batch-16 GRU N = 16, T = 1e3: 21.5 →
   4.2 ms); (b) the dense adjoint has a batching rule that computes the Jacobians time-major,
   (T, batch, N, N), so the scan reads each step contiguously (the default batch-major layout
   plus XLA's transpose made the same training step 29.9 ms; now 10.7 ms, BPTT 13.2 ms).
7. **A correctness fix found by the benchmark**: the iterative (diagonal) adjoint used an
   absolute tolerance of eps^(3/4) by default. For a loss averaged over T·N states the
   adjoint itself is smaller than that, so it "converged" at once with gradients off by up to
   ~30% (float32, T = 1e4). Newton solvers and `ImplicitSequential` now default to a purely
   relative test (`adjoint_atol = 0`).
8. **Mixed precision** (bfloat16 transitions in the linear solve) was measured and dropped:
   on this CPU XLA has no fast bfloat16 matrix-vector product, so the dense sequential solve
   (T = 1e4, N = 16) took 1.0 s against 1.8 ms in float32 (546×), and bfloat16 keeps only
   ~3 significant digits. On a GPU it remains untried (no GPU was lent).
9. **Batched Newton loops run in lockstep** (session 3; the path for accelerators, and for
   a CPU before item 12). Under `jax.vmap`, a `lax.while_loop`
   whose stop test differs per sequence runs the body for the whole batch until every
   sequence is done and keeps each finished one with a `select` over the whole carry, so old
   and new trajectories, Jacobians and right-hand sides are all alive at once.
   `lockstep_while_loop` (a `custom_vmap`) runs the batch while any sequence is active and
   tells the body which are; a finished sequence's linear solve keeps its states (a masked
   update inside the in-place loop), so nothing is selected. GRU, batch 16, T = 1e4, N = 16,
   forward: QuasiDEER 0.372 → 0.318 s (0.86×) and 28.1 → 16.1 bytes·T·N per sequence; DEER
   0.662 → 0.616 s (0.93×) and 188 → 156 bytes·T·N. The same fix for branches
   (`lockstep_cond`): a vmapped `lax.cond` computes both branches, so the diagonal adjoint's
   exact sequential fallback, and `fallback="sequential"`, ran for every batched call; they
   now run only when some sequence needs them (batched QuasiDEER training step, same point:
   0.94 → 0.77 s, old and new code timed in separate processes).
10. **The adjoint reuses the Newton solve's Jacobians** (session 3). The loop's last
   evaluation pass (its convergence test) evaluates J at the returned trajectory, exactly the
   Jacobians the adjoint needs. DEER and QuasiDEER hand them to `unroll`, which keeps them for
   the backward pass instead of evaluating them again; the dense adjoint then runs a reverse
   loop that reads J in place (no shifted, transposed copy). LSTM, N = 16, T = 1e4, DEER
   training step: 0.132 → 0.117 s (0.89×). Not with `chunk_size` (the chunks' Jacobians are
   not kept) or `fallback="sequential"` (the states may be replaced).
11. **ELK's Kalman filter on a CPU** (session 3). For dense Jacobians the damped step's filter
   runs as the textbook recursion (predict, then update through the gain λP⁻(I + λP⁻)⁻¹)
   instead of the associative scan over 5-tuples, whose combine costs an inverse and six
   N×N products; the gain and the smoother's S⁻¹ are Cholesky solves (both matrices are the
   identity plus a positive semi-definite one; LU took twice as long). Dense damped step, T =
   1e4, N = 16: 0.246 s (associative, LU) → 0.125 s (recursion, Cholesky; the associative
   form with the Cholesky smoother: 0.220 s). Dense ELK solves at T = 1e4, N = 16: GRU 1.45 →
   0.95 s, LSTM 5.43 → 2.63 s, Elman 1.50 → 0.80 s (same 7 iterations; separate runs of the
   same grid points). For diagonal Jacobians the associative scan stays: the recursion took
   1.14× its time.
12. **On a CPU a batch of Newton solves runs one sequence after another** (session 3).
   Batching buys nothing on one core, and a batch's working set (T·batch·N² numbers for
   DEER's Jacobians) falls out of the caches. So, on a CPU, `unroll` under `jax.vmap` solves
   the sequences of a batch with `lax.map` (a `custom_vmap` rule, `one_at_a_time_on_cpu`);
   each stops after its own iterations and only one sequence's temporaries are alive. The
   same for the adjoint after a Newton solve. GRU, batch 16, T = 1e4, N = 16, three variants
   side by side (vmap with a per-sequence stop / vmap in lockstep / one after another):
   QuasiDEER forward 0.410 / 0.332 / **0.250 s**, 28.1 / 16.1 / **5.1** bytes·T·N per
   sequence; training step 0.886 / 0.880 / **0.568 s**; DEER forward 0.704 / 0.650 /
   **0.386 s**, 188 / 156 / **12.3** bytes·T·N; training step 0.914 / 0.849 / **0.649 s**.
   Diagonal ELK (T = 2e3): 0.225 → 0.092 s; dense ELK 2.60 → 2.53 s. Not for the sequential
   solvers (`Auto`'s choices on a CPU): their batched scan shares each step's overhead across
   the batch, which is what makes them fast there.
13. **The LSTM's own sequential loop** (session 4). `Sequential` (and so `Auto` on a CPU)
   evaluates a single sequence with the cell's `trajectory` where one is defined: the LSTM's
   projects the inputs of all steps with one matrix product before the loop, and takes one
   `tanh` over the four gates' pre-activations per step (σ(a) = (1 + tanh(a/2))/2). Forward,
   T = 1e4, one sequence: N = 16 0.44×, N = 64 0.78× the time of the `lax.scan` of the
   cell's step (two runs; 0.76× and 0.66× in the other, where the alternation with the other
   variant slowed it: back to back it takes 2.7 ms against 6.3–7.4 ms). Neither change
   helped alone (projection alone 0.84–0.95×, one `tanh` alone slower), and the same
   projection made the GRU's loop slower (1.7×), so the GRU has none. Batched under
   `jax.vmap` the LSTM's loop was no faster (N = 16) or slower (N = 64: 1.21×, and 2× in a
   separate test), so `unroll` uses the plain scan inside `jax.vmap`. Derivatives
   never go through it: where the states are differentiated, values and derivatives come
   from the scan of `__call__` (a `custom_jvp`), since a hand-written LSTM backward loop was
   2× faster at N = 16 but 2× slower at N = 64 than backpropagation through the scan.

14. **`Auto`'s adjoint limit for the Elman cell** (session 4). The re-sweep at T = 1e5 found
   `Auto` 1.5–1.6× slower than `Sequential` for the Elman cell's training step at N = 16: its
   step is so cheap that backpropagation through it beats the implicit adjoint once the
   adjoint's Jacobians no longer fit the caches. Adjoint/BPTT time, one sequence: N = 8
   0.32/0.28/0.59× at T = 1e4/3e4/1e5 (3/8/26 MB of Jacobians), N = 12 0.42/0.63/1.21×
   (6/17/58 MB), N = 16 0.62/1.49/1.65× (10/31/102 MB), N = 4 0.93–1.03×; the GRU's adjoint
   wins everywhere (0.15–0.68× up to 102 MB). So for the Elman cell `Auto` uses the adjoint
   only up to 28 MB of Jacobians; at N = 16, T = 1e5 it now takes 0.94× `Sequential`'s time
   (the same program).

**PyTorch on the same CPU** (session 4; `torch-CPU`: `torch.nn.GRU`/`nn.LSTM` 2.14 with the
same shapes, one thread like the JAX side, timed in the same rounds). The GRU: PyTorch's CPU
GRU is slow, so `Auto` is 2.4–12× faster forward at N = 64 and 6.7–91× at N = 16, and 2.7–167×
in training (T from 1e3 to 1e5, batch 1 and 16; T = 1e5 at N = 16, batch 1 only). The LSTM,
after item 13: one sequence forward, `Auto` is 1.3–1.9× faster; in training PyTorch is 1.0–2.2×
faster; at batch 16 PyTorch is 1.5–1.8× faster forward and 1.0–1.45× in training (except N =
16, T = 1e3, where it takes 1.3× our time). The batched step is a (16 × n) by (n × 4n) matrix
product, and PyTorch's CPU kernels for it are probably faster than XLA's (not verified). The
figures are in the tables (`torch-CPU`), each against `Sequential` of the same run.

**Coverage of the CPU sweep, and how it was timed.** Session 2 (load average 3–5, the sweep
pinned to one core with `taskset`, other jobs on the other core): every cell at N ∈ {4, 16, 64}
× batch {1, 16} × T ∈ {1e3, 1e4} (N = 256 at batch 1, T = 1e4; batch 16 at N = 64 only for T =
1e4), and T = 1e5 for the GRU at N = 16, batch 1. An earlier version of the harness timed one
call per solver per round, and identical programs (`Auto` resolving to `Sequential`) then
differed by up to 2×, depending on the caches the previous solver left; calls under 2 s now run
back to back in each round and the fastest counts, and identical programs agree within a few
percent by the fastest run (medians scatter more: after session 3, 3 points had Auto's median
over 1.2× the best, all where Auto runs the very program it is compared with; after session 4,
none). Session 3 (load average 1–2.5, same pinning), after items 9 and 10: all solvers again at
GRU N = 16, T = 1e5 (batch 1) and at GRU and LSTM N = 16, T = 1e4 (batch 1 and 16); **T = 1e6**
for the GRU at N ∈ {4, 16}, batch 1 (every solver but ELK; DEER's Jacobians alone are 1 GB
there); ELK and QuasiELK at T = 1e4, N ∈ {4, 16}, batch 1, every cell, side by side with
Sequential, DEER, QuasiDEER and Auto (at T = 1e3 they were swept in session 2); after item 12,
all solvers at batch 16, T ∈ {1e3, 1e4}, N ∈ {4, 16}, and T = 1e3, N = 64, every cell (batched
DEER at N = 64, T = 1e3: GRU 0.69 → 0.28 s, LSTM 5.45 → 2.28 s against session 2). ELK is the
robust fallback, not a fast path, on a CPU: even after item 11 a dense ELK solve costs ~50× a
DEER solve at N = 16 (GRU, T = 1e4: 0.95 s against 20 ms; 7 and 3 iterations), and QuasiELK
costs 1.8–2.6× QuasiDEER. The DEER gradient costs 1.1–1.3× its forward solve for the LSTM at N
= 16, T = 1e4 in three runs this session (1.6× before item 10). Session 4 (load average
0.7–3.2, same pinning), after item 13: every solver again at batch 1, T ∈ {1e3, 1e4}, N ∈ {4,
16, 64, 256}, every cell; at T = 1e5, N = 16, every cell (batch 1); at batch 16, T = 1e4, N =
64 for the GRU, the LSTM and the Elman cell; and the session-1 ablations again. Rows of session
1 (load average ~20) remain in the results file where not re-measured; every speed-up is now
taken against `Sequential` of the same run.

Not done here: GPU measurements and the cuDNN comparison (no GPU was lent to this project in
any of its four sessions; the harness runs both where a GPU and PyTorch are present: the GPU
targets are still pending), and a Pallas/Triton diagonal-scan kernel (a GPU technique, kept
only if a GPU measurement justified it).
"""
