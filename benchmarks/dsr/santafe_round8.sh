#!/bin/bash
# Rounds 8-10 on the Santa Fe laser: the model, the forcing, the selection score (round 8),
# what might keep the unclipped default model from overflowing (round 9: weight penalty,
# training noise, a small constant α) and the clipped model with aGTF capped (round 10);
# each run pinned to one core and scored on the test part (docs/dsr.md).
#   python benchmarks/dsr/santafe_data.py runs/santafe
#   SRC=src OUT=runs/sf8 [CORE=1] [CONFIGS="default clip03b"] [SEEDS="0 1 2"] benchmarks/dsr/santafe_round8.sh
#   python benchmarks/dsr/issue23_collect.py benchmarks/results/dsr-santafe-round8.json runs/sf8/*-s?
set -e
export PYTHONPATH=${SRC:-src} XLA_FLAGS=--xla_cpu_multi_thread_eigen=false
PY=${PY:-python}
P="taskset -c ${CORE:-1} nice -n 10 $PY -m paratime.cli dsr"
DATA=${DATA:-runs/santafe}
OUT=${OUT:-runs/sf8}
C="--model clipped-shplrnn"
declare -A FLAGS=(
  [default]=""
  [defaultb]="--select-on both"
  [sh03]="--gtf 0.3"
  [clipad]="$C"
  [clipadl]="$C --latent-regularization 1e-5"
  [clipadb]="$C --select-on both"
  [clip03]="$C --gtf 0.3 --latent-regularization 1e-5"
  [clip03n]="$C --gtf 0.3"
  [clip02]="$C --gtf 0.2 --latent-regularization 1e-5"
  [clip02b]="$C --gtf 0.2 --latent-regularization 1e-5 --select-on both"
  [clip03b]="$C --gtf 0.3 --latent-regularization 1e-5 --select-on both"
  [c03bp0]="$C --gtf 0.3 --latent-regularization 1e-5 --select-on both --patience 0 --steps 10000"
  [ecg20k]="--recipe gtf-ecg --steps 20000"
  # round 9
  [shl4]="--latent-regularization 1e-4"
  [shl4b]="--latent-regularization 1e-4 --select-on both"
  [shl3b]="--latent-regularization 1e-3 --select-on both"
  [sh03l4b]="--gtf 0.3 --latent-regularization 1e-4 --select-on both"
  [sh01]="--gtf 0.1"
  [sh015]="--gtf 0.15"
  [sh01b]="--gtf 0.1 --select-on both"
  [sh005]="--gtf 0.05"
  [n05]="--training-noise 0.05"
  [n10]="--training-noise 0.1"
  [n20]="--training-noise 0.2"
  [c01b]="$C --gtf 0.1 --select-on both"
  [c015b]="$C --gtf 0.15 --select-on both"
  [c01]="$C --gtf 0.1"
  [c03bn10]="$C --gtf 0.3 --latent-regularization 1e-5 --select-on both --training-noise 0.1"
  # round 10: the clipped model with aGTF capped (--alpha-max) and a longer budget
  [cab20k]="$C --select-on both --steps 20000"
  [cam3b20k]="$C --alpha-max 0.3 --select-on both --steps 20000"
  [cam3b]="$C --alpha-max 0.3 --select-on both"
)
mkdir -p $OUT
# The seeds of each row of the tables in docs/dsr.md differ (0-1 for most, 0-4 for clip02b,
# clip03b and c03bn10, 1 and 3 for c03bp0, 0 for sh005): pass them with SEEDS, one CONFIGS
# group at a time.
for name in ${CONFIGS:-default defaultb sh03 clipad clipadl clipadb clip03 clip03n clip02 clip02b clip03b c03bp0 ecg20k}; do
  for seed in ${SEEDS:-0 1 2}; do
    out=$OUT/$name-s$seed
    rm -rf $out
    start=$(date +%s)
    $P train --data $DATA/train.npy --seed $seed --no-progress --out $out ${FLAGS[$name]} \
      > $out.train.log 2>&1
    echo "wall_s=$(( $(date +%s) - start ))" >> $out.train.log
    $P eval $out --data $DATA/test.npy > $out.eval.log 2>&1 || true
  done
done
