#!/usr/bin/env bash
# The GPU checks of the real-model path, as one script (about 10 minutes on one GPU):
# the GPU tests, then rollout and training throughput of a Qwen2.5-1.5B-shaped random model.
#   bash benchmarks/gpu_check.sh 2>&1 | tee gpu_check.log
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src:$PWD${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python -c "import torch, transformers, peft, accelerate; print('torch', torch.__version__, 'transformers', transformers.__version__, 'peft', peft.__version__, 'accelerate', accelerate.__version__)"
timeout 240 python -m pytest -q tests/gpu -p no:cacheprovider
timeout 200 python benchmarks/rollout_throughput.py --model llama-1.5b --device cuda \
    --prompts 128 --batch 64 --max-new-tokens 256 --repeats 2
timeout 200 python benchmarks/train_throughput.py --model llama-1.5b --device cuda \
    --modes full,full-nochunk,lora --steps 6 --batch 8 --micro-batch 8 --repeats 2 \
    --gradient-checkpointing
