#!/usr/bin/env bash
# Multi-turn shared-prefix traffic: colocated vs PD (2 prefill + 2 decode) with --routing least-loaded
# vs --routing kv-aware, same workload (docs/benchmarks.md, section "KV-aware PD").
# Usage: scripts/bench-kvaware.sh [MODEL_DIR] [NUM_PROMPTS]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODEL="${1:-$ROOT/models/llama-tiny}"
N="${2:-48}"
OUT="${OUT:-$ROOT/target/bench-kvaware}"
mkdir -p "$OUT"
PD="$ROOT/pdserve"
TOKEN="$OUT/cluster-token"; echo "bench-kvaware" > "$TOKEN"
BENCH=(--tokenizer "$MODEL" --dataset-name multi-turn --num-prompts "$N" --multi-turn-turns 4
       --multi-turn-system-prompt-len 384 --multi-turn-user-len 32 --output-len 8 --request-rate "${RATE:-2}"
       --temperature 0 --seed 1 --percentile-metrics ttft,tpot --metric-percentiles 50,99)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

serve() { # name port role
  local kv=()
  [ "$3" != colocated ] && kv=(--kv-transfer-config "{\"kv_connector\":\"PdTcpConnector\",\"kv_role\":\"$3\",\"kv_port\":0,\"kv_connector_extra_config\":{\"cluster_token_file\":\"$TOKEN\"}}")
  "$PD" serve "$MODEL" --host 127.0.0.1 --port "$2" --served-model-name tiny --threads "${THREADS:-1}" \
    --max-model-len 1024 --kv-cache-memory 16MiB "${kv[@]}" > "$OUT/$1.log" 2>&1 &
  PIDS+=($!)
}
await() { for i in $(seq 600); do curl -sf "http://127.0.0.1:$1/health" >/dev/null && return; sleep 0.5; done; echo "port $1 never came up" >&2; exit 1; }
hits() { # port: prefix-cache hit rate of an instance
  curl -s "http://127.0.0.1:$1/metrics" | awk '/^vllm:prefix_cache_hits_total\{/{h+=$2} /^vllm:prefix_cache_queries_total\{/{q+=$2} END{printf "%.3f", q ? h/q : 0}'
}

echo "== colocated"
THREADS=2 serve colocated 18100 colocated; await 18100
"$PD" bench serve --port 18100 --label colocated "${BENCH[@]}" | tee "$OUT/colocated.txt"
echo "instance prefix-cache hit rate: $(hits 18100)" | tee -a "$OUT/colocated.txt"
cleanup; PIDS=()

for routing in least-loaded kv-aware; do
  echo "== PD 2P+2D --routing $routing"
  serve p0 18110 kv_producer; serve p1 18111 kv_producer; serve d0 18120 kv_consumer; serve d1 18121 kv_consumer
  for p in 18110 18111 18120 18121; do await $p; done
  extra=(--routing "$routing"); [ "$routing" = kv-aware ] && extra+=(--prefill-threshold 256)
  "$PD" proxy --host 127.0.0.1 --port 18130 --prefiller-hosts 127.0.0.1 127.0.0.1 --prefiller-ports 18110 18111 \
    --decoder-hosts 127.0.0.1 127.0.0.1 --decoder-ports 18120 18121 "${extra[@]}" > "$OUT/proxy-$routing.log" 2>&1 &
  PIDS+=($!)
  for i in $(seq 100); do curl -sf http://127.0.0.1:18130/health >/dev/null && break; sleep 0.3; done
  sleep 2 # let the proxy subscribe to every instance's KV events
  "$PD" bench serve --port 18130 --label "pd-$routing" "${BENCH[@]}" | tee "$OUT/pd-$routing.txt"
  curl -s http://127.0.0.1:18130/metrics | grep -E '^pdserve_proxy_(prefix|routing|pd_path)' | tee -a "$OUT/pd-$routing.txt"
  echo "prefill hit rates: $(hits 18110) $(hits 18111), decode: $(hits 18120) $(hits 18121)" | tee -a "$OUT/pd-$routing.txt"
  cleanup; PIDS=()
done
