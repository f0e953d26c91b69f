#!/bin/bash
# Evidence runs for docs/dsr.md, round 2: 200 steps per sequence length, run concurrently.
set -x
export XLA_FLAGS=--xla_cpu_multi_thread_eigen=false
D="paratime dsr"  # run from a scratch folder; outputs go to runs2/
S=200
for L in 100000 10000 1000 200; do
  $D train --data lorenz63 --model shplrnn --latent 3 --hidden 50 --seq-len $L --gtf adaptive \
    --solver deer --steps $S --lr 3e-3 --out runs2/shplrnn-L$L --no-progress > runs2/train-L$L.log 2>&1 &
done
$D train --data lorenz63 --model lru --latent 32 --hidden 50 --seq-len 10000 --gtf 0 \
  --solver auto --steps $S --lr 3e-3 --out runs2/lru-L10000 --no-progress > runs2/train-lru.log 2>&1 &
wait
for r in runs2/shplrnn-L200 runs2/shplrnn-L1000 runs2/shplrnn-L10000 runs2/shplrnn-L100000 runs2/lru-L10000; do
  $D eval $r --data lorenz63-test > $r.eval.log 2>&1 &
done
# Wall time per step at the trained state: 10 more steps with each solver.
for L in 200 1000 10000 100000; do
  for s in deer sequential; do
    rm -rf runs2/time-$s-L$L; cp -r runs2/shplrnn-L$L runs2/time-$s-L$L
    $D train --data lorenz63 --model shplrnn --latent 3 --hidden 50 --seq-len $L --gtf adaptive \
      --solver $s --steps $((S+10)) --lr 3e-3 --out runs2/time-$s-L$L --resume --no-progress
  done
done
wait
echo DONE
