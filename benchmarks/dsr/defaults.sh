#!/bin/bash
# `paratime dsr train` with its defaults on Lorenz-63, five seeds, scored on the test set, and
# the Santa Fe laser (delay-embedded by benchmarks/dsr/santafe_data.py) with the same defaults.
# Run from the repository root; one job at a time, pinned to one core. Outputs: runs/defaults/.
#   SEEDS="0 1 2 3 4" DATASETS="lorenz63 santafe" benchmarks/dsr/defaults.sh
#   python benchmarks/dsr/seeds_table.py runs/defaults/lorenz63-s* runs/defaults/santafe-s*
set -e
export PYTHONPATH=src XLA_FLAGS=--xla_cpu_multi_thread_eigen=false
PY=${PY:-python}
P="taskset -c 1 nice -n 5 $PY -m paratime.cli dsr"
mkdir -p runs/defaults
for data in ${DATASETS:-lorenz63 santafe}; do
  if [ $data = lorenz63 ]; then train=lorenz63; test=lorenz63-test
  else $PY benchmarks/dsr/santafe_data.py runs/defaults/santafe-data > /dev/null
       train=runs/defaults/santafe-data/train.npy; test=runs/defaults/santafe-data/test.npy; fi
  for seed in ${SEEDS:-0 1 2 3 4}; do
    out=runs/defaults/$data-s$seed
    rm -rf $out
    $P train --data $train --seed $seed --no-progress --out $out > $out.train.log 2>&1
    $P eval $out --data $test > $out.eval.log 2>&1 || true
  done
done
