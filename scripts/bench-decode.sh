#!/usr/bin/env bash
# Batch-1 decode and prefill speed of pdserve and Jlama 0.8.4 on one random-weight Llama checkpoint,
# next to this machine's memory bandwidth and the decode roofline it implies. Prints a markdown table.
#
#   scripts/bench-decode.sh                      # 1B Llama (2.2 GB bf16), generated once into target/bench/
#   MODEL_DIR=models/llama-tiny scripts/bench-decode.sh
#
# Knobs (environment): MODEL_DIR, ARCH (llama), PRESET (1b), PROMPT_TOKENS (256), DECODE_TOKENS (32),
# WARMUP_TOKENS (8), THREADS (all cores), PROBE_MIB (1024), PROBE_SECONDS (4), ENGINES ("pdserve jlama").
# Keep runs short on a shared machine: each engine runs one prefill and DECODE_TOKENS steps.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/scripts/find-jdk.sh"
cd "$ROOT"

ARCH=${ARCH:-llama}
PRESET=${PRESET:-1b}
MODEL_DIR=${MODEL_DIR:-$ROOT/target/bench/random-$ARCH-$PRESET}
PROMPT_TOKENS=${PROMPT_TOKENS:-256}
DECODE_TOKENS=${DECODE_TOKENS:-32}
WARMUP_TOKENS=${WARMUP_TOKENS:-8}
THREADS=${THREADS:-$(nproc)}
PROBE_MIB=${PROBE_MIB:-1024}
PROBE_SECONDS=${PROBE_SECONDS:-4}
ENGINES=${ENGINES:-pdserve jlama}
OUT="$ROOT/target/bench/results"
mkdir -p "$OUT"

echo "== building the bench profile (target/bench)" >&2
./mvnw -B -q -Pbench -DskipTests compile dependency:build-classpath \
  -Dmdep.outputFile="$ROOT/target/bench/classpath.txt" -Dmdep.includeScope=runtime >&2
CP="$ROOT/target/bench/classes:$(cat "$ROOT/target/bench/classpath.txt")"
JAVA=("$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -XX:+UseParallelGC -cp "$CP")

if [ ! -f "$MODEL_DIR/config.json" ]; then
  echo "== generating $ARCH $PRESET into $MODEL_DIR" >&2
  PDSERVE_HOME="$ROOT" "${JAVA[@]}" dev.pdserve.cli.Main random-model --arch "$ARCH" --preset "$PRESET" --out "$MODEL_DIR" --seed 0 2>&1 \
    | grep -v '^WARNING' | tee "$OUT/generate.txt" >&2
fi

echo "== memory bandwidth" >&2
"${JAVA[@]}" dev.pdserve.benchmarks.BandwidthProbe --size-mib "$PROBE_MIB" --seconds "$PROBE_SECONDS" --model "$MODEL_DIR" 2>&1 \
  | grep -v '^WARNING' | tee "$OUT/bandwidth.txt" >&2

ARGS=(--model "$MODEL_DIR" --prompt-tokens "$PROMPT_TOKENS" --decode-tokens "$DECODE_TOKENS" --warmup-tokens "$WARMUP_TOKENS" --threads "$THREADS")
for engine in $ENGINES; do
  echo "== $engine" >&2
  case $engine in
    pdserve) main=dev.pdserve.benchmarks.PdserveDecodeBench ;;
    jlama) main=dev.pdserve.benchmarks.JlamaDecodeBench ;;
    *) echo "unknown engine $engine (pdserve, jlama)" >&2; exit 2 ;;
  esac
  if ! "${JAVA[@]}" "$main" "${ARGS[@]}" > "$OUT/$engine.txt" 2> "$OUT/$engine.err"; then
    echo "$engine failed:" >&2; tail -20 "$OUT/$engine.err" >&2
  fi
  cat "$OUT/$engine.txt" >&2
done

val() { sed -n "s/^$2=//p" "$OUT/$1.txt" 2>/dev/null | head -1; }
echo
echo "Model: \`$MODEL_DIR\` ($(val bandwidth weights_gb) GB of weights), $THREADS threads, prompt $PROMPT_TOKENS tokens, $DECODE_TOKENS greedy decode tokens."
echo "Memory bandwidth: $(val bandwidth bandwidth_1t_gbps) GB/s (1 thread), $(val bandwidth bandwidth_2t_gbps) GB/s (2 threads);" \
     "decode roofline $(val bandwidth decode_roofline_tok_s) tok/s ($(val bandwidth decode_bytes_per_token_gb) GB read per token)."
echo
echo "| engine | load s | prefill tok/s | decode tok/s | decode ms/token | % of roofline | first greedy tokens |"
echo "|---|---:|---:|---:|---:|---:|---|"
roof=$(val bandwidth decode_roofline_tok_s)
for engine in $ENGINES; do
  d=$(val "$engine" decode_tok_s)
  pct=$( [ -n "$d" ] && [ -n "$roof" ] && awk "BEGIN{printf \"%.0f%%\", 100*$d/$roof}" || echo "")
  echo "| $engine | $(val "$engine" load_s) | $(val "$engine" prefill_tok_s) | ${d:-failed} | $(val "$engine" decode_ms_per_token) | $pct | $(val "$engine" greedy_tokens) |"
done
