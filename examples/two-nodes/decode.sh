#!/usr/bin/env bash
# Node B: the decode instance (kv_consumer). It pulls each prompt's KV blocks from node A.
#   NODE_B=10.0.0.2 ./decode.sh                       # vLLM-style flags
#   CLUSTER=cluster.json ./decode.sh                  # everything from cluster.json
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PDSERVE="$HERE/../../pdserve"
MODEL="${MODEL:-$HERE/../../models/deepseek-v3-tiny}"

if [ -n "${CLUSTER:-}" ]; then
  exec "$PDSERVE" serve "$MODEL" --cluster "$CLUSTER" --instance decode-0
fi

NODE_B="${NODE_B:-10.0.0.2}"
DECODE_PORT="${DECODE_PORT:-8200}"
DECODE_KV_PORT="${DECODE_KV_PORT:-20002}"

# Same --max-model-len and --block-size as prefill: the KV handshake refuses a mismatch.
exec "$PDSERVE" serve "$MODEL" \
  --host "$NODE_B" --port "$DECODE_PORT" \
  --max-model-len 2048 --block-size 16 \
  --kv-transfer-config '{"kv_connector":"PdTcpConnector","kv_role":"kv_consumer","kv_ip":"'"$NODE_B"'","kv_port":'"$DECODE_KV_PORT"',"engine_id":"decode-0"}'
