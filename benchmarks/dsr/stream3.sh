#!/bin/bash
# Third batch (after stream2.sh was cut short): Lorenz-63 through a random 40-D map with the
# bare defaults (3000 steps or a 15-minute wall-clock budget), then one Santa Fe arm with the GTF papers' real-data choices
# (clipped shPLRNN, constant α = 0.3, λ_lat = 1e-5). One job at a time, pinned to one core.
#   SRC=src OUT=runs/stream2 benchmarks/dsr/stream3.sh
export PYTHONPATH=${SRC:-src} XLA_FLAGS=--xla_cpu_multi_thread_eigen=false
PY=${PY:-python}
P="taskset -c 1 nice -n 10 $PY -m paratime.cli dsr"
OUT=${OUT:-runs/stream2}
timed() { local log=$1; shift; local start=$(date +%s); "$@" > $log 2>&1; echo "wall_s=$(( $(date +%s) - start ))" >> $log; }
$PY benchmarks/dsr/highdim_data.py $OUT/highdim-data 40 > /dev/null
out=$OUT/highdim40-s0; rm -rf $out
timed $out.train.log $P train --data $OUT/highdim-data/train.npy --seed 0 --steps 3000 --time-limit ${HLIMIT:-15m} --no-progress --out $out
$P eval $out --data $OUT/highdim-data/test.npy > $out.eval.log 2>&1
out=$OUT/santafe-clip-gtf03-s0; rm -rf $out
timed $out.train.log $P train --data $OUT/santafe-data/train.npy --seed 0 --model clipped-shplrnn \
  --gtf 0.3 --latent-regularization 1e-5 --time-limit ${SLIMIT:-20m} --no-progress --out $out
$P eval $out --data $OUT/santafe-data/test.npy > $out.eval.log 2>&1
