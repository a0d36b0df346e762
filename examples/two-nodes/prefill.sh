#!/usr/bin/env bash
# Node A: the prefill instance (kv_producer). Run from anywhere on node A.
#   NODE_A=10.0.0.1 ./prefill.sh                     # vLLM-style flags
#   CLUSTER=cluster.json ./prefill.sh                 # everything from cluster.json
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PDSERVE="$HERE/../../pdserve"
MODEL="${MODEL:-$HERE/../../models/deepseek-v3-tiny}"

if [ -n "${CLUSTER:-}" ]; then
  # Role, host, ports, cores and --kv-transfer-config come from the file.
  exec "$PDSERVE" serve "$MODEL" --cluster "$CLUSTER" --instance prefill-0
fi

NODE_A="${NODE_A:-10.0.0.1}"          # this node's address, reachable from node B
PREFILL_PORT="${PREFILL_PORT:-8100}"
PREFILL_KV_PORT="${PREFILL_KV_PORT:-20001}"

exec "$PDSERVE" serve "$MODEL" \
  --host "$NODE_A" --port "$PREFILL_PORT" \
  --max-model-len 2048 --block-size 16 \
  --kv-transfer-config '{"kv_connector":"PdTcpConnector","kv_role":"kv_producer","kv_ip":"'"$NODE_A"'","kv_port":'"$PREFILL_KV_PORT"',"engine_id":"prefill-0"}'
