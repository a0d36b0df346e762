#!/usr/bin/env bash
# What disaggregation costs the first token: TTFT of one colocated instance against prefill + decode
# + proxy, for several prompt lengths, one request at a time (no queueing, so the difference is the
# proxy hop, the second HTTP request and the KV pull). Every instance gets the same thread count,
# so the prefill itself costs the same on both sides. Prints a markdown table.
#
#   scripts/bench-ttft.sh                                        # built-in deepseek-v3-tiny
#   MODEL=target/models/random-deepseek_v3-1b LENS="128 512 1024" PROMPTS=3 scripts/bench-ttft.sh
#
# Knobs: MODEL, LENS ("128 512 1016": the tiny models hold 1024 positions), OUTPUT (2 tokens),
# PROMPTS (10 per length), WARMUPS (2), THREADS (all cores), BASE_PORT (18300).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
MODEL=${MODEL:-models/deepseek-v3-tiny}
LENS=${LENS:-128 512 1016}
OUTPUT=${OUTPUT:-2}
PROMPTS=${PROMPTS:-10}
WARMUPS=${WARMUPS:-2}
THREADS=${THREADS:-$(nproc)}
P=${BASE_PORT:-18300}
OUT="$ROOT/target/bench/ttft"
mkdir -p "$OUT"
rm -f "$OUT"/*.json

PIDS=()
stop_all() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; PIDS=(); }
trap stop_all EXIT INT TERM

wait_ready() { # port, log: /v1/models answers once a server (or the proxy, through a healthy instance) can serve
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$1/v1/models" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "instance on port $1 did not start; see $2" >&2; exit 1
}

serve() { # name, port, extra args...
  local name=$1 port=$2; shift 2
  ./pdserve serve "$MODEL" --host 127.0.0.1 --port "$port" --threads "$THREADS" --no-enable-prefix-caching \
    --max-model-len 2048 "$@" > "$OUT/$name.log" 2>&1 &
  PIDS+=($!)
}

bench() { # side, port
  for len in $LENS; do
    echo "== $1, prompt $len" >&2
    ./pdserve bench serve --base-url "http://127.0.0.1:$2" --tokenizer "$MODEL" --dataset-name random \
      --random-input-len "$len" --random-output-len "$OUTPUT" --ignore-eos --num-prompts "$PROMPTS" \
      --num-warmups "$WARMUPS" --max-concurrency 1 --seed 7 --percentile-metrics ttft,e2el --metric-percentiles 50,99 \
      --save-result --result-dir "$OUT" --result-filename "$1-$len.json" > "$OUT/$1-$len.txt" 2>&1 \
      || { echo "bench failed:" >&2; tail -20 "$OUT/$1-$len.txt" >&2; exit 1; }
  done
}

./pdserve --version >/dev/null # builds the jar once, before any timing

serve colocated "$P"
wait_ready "$P" "$OUT/colocated.log"
bench colocated "$P"
stop_all

KV='{"kv_connector":"PdTcpConnector","kv_ip":"127.0.0.1","kv_port":'$((P + 10))',"kv_connector_extra_config":{"cluster_token":"bench"}'
serve prefill $((P + 1)) --kv-transfer-config "${KV},\"kv_role\":\"kv_producer\",\"engine_id\":\"p0\"}"
serve decode $((P + 2)) --kv-transfer-config "${KV},\"kv_role\":\"kv_consumer\",\"engine_id\":\"d0\"}"
./pdserve proxy --host 127.0.0.1 --port "$P" --prefiller-hosts 127.0.0.1 --prefiller-ports $((P + 1)) \
  --decoder-hosts 127.0.0.1 --decoder-ports $((P + 2)) > "$OUT/proxy.log" 2>&1 &
PIDS+=($!)
wait_ready $((P + 1)) "$OUT/prefill.log"
wait_ready $((P + 2)) "$OUT/decode.log"
wait_ready "$P" "$OUT/proxy.log"
bench disaggregated "$P"
stop_all

j() { python3 -c "import json,sys; print('%.1f' % json.load(open(sys.argv[1]))[sys.argv[2]])" "$OUT/$1.json" "$2"; }
echo
echo "Model \`$MODEL\`, $PROMPTS prompts per length at concurrency 1, $OUTPUT output tokens, $THREADS threads per instance, load average $(cut -d' ' -f1-3 /proc/loadavg)."
echo
echo "| prompt tokens | colocated TTFT median ms | disaggregated TTFT median ms | difference ms | difference % | colocated P99 | disaggregated P99 |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
for len in $LENS; do
  c=$(j "colocated-$len" median_ttft_ms); d=$(j "disaggregated-$len" median_ttft_ms)
  echo "| $len | $c | $d | $(awk "BEGIN{printf \"%.1f\", $d-$c}") | $(awk "BEGIN{printf \"%.1f%%\", 100*($d-$c)/$c}") | $(j "colocated-$len" p99_ttft_ms) | $(j "disaggregated-$len" p99_ttft_ms) |"
done
