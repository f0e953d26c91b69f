#!/bin/bash
# Evidence runs for docs/dsr.md, round 3 (issue #4): shPLRNN (M = 3, H = 200) + aGTF on the
# Lorenz-63 benchmark, the same number of gradient steps S for every sequence length L.
# Run from the repository root; every job is pinned to core 1, one at a time.
# Outputs: runs/dsr3/ (git-ignored).
set -x
export PYTHONPATH=src XLA_FLAGS=--xla_cpu_multi_thread_eigen=false
P="taskset -c 1 nice -n 5 .venv/bin/paratime dsr"
S=${S:-1500}
mkdir -p runs/dsr3
train() {  # name, then extra options
  local name=$1; shift
  $P train --data lorenz63 --model shplrnn --latent 3 --hidden 200 --gtf adaptive \
    --solver sequential --lr 1e-3 --steps $S --no-progress --out runs/dsr3/$name "$@" \
    > runs/dsr3/$name.train.log 2>&1
  $P eval runs/dsr3/$name --data lorenz63-test > runs/dsr3/$name.eval.log 2>&1
}
for seed in 0 1 2; do train L200-B1-s$seed --seq-len 200 --batch-size 1 --seed $seed; done
for seed in 0 1 2; do train L1000-B1-s$seed --seq-len 1000 --batch-size 1 --seed $seed; done
train L200-B16-s0 --seq-len 200 --batch-size 16 --seed 0
train L1000-B16-s0 --seq-len 1000 --batch-size 16 --seed 0
train L10000-B1-s0 --seq-len 10000 --batch-size 1 --seed 0
train L100000-B1-s0 --seq-len 100000 --batch-size 1 --seed 0
train L10000-B1-s1 --seq-len 10000 --batch-size 1 --seed 1  # if time permits
echo DONE
