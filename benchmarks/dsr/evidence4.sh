#!/bin/bash
# Evidence runs for docs/dsr.md, round 4 (issue #4): shPLRNN (M = 3, H = 200) + aGTF starting
# at α ≥ 0.1 on the Lorenz-63 benchmark, the same number of gradient steps S for every
# sequence length L (batch size 1), plus batch-16 references. Sequential solver (the same
# recurrence and exact gradient as DEER; faster on one CPU core).
# Run from the repository root; every job is pinned to core 1, one at a time.
# Outputs: runs/dsr4/ (git-ignored); collect with benchmarks/dsr/collect3.py runs/dsr4.
set -x
export PYTHONPATH=src XLA_FLAGS=--xla_cpu_multi_thread_eigen=false
P="taskset -c 1 nice -n 5 .venv/bin/paratime dsr"
S=${S:-1000}
mkdir -p runs/dsr4
train() {  # name, then extra options
  local name=$1; shift
  $P train --data lorenz63 --model shplrnn --latent 3 --hidden 200 --gtf adaptive \
    --alpha0 0.1 --solver sequential --lr 1e-3 --steps $S --no-progress \
    --out runs/dsr4/$name "$@" > runs/dsr4/$name.train.log 2>&1
  $P eval runs/dsr4/$name --data lorenz63-test > runs/dsr4/$name.eval.log 2>&1
}
train L200-B1-s1 --seq-len 200 --batch-size 1 --seed 1
train L100000-B1-s0 --seq-len 100000 --batch-size 1 --seed 0
train L10000-B1-s0 --seq-len 10000 --batch-size 1 --seed 0
train L200-B1-s0 --seq-len 200 --batch-size 1 --seed 0
train L200-B1-s2 --seq-len 200 --batch-size 1 --seed 2
for seed in 0 1 2; do train L1000-B1-s$seed --seq-len 1000 --batch-size 1 --seed $seed; done
train L200-B16-s0 --seq-len 200 --batch-size 16 --seed 0
train L10000-B1-s1 --seq-len 10000 --batch-size 1 --seed 1
echo DONE
