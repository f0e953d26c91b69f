#!/bin/bash
# The reconstruction recipe (the `paratime dsr train` defaults) on Lorenz-63, several seeds.
# Run from the repository root; pinned to core 1, one job at a time. Outputs: runs/dsr4/.
export PYTHONPATH=src XLA_FLAGS=--xla_cpu_multi_thread_eigen=false
P="taskset -c 1 nice -n 5 .venv/bin/paratime dsr"
for seed in ${SEEDS:-0 1 2}; do
  out=runs/dsr4/recipe-L200-B16-s$seed
  $P train --data lorenz63 --model shplrnn --latent 3 --hidden 200 --seq-len 200 \
    --batch-size 16 --gtf adaptive --alpha0 0.1 --solver sequential --lr 1e-3 --steps 3000 \
    --seed $seed --no-progress --out $out > $out.train.log 2>&1
  $P eval $out --data lorenz63-test > $out.eval.log 2>&1
done
