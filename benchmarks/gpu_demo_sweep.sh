#!/usr/bin/env bash
# The demo's SFT stage of many configurations and seeds at once, on one GPU: each job is
# `tripost demo --methods sft` (data, [copying,] SFT, evaluation of the SFT model), all jobs in
# parallel (a tiny model leaves a GPU idle between kernel launches, so one process uses a
# fraction of it). It measures accuracy over seeds, which the 2-core development host needs
# hours for; the wall times it prints are the GPU's, not the demo's budget on a CPU.
#   OUT=runs/gpu_sweep LIMIT=420 bash benchmarks/gpu_demo_sweep.sh
# Writes $OUT/summary.txt (one line per job: seen / unseen accuracy, SFT seconds, wall) and
# $OUT/runs.tar.gz (each job's manifest, config, logs and evaluation metrics; no checkpoints).
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
OUT=${OUT:-runs/gpu_sweep}
LIMIT=${LIMIT:-420}   # seconds per job; a job past it is stopped and reported as such
WORK=${WORK:-/tmp/gpu_sweep}
mkdir -p "$OUT" "$WORK"
{
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
    echo "cpus: $(nproc); $(grep -m1 'model name' /proc/cpuinfo)"
    python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)"
    python3 -c "import torch; from tripost.hostspeed import describe, host_speed; torch.set_num_threads(2); print('cpu:', describe(host_speed())); print('gpu:', describe(host_speed('cuda')) if torch.cuda.is_available() else 'none')" 2>&1 | tail -2
} | tee "$OUT/summary.txt"

# name | task | demo arguments
JOBS=(
    "ar_split_s0|multistep_arithmetic|--seed 0 --set task_options.style=split"
    "ar_split_s1|multistep_arithmetic|--seed 1 --set task_options.style=split"
    "ar_split_s2|multistep_arithmetic|--seed 2 --set task_options.style=split"
    "ar_splitlg_s0|multistep_arithmetic|--seed 0 --set task_options.style=split --set sft.length_groups=16"
    "ar_splitlg_s1|multistep_arithmetic|--seed 1 --set task_options.style=split --set sft.length_groups=16"
    "ar_splitlg_s2|multistep_arithmetic|--seed 2 --set task_options.style=split --set sft.length_groups=16"
    "ar_ops_s0|multistep_arithmetic|--seed 0"
    "ar_ops_s1|multistep_arithmetic|--seed 1"
    "ar_ops_s2|multistep_arithmetic|--seed 2"
    "ld_s0|logical_deduction|--seed 0"
    "ld_s1|logical_deduction|--seed 1"
    "ld_s2|logical_deduction|--seed 2"
    "ld2200_s0|logical_deduction|--seed 0 --set sft.steps=2200"
    "ld2200_s1|logical_deduction|--seed 1 --set sft.steps=2200"
    "ld2200_s2|logical_deduction|--seed 2 --set sft.steps=2200"
    "ld1600_s0|logical_deduction|--seed 0 --set sft.steps=1600"
    "ld1600_s1|logical_deduction|--seed 1 --set sft.steps=1600"
    "ld1600_s2|logical_deduction|--seed 2 --set sft.steps=1600"
)
# JOBS_FILE: other jobs, one "name|task|arguments" line each
[ -n "${JOBS_FILE:-}" ] && mapfile -t JOBS <"$JOBS_FILE"
[ -n "${ONLY:-}" ] && JOBS=("${JOBS[@]:0:$ONLY}")

start=$SECONDS
for job in "${JOBS[@]}"; do
    IFS='|' read -r name task args <<<"$job"
    # shellcheck disable=SC2086
    (t0=$SECONDS; timeout "$LIMIT" python3 -m tripost demo -q --task "$task" --methods sft $args ${EXTRA:-} \
        --set model.device=${DEVICE:-cuda} --set model.threads=1 --output "$WORK/$name" \
        >"$WORK/$name.log" 2>&1; echo "$? $((SECONDS - t0))" >"$WORK/$name.rc") &
done
wait
echo "all jobs: $((SECONDS - start)) s" | tee -a "$OUT/summary.txt"

for job in "${JOBS[@]}"; do
    name=${job%%|*}
    python3 - "$WORK" "$name" <<'EOF' | tee -a "$OUT/summary.txt"
import json, sys
from pathlib import Path
work, name = Path(sys.argv[1]), sys.argv[2]
rc, wall = (work / f"{name}.rc").read_text().split()
try:
    stages = json.loads((work / name / "manifest.json").read_text())["stages"]
except (OSError, ValueError, KeyError):
    stages = {}
sft, ev = stages.get("sft", {}), stages.get("eval/sft", {})
pct = lambda x: "-" if x is None else f"{100 * x:.0f}%"
print(f"{name:16} rc {rc:>3}  wall {wall:>4} s  sft {sft.get('seconds', '-')} s "
      f"({sft.get('steps', '-')} steps, loss {sft.get('final_loss') or float('nan'):.3f})  "
      f"seen {pct(ev.get('seen_accuracy'))}  unseen {pct(ev.get('unseen_accuracy'))}")
EOF
done
(cd "$WORK" && tar czf - --exclude=checkpoints --exclude='*.png' --exclude='train.jsonl' \
    --exclude='*.html' ./*) >"$OUT/runs.tar.gz"
