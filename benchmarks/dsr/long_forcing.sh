#!/bin/bash
# Section 4 of the long-sequence question: does a long window help under another forcing?
# Each variant trains 200-step windows × 16 for 21 000 steps and 10 000-step windows × 1 for
# 3 000 steps (about equal training time on one core: ~3-4 min of steps each), seeds $SEEDS,
# scored on the slow–fast test series by benchmarks/dsr/long_sequences.py. One job at a time
# on core $CORE.
#   SEEDS="0 1 2" CORE=0 VARIANTS="free-u quad-free" benchmarks/dsr/long_forcing.sh
# Variants: base (the aGTF of the earlier section), free-u (--unforced 3: the drive u runs
# freely), quad (the drive's quadrature v observed as a fifth column), quad-free (u and v
# observed and both unforced), stf50 (sparse teacher forcing: α = 1 every 50th step), weak (x,
# y, z forced weakly, a constant α = 0.05, and u unforced).
set -e
export PYTHONPATH=${SRC:-src} XLA_FLAGS=--xla_cpu_multi_thread_eigen=false
PY=${PY:-python}
RUNS=${RUNS:-runs/dsr-long-forcing}
QUAD=${QUAD:-runs/slow-fast-quadrature}
CONFIGS=${CONFIGS:-200x16:21000 10000x1:3000}
[ -f $QUAD/train.npy ] || $PY benchmarks/dsr/slow_fast_quadrature.py $QUAD
for v in ${VARIANTS:-base free-u quad quad-free stf50 weak}; do
  case $v in
    base) args=(--latent 6) ;;
    free-u) args=(--latent 6 --flags "--unforced 3") ;;
    quad) args=(--latent 7 --data $QUAD/train.npy --test $QUAD/test.npy) ;;
    quad-free) args=(--latent 7 --data $QUAD/train.npy --test $QUAD/test.npy --flags "--unforced 3,4") ;;
    stf50) args=(--latent 6 --flags "--gtf 1.0 --forcing-interval 50") ;;
    weak) args=(--latent 6 --flags "--gtf 0.05 --unforced 3") ;;
    *) echo "unknown variant $v" >&2; exit 2 ;;
  esac
  taskset -c ${CORE:-0} nice -n 5 $PY benchmarks/dsr/long_sequences.py --runs $RUNS --tag $v \
    --configs $CONFIGS --seeds ${SEEDS:-0 1 2} --save-generated "${args[@]}" \
    --result ${RESULTS:-benchmarks/results}/dsr-long-forcing-$v.json
done
