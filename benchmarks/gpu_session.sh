#!/usr/bin/env bash
# Every measurement that needs a GPU, in one command, for a maintainer with a CUDA machine:
#
#   ONESHOT_STEEL_DATA=/path/to/neu-cls bash benchmarks/gpu_session.sh OUT_DIR
#
# from the repository root, in the project's environment (`make install`, then
# `source .venv/bin/activate`). It writes into OUT_DIR (nothing else is touched):
#   gpu.txt               nvidia-smi and the torch build
#   benchmark/*.json      bench_training.py and bench_inference.py (ratios vs paper-style)
#   times.tsv             wall seconds and exit status of every step below (a failed step
#                         is recorded and the rest still run; the script then exits 1)
#   reproduce/            the paper preset over 3 seeds: results.md, results.json, checkpoints;
#                         oneshot/seed0 is the timed `train --preset paper` run (target < 60 s)
#   notebooks/            chapters 5-7 executed in full mode from empty checkpoints
#                         (target: the three under 10 minutes together)
# Then copy the figures into benchmarks/RESULTS.md and the chapter headers.
#
# CHECK=1 runs the same steps at smoke size on any device (about a minute and a half on 2 CPU
# cores): a test of this script, not a measurement. It executes chapter 5 only of the three
# (the loop runs one command per chapter; every chapter's smoke run is tested on its own).
set -euo pipefail
OUT=${1:?usage: [CHECK=1] [DEVICE=cuda] bash benchmarks/gpu_session.sh OUT_DIR}
DATA=${ONESHOT_STEEL_DATA:?set ONESHOT_STEEL_DATA to the NEU-CLS folder}
PY=${PYTHON:-python}
CHAPTERS=(ch05_training ch06_oneshot_evaluation ch07_baselines)
if [[ ${CHECK:-0} == 1 ]]; then
  DEVICE=${DEVICE:-cpu} PRESET=smoke MODE=smoke QUICK=(--quick) CHAPTERS=(ch05_training)
else
  DEVICE=${DEVICE:-cuda} PRESET=paper MODE=full QUICK=()
fi
# The image side reproduce uses for this preset, so that it reuses the timed run below.
SIZE=$("$PY" -c "from oneshot_steel.reproduce import IMAGE_SIZE; print(IMAGE_SIZE['$PRESET'])")
if [[ -e $OUT/times.tsv ]]; then
  echo "$OUT already holds a session (times.tsv); choose a new folder." >&2
  exit 2
fi
mkdir -p "$OUT/notebooks"
OUT=$(cd "$OUT" && pwd)
# Where reproduce trains seed 0 (the package's run layout), so that it reuses the timed run.
SEED0=$("$PY" -c "import sys; from oneshot_steel.runs import oneshot_run_dir; \
print(oneshot_run_dir(sys.argv[1], 0))" "$OUT/reproduce")
printf 'step\tseconds\texit\n' >"$OUT/times.tsv"

FAILED=0
timed() {  # timed NAME COMMAND...: run it, append its wall seconds and exit status to times.tsv
  # A failed step is recorded and the session goes on: a GPU lease is too short to lose the
  # steps after one that broke. The script's own exit status says whether any failed.
  local name=$1 start=$SECONDS status=0
  shift
  echo "== $name: $*"
  "$@" || status=$?
  printf '%s\t%s\t%s\n' "$name" $((SECONDS - start)) "$status" >>"$OUT/times.tsv"
  if ((status != 0)); then
    echo "== $name FAILED (exit $status); going on with the next step" >&2
    FAILED=1
  fi
}

{
  nvidia-smi || echo "(no nvidia-smi)"
  "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, \
'available', torch.cuda.is_available())"
} >"$OUT/gpu.txt" 2>&1

timed benchmark "$PY" -m oneshot_steel benchmark --device "$DEVICE" "${QUICK[@]}" \
  --data "$DATA" --out "$OUT/benchmark"
# The paper run, timed on its own (wall clock, start-up included); reproduce reuses it as seed 0.
timed train_paper_seed0 "$PY" -m oneshot_steel train --preset "$PRESET" --data "$DATA" \
  --image-size "$SIZE" --device "$DEVICE" --seed 0 --out "$SEED0" --no-progress
timed reproduce "$PY" -m oneshot_steel reproduce --preset "$PRESET" --seeds 0,1,2 \
  --data "$DATA" --device "$DEVICE" --out "$OUT/reproduce" --no-progress
# Chapters 5-7 from empty checkpoints, one after another, as a reader would run them.
for chapter in "${CHAPTERS[@]}"; do
  timed "$chapter" env ONESHOT_STEEL_MODE="$MODE" ONESHOT_STEEL_CHECKPOINTS="$OUT/checkpoints" \
    "$PY" -m papermill --no-progress-bar -k python3 \
    "book/$chapter.ipynb" "$OUT/notebooks/$chapter.ipynb"
done
column -t "$OUT/times.tsv"
echo "Done: $OUT"
exit "$FAILED"
