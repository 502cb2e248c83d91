#!/usr/bin/env bash
# The GPU checks of the real-model path, as one script that fits one 10-minute call (about
# 6 minutes on one H200): the GPU tests, then rollout and training throughput of a
# Qwen2.5-1.5B-shaped random model.
#   bash benchmarks/gpu_check.sh 2>&1 | tee gpu_check.log
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
nproc
python3 -c "import torch, transformers, peft, accelerate; print('torch', torch.__version__, 'transformers', transformers.__version__, 'peft', peft.__version__, 'accelerate', accelerate.__version__)"
t0=$SECONDS
timeout 200 python3 -m pytest -q tests/gpu -p no:cacheprovider -rs --durations=8
echo "gpu tests: $((SECONDS - t0)) s"; t0=$SECONDS
# the fp32 batch-4 reference dominates this one's time: 64 prompts, 128 new tokens
timeout 260 python3 benchmarks/rollout_throughput.py --model llama-1.5b --device cuda \
    --prompts 64 --batch 64 --max-new-tokens 128 --repeats 3
echo "rollout benchmark: $((SECONDS - t0)) s"; t0=$SECONDS
timeout 120 python3 benchmarks/train_throughput.py --model llama-1.5b --device cuda \
    --modes full,full-nochunk,lora --steps 6 --batch 8 --micro-batch 8 --repeats 3 \
    --gradient-checkpointing
echo "training benchmark: $((SECONDS - t0)) s"
