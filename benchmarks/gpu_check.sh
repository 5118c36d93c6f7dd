#!/usr/bin/env bash
# The GPU path in one prepared run (issue 31, point 6): on a machine with a CUDA GPU, from the
# repository root, with rnnkit installed against a CUDA build of torch. Prints one table;
# exit 1 if a check failed, 2 if torch sees no GPU. See benchmarks/scripts/gpu_check.py.
set -euo pipefail
cd "$(dirname "$0")/.."
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
exec timeout 480 python benchmarks/scripts/gpu_check.py "$@"
