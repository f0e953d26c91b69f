#!/usr/bin/env bash
# The GPU check: one script, under 8 minutes on one NVIDIA H100/H200, run from anywhere.
#
#   bash benchmarks/gpu_check.sh              # results in benchmarks/results/gpu-<date>/
#   OUT=/some/folder bash benchmarks/gpu_check.sh
#   SMALL=1 OUT=/tmp/x bash benchmarks/gpu_check.sh   # a dry run of the script on a CPU (minutes)
#
# It needs python3 with jax (CUDA), equinox, optax, jaxtyping, typer, rich and pytest; PyTorch
# for the cuDNN baseline (skipped without it). Nothing is installed or downloaded: the package
# is used from this checkout (PYTHONPATH=src). Each part has its own time limit, so one slow or
# failing part does not stop the others; every part's output is kept.
#
# 1. the engine's fast test subset on the GPU (float64 tests, as in CI), with the Pallas
#    kernels' tests (compiled by Triton there, not interpreted);
# 2. DEER vs Sequential vs cuDNN nn.GRU, forward and training step, batch 16, T = 1e5, N = 16;
# 3. one language-model training step of the diagonal GRU at a 16 384-byte context, batch 16,
#    under Newton (XLA's scan and the fused kernel) and under Sequential;
# 4. the kernels (recurrences.Pallas) vs XLA's scan vs Sequential vs cuDNN nn.GRU/nn.LSTM: the
#    diagonal scan, and the DiagonalGRU/DiagonalLSTM training step, batch 16, T = 1e5, N = 256.
# With SMALL=1 the kernels run in Pallas' interpret mode on the CPU.
# Commit the results folder with the device, the JAX version and the date it records.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-benchmarks/results/gpu-$(date -u +%Y-%m-%d)}
mkdir -p "$out"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
py=${PYTHON:-python3}
T=100000 CONTEXT=16384 BATCH=16 KN=256 TESTS=(tests/test_scan.py tests/test_structures.py
    tests/test_solvers.py tests/test_gradients.py tests/test_cells_structured.py
    tests/test_kernels.py tests/test_kernels_fused.py)
KT=$T SCALE=1
# The dry run is not timed: its limits are SCALE times longer (a shared CPU, interpret mode).
if [ -n "${SMALL:-}" ]; then
    T=2000 KT=500 CONTEXT=1024 BATCH=2 KN=16 SCALE=4 TESTS=(tests/test_scan.py)
fi
status=0

$py - >"$out/environment.json" <<'PY'
import json, jax, paratime
from paratime.bench import environment
print(json.dumps({**environment(), "paratime": paratime.__version__}, indent=2))
PY
cat "$out/environment.json"

echo "== 1. tests (limit 150 s)"
timeout $((150 * SCALE)) $py -m pytest -q -x -p no:cacheprovider "${TESTS[@]}" 2>&1 | tee "$out/tests.log" | tail -5 || status=1

echo "== 2. GRU batch 16, T=1e5, N=16: DEER, Sequential, cuDNN (limit 100 s)"
timeout $((100 * SCALE)) $py -m paratime.cli bench --cell GRU --T $T --N 16 --batch 16 \
    --workload forward --workload train --solver deer --solver sequential --solver cuDNN \
    --repeats 3 --out-dir "$out" --no-progress 2>&1 | tee "$out/bench.log" | tail -20 || status=1

echo "== 3. LM step, diagonal GRU, 16 384-byte context, batch 16 (limit 90 s)"
timeout $((90 * SCALE)) $py benchmarks/lm_step.py --context $CONTEXT --batch $BATCH --cell diagonal_gru \
    --solvers quasi-deer+pallas,quasi-deer,sequential --repeats 3 --out "$out/lm-step.jsonl" \
    2>&1 | tee "$out/lm-step.log" | tail -10 || status=1

echo "== 4. kernels vs XLA scan vs Sequential vs cuDNN, batch 16, T=1e5, N=256 (limit 110 s)"
timeout $((110 * SCALE)) $py benchmarks/kernel_check.py --T $KT --batch $BATCH --N $KN --repeats 2 \
    --out "$out/kernels.jsonl" 2>&1 | tee "$out/kernels.log" | tail -12 || status=1

echo "results in $out"
exit $status
