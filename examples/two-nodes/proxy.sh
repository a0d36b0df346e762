#!/usr/bin/env bash
# Node B: the PD proxy clients talk to. It sends each request to prefill (node A), then decode (node B).
#   NODE_A=10.0.0.1 NODE_B=10.0.0.2 ./proxy.sh        # vLLM-style flags
#   CLUSTER=cluster.json ./proxy.sh                   # instance lists from cluster.json
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PDSERVE="$HERE/../../pdserve"

if [ -n "${CLUSTER:-}" ]; then
  exec "$PDSERVE" proxy --cluster "$CLUSTER"
fi

NODE_A="${NODE_A:-10.0.0.1}"
NODE_B="${NODE_B:-10.0.0.2}"
exec "$PDSERVE" proxy --host "$NODE_B" --port "${PROXY_PORT:-8000}" \
  --prefiller-hosts "$NODE_A" --prefiller-ports "${PREFILL_PORT:-8100}" \
  --decoder-hosts "$NODE_B" --decoder-ports "${DECODE_PORT:-8200}"
