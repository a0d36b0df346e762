#!/usr/bin/env bash
# Batch-1 decode and prefill speed of pdserve and Jlama 0.8.4 on one random-weight Llama checkpoint,
# next to this machine's memory bandwidth and the decode roofline it implies. Prints a markdown table.
#
#   scripts/bench-decode.sh                      # 1B Llama (2.2 GB bf16), generated once into target/models/
#   MODEL_DIR=models/llama-tiny scripts/bench-decode.sh
#
# Knobs (environment): MODEL_DIR, ARCH (llama), PRESET (1b), PROMPT_TOKENS (256), DECODE_TOKENS (32),
# WARMUP_TOKENS (8), THREADS ("1 <all cores>": one row per engine and thread count), PROBE_MIB (1024), PROBE_SECONDS (4), ENGINES ("pdserve jlama").
# Keep runs short on a shared machine: each engine runs one prefill and DECODE_TOKENS steps.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/scripts/find-jdk.sh"
cd "$ROOT"

ARCH=${ARCH:-llama}
PRESET=${PRESET:-1b}
MODEL_DIR=${MODEL_DIR:-$ROOT/target/models/random-$ARCH-$PRESET}
PROMPT_TOKENS=${PROMPT_TOKENS:-256}
DECODE_TOKENS=${DECODE_TOKENS:-32}
WARMUP_TOKENS=${WARMUP_TOKENS:-8}
THREADS=${THREADS:-$( [ "$(nproc)" -gt 1 ] && echo "1 $(nproc)" || echo 1)}
PROBE_MIB=${PROBE_MIB:-1024}
PROBE_SECONDS=${PROBE_SECONDS:-4}
ENGINES=${ENGINES:-pdserve jlama}
OUT="$ROOT/target/jmh/results"
mkdir -p "$OUT"

echo "== building the jmh profile (src/jmh into target/jmh)" >&2
./mvnw -B -q -Pjmh -DskipTests compile dependency:build-classpath \
  -Dmdep.outputFile="$ROOT/target/jmh/classpath.txt" -Dmdep.includeScope=runtime >&2
CP="$ROOT/target/jmh/classes:$(cat "$ROOT/target/jmh/classpath.txt")"
JAVA=("$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -XX:+UseParallelGC -cp "$CP")

if [ ! -f "$MODEL_DIR/config.json" ]; then
  echo "== generating $ARCH $PRESET into $MODEL_DIR" >&2
  PDSERVE_HOME="$ROOT" "${JAVA[@]}" dev.pdserve.cli.Main random-model --arch "$ARCH" --preset "$PRESET" --out "$MODEL_DIR" --seed 0 2>&1 \
    | grep -v '^WARNING' | tee "$OUT/generate.txt" >&2
fi

echo "== memory bandwidth" >&2
"${JAVA[@]}" dev.pdserve.jmh.BandwidthProbe --size-mib "$PROBE_MIB" --seconds "$PROBE_SECONDS" --model "$MODEL_DIR" 2>&1 \
  | grep -v '^WARNING' | tee "$OUT/bandwidth.txt" >&2

ARGS=(--model "$MODEL_DIR" --prompt-tokens "$PROMPT_TOKENS" --decode-tokens "$DECODE_TOKENS" --warmup-tokens "$WARMUP_TOKENS")
for engine in $ENGINES; do
  case $engine in
    pdserve) main=dev.pdserve.jmh.PdserveDecodeBench ;;
    jlama) main=dev.pdserve.jmh.JlamaDecodeBench ;;
    *) echo "unknown engine $engine (pdserve, jlama)" >&2; exit 2 ;;
  esac
  for t in $THREADS; do
    echo "== $engine, $t thread(s)" >&2
    if ! "${JAVA[@]}" "$main" "${ARGS[@]}" --threads "$t" > "$OUT/$engine-t$t.txt" 2> "$OUT/$engine-t$t.err"; then
      echo "$engine failed:" >&2; grep -v '^WARNING' "$OUT/$engine-t$t.err" | tail -20 >&2
    fi
    cat "$OUT/$engine-t$t.txt" >&2
  done
done

val() { sed -n "s/^$2=//p" "$OUT/$1.txt" 2>/dev/null | head -1; }
roof=$(val bandwidth decode_roofline_tok_s)
echo
echo "Model: \`$MODEL_DIR\` ($(val bandwidth weights_gb) GB of weights), prompt $PROMPT_TOKENS tokens, $DECODE_TOKENS greedy decode tokens, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)."
echo "Memory bandwidth: $(val bandwidth bandwidth_1t_gbps) GB/s (1 thread), $(val bandwidth bandwidth_2t_gbps) GB/s (2 threads);" \
     "batch-1 decode roofline $roof tok/s ($(val bandwidth decode_bytes_per_token_gb) GB of weights read per token)."
echo
echo "| engine | threads | load s | prefill tok/s | decode tok/s | decode ms/token | % of roofline | first greedy tokens |"
echo "|---|---:|---:|---:|---:|---:|---:|---|"
for engine in $ENGINES; do
  for t in $THREADS; do
    f="$engine-t$t"
    d=$(val "$f" decode_tok_s)
    pct=""
    if [ -n "$d" ] && [ -n "$roof" ]; then pct=$(awk "BEGIN{printf \"%.0f%%\", 100*$d/$roof}"); fi
    echo "| $engine | $t | $(val "$f" load_s) | $(val "$f" prefill_tok_s) | ${d:-failed} | $(val "$f" decode_ms_per_token) | $pct | $(val "$f" greedy_tokens) |"
  done
done
