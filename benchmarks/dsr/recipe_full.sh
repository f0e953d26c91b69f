#!/bin/bash
# The recipe gtf-lorenz63 at its full budget (250 000 steps), several seeds, one job at a time
# pinned to one core; each model scored with the GTF code's protocol on the package's test set
# and on the literature's test file (if LIT is set), each score kept in its own log.
#   SRC=src OUT=runs/recipe SEEDS="0 1 2" CORE=1 [LIT=path/to/lorenz63_test.npy] benchmarks/dsr/recipe_full.sh
#   python benchmarks/dsr/recipe_table.py runs/recipe
set -e
export PYTHONPATH=${SRC:-src} XLA_FLAGS=--xla_cpu_multi_thread_eigen=false
PY=${PY:-python}
P="taskset -c ${CORE:-1} nice -n 10 $PY -m paratime.cli dsr"
OUT=${OUT:-runs/recipe}
mkdir -p $OUT
for seed in ${SEEDS:-0 1 2 3 4}; do
  out=$OUT/lorenz63-s$seed
  rm -rf $out
  start=$(date +%s)
  $P train --recipe gtf-lorenz63 --seed $seed --no-progress --out $out "$@" > $out.train.log 2>&1
  echo "wall_s=$(( $(date +%s) - start ))" >> $out.train.log
  $P eval $out --data lorenz63-test --protocol gtf --checkpoint last > $out.eval.log 2>&1 || true
  cp $out/metrics.json $out.metrics.json 2>/dev/null || true
  if [ -n "$LIT" ]; then
    $P eval $out --data "$LIT" --protocol gtf --checkpoint last > $out.eval-lit.log 2>&1 || true
    cp $out/metrics.json $out.metrics-lit.json 2>/dev/null || true
  fi
done
