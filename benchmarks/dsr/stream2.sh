#!/bin/bash
# Second batch of issue-23 runs, one job at a time, pinned to one core:
#   1. the shipped recipe gtf-lorenz63 at a short budget (--steps $RSTEPS, default 3000; the
#      recipe's own budget is 250 000), seeds 0-4, scored with the GTF code's evaluation
#      protocol (eval --protocol gtf) and with paratime's (burn-in);
#   2. the Santa Fe laser (delay-embedded) with the bare defaults, seeds 0-2;
#   3. Lorenz-63 through a random 40-D linear map + noise with the bare defaults, seed 0.
#   SRC=src OUT=runs/stream2 benchmarks/dsr/stream2.sh
#   python benchmarks/dsr/seeds_table.py runs/stream2/*
set -e
export PYTHONPATH=${SRC:-src} XLA_FLAGS=--xla_cpu_multi_thread_eigen=false
PY=${PY:-python}
P="taskset -c 1 nice -n 10 $PY -m paratime.cli dsr"
OUT=${OUT:-runs/stream2}
mkdir -p $OUT
timed() {  # timed LOG cmd...: run, append the wall time to LOG
  local log=$1; shift; local start=$(date +%s)
  "$@" > $log 2>&1 || true
  echo "wall_s=$(( $(date +%s) - start ))" >> $log
}
for seed in ${RSEEDS-0 1 2 3 4}; do
  out=$OUT/recipe-lorenz63-s$seed; rm -rf $out
  timed $out.train.log $P train --recipe gtf-lorenz63 --steps ${RSTEPS:-3000} --seed $seed --no-progress --out $out
  $P eval $out --data lorenz63-test --protocol gtf > $out.eval-gtf.log 2>&1 || true
  cp $out/metrics.json $out/metrics-gtf.json || true
  $P eval $out --data lorenz63-test > $out.eval.log 2>&1 || true
done
$PY benchmarks/dsr/santafe_data.py $OUT/santafe-data > /dev/null
for seed in ${SSEEDS-0 1 2}; do
  out=$OUT/santafe-s$seed; rm -rf $out
  timed $out.train.log $P train --data $OUT/santafe-data/train.npy --seed $seed --no-progress --out $out
  $P eval $out --data $OUT/santafe-data/test.npy > $out.eval.log 2>&1 || true
done
$PY benchmarks/dsr/highdim_data.py $OUT/highdim-data 40 > /dev/null
for seed in ${HSEEDS-0}; do
  out=$OUT/highdim40-s$seed; rm -rf $out
  timed $out.train.log $P train --data $OUT/highdim-data/train.npy --seed $seed --steps ${HSTEPS:-3000} --no-progress --out $out
  $P eval $out --data $OUT/highdim-data/test.npy > $out.eval.log 2>&1 || true
done
