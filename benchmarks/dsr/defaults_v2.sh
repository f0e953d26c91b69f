#!/bin/bash
# The new defaults (selection by the worst of 16 spread-out validation starts, patience 2000)
# on Lorenz-63 seeds 0-9, each scored on the test set; one job at a time, pinned to one core.
#   SRC=src OUT=runs/defaults-v2 SEEDS="0 1 2 3 4 5 6 7 8 9" [CORE=1] benchmarks/dsr/defaults_v2.sh [extra flags]
#   python benchmarks/dsr/seeds_table.py runs/defaults-v2/lorenz63-s*
set -e
export PYTHONPATH=${SRC:-src} XLA_FLAGS=--xla_cpu_multi_thread_eigen=false
PY=${PY:-python}
P="taskset -c ${CORE:-1} nice -n 10 $PY -m paratime.cli dsr"
OUT=${OUT:-runs/defaults-v2}
mkdir -p $OUT
for seed in ${SEEDS:-0 1 2 3 4 5 6 7 8 9}; do
  out=$OUT/lorenz63-s$seed
  rm -rf $out
  start=$(date +%s)
  $P train --data ${DATA:-lorenz63} --seed $seed --no-progress --out $out "$@" > $out.train.log 2>&1
  echo "wall_s=$(( $(date +%s) - start ))" >> $out.train.log
  $P eval $out --data ${TEST:-lorenz63-test} > $out.eval.log 2>&1 || true
done
