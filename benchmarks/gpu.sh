#!/usr/bin/env bash
# The GPU measurements of the real-time chapter (09), in one run of under 8 minutes on one GPU:
#   bash benchmarks/gpu.sh [OUT_DIR]
# needs only PyTorch (with CUDA), numpy and opencv on the machine; prints a table and writes gpu_full.json.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-outputs}"
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" python3 benchmarks/bench_gpu.py --profile full --seconds 10 \
    --out "$out/gpu_full.json"
PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" python3 benchmarks/bench_gpu.py --profile small --seconds 10 \
    --no-compile --out "$out/gpu_small.json"
