#!/usr/bin/env bash
# Runs vLLM's benchmark client against a server: scripts/vllm-bench/run.sh VLLM_SRC [vllm bench serve flags...]
# VLLM_SRC is a folder holding vllm/benchmarks/serve.py (a vLLM checkout); vLLM's code is never copied here.
# Needs Debian's python3-aiohttp python3-numpy python3-tqdm python3-regex (no pip, no torch, no transformers).
set -euo pipefail
if [ $# -lt 1 ] || [ ! -f "$1/vllm/benchmarks/serve.py" ]; then
    echo "usage: $0 VLLM_SRC [vllm bench serve flags...]   (VLLM_SRC/vllm/benchmarks/serve.py must exist)" >&2
    exit 2
fi
export VLLM_SRC="$(cd "$1" && pwd)"
shift
exec /usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/bench_serve.py" "$@"
