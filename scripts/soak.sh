#!/usr/bin/env bash
# Soak: mixed traffic through 1 prefill + 1 decode + proxy for a bounded time, with clients that
# behave, clients that disconnect mid-request, clients that never read their answer and clients
# that send garbage. Every minute (INTERVAL) it prints, per process, RSS, threads and open files,
# the KV usage of both instances, and latency percentiles and status counts of the good requests.
#
#   scripts/soak.sh                      # 10 minutes on llama-tiny
#   DURATION=120 INTERVAL=30 scripts/soak.sh
#
# Knobs: MODEL (models/llama-tiny), DURATION seconds (600), INTERVAL seconds (60), CLIENTS per
# kind (4), BASE_PORT (18400). Exits non-zero if a good request got a 5xx or a process died.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
MODEL=${MODEL:-models/llama-tiny}
DURATION=${DURATION:-600}
INTERVAL=${INTERVAL:-60}
CLIENTS=${CLIENTS:-4}
B=${BASE_PORT:-18400}
OUT="$ROOT/target/soak"
mkdir -p "$OUT"
head -c 32 /dev/urandom | base64 > "$OUT/token"

PIDS=()
stop_all() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap stop_all EXIT INT TERM

./pdserve serve "$MODEL" --port $((B + 1)) --kv-cache-memory 64MiB --kv-transfer-config \
  "{\"kv_connector\":\"PdTcpConnector\",\"kv_role\":\"kv_producer\",\"kv_port\":$((B + 11)),\"kv_connector_extra_config\":{\"cluster_token_file\":\"$OUT/token\"}}" \
  > "$OUT/prefill.log" 2>&1 & PIDS+=($!)
./pdserve serve "$MODEL" --port $((B + 2)) --kv-cache-memory 64MiB --kv-transfer-config \
  "{\"kv_connector\":\"PdTcpConnector\",\"kv_role\":\"kv_consumer\",\"kv_connector_extra_config\":{\"cluster_token_file\":\"$OUT/token\"}}" \
  > "$OUT/decode.log" 2>&1 & PIDS+=($!)
./pdserve proxy --port $B --prefiller-ports $((B + 1)) --decoder-ports $((B + 2)) > "$OUT/proxy.log" 2>&1 & PIDS+=($!)

for port in $((B + 1)) $((B + 2)) $B; do
  for _ in $(seq 600); do curl -sf "http://127.0.0.1:$port/v1/models" > /dev/null && break; sleep 0.2; done
done

# Not exec: the EXIT trap must still stop the three processes.
python3 - "$B" "$DURATION" "$INTERVAL" "$CLIENTS" "${PIDS[@]}" <<'PY'
import json, os, random, socket, sys, threading, time, urllib.request

base, duration, interval, clients = (int(x) for x in sys.argv[1:5])
pids = dict(zip(["prefill", "decode", "proxy"], (int(p) for p in sys.argv[5:8])))
deadline = time.time() + duration
lock = threading.Lock()
lat, statuses, bad = [], {}, []

def body(stream=False):
    return json.dumps({"prompt": "soak test " * random.randint(1, 40), "max_tokens": random.randint(1, 24),
                       "temperature": random.choice([0, 0.7, 1.5]), "stream": stream}).encode()

def good():
    while time.time() < deadline:
        t0 = time.time()
        req = urllib.request.Request(f"http://127.0.0.1:{base}/v1/completions", data=body(random.random() < 0.5),
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                r.read(); code = r.status
        except urllib.error.HTTPError as e:
            code = e.code
        except Exception as e:
            code = "io:" + type(e).__name__
        with lock:
            statuses[code] = statuses.get(code, 0) + 1
            if code == 200: lat.append(time.time() - t0)
            elif not isinstance(code, int) or code >= 500: bad.append(code)

def raw(payload, read, hold):
    s = socket.create_connection(("127.0.0.1", base), timeout=30)
    try:
        s.sendall(payload)
        if hold: time.sleep(hold)
        if read: s.recv(65536)
    except OSError:
        pass
    finally:
        s.close()

def request(b):
    return b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(b), b)

def disconnecting():
    while time.time() < deadline: raw(request(body(random.random() < 0.5)), False, random.random())

def never_reading():
    while time.time() < deadline:
        b = json.dumps({"prompt": "x", "max_tokens": 200, "stream": True}).encode()
        raw(request(b), False, 2)

def garbage():
    junk = [b"\x16\x03\x01\x02\x00" + os.urandom(200), b"GARBAGE\r\n\r\n", request(b'{"prompt":"x"} trailing'),
            b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            request(b'{"prompt":"x","temperature":1e300}'), request(b'{"prompt":[[[1]]]}')]
    while time.time() < deadline: raw(random.choice(junk), True, 0)

def proc(pid):
    st = open(f"/proc/{pid}/status").read()
    rss = int(st.split("VmRSS:")[1].split()[0]) // 1024
    threads = int(st.split("Threads:")[1].split()[0])
    return rss, threads, len(os.listdir(f"/proc/{pid}/fd"))

def kv(port):
    for line in urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode().splitlines():
        if line.startswith("vllm:kv_cache_usage_perc"): return float(line.split()[-1])
    return float("nan")

def pct(xs, p):
    return sorted(xs)[min(len(xs) - 1, int(p * len(xs)))] * 1000 if xs else float("nan")

threads = [threading.Thread(target=f, daemon=True) for f in (good, disconnecting, never_reading, garbage) for _ in range(clients)]
for t in threads: t.start()
start = time.time()
print("| t (s) | " + " | ".join(f"{n} RSS MiB / threads / fds" for n in pids) + " | KV P / D | good p50 / p90 / p99 ms | statuses |")
print("|---|---|---|---|---|---|---|")
while True:
    time.sleep(max(0, min(interval, deadline - time.time() + 5)))
    with lock:
        xs, st = list(lat), dict(statuses); lat.clear()
    row = [f"{time.time() - start:.0f}"]
    for n, pid in pids.items():
        try: row.append("%d / %d / %d" % proc(pid))
        except OSError: row.append("DEAD"); bad.append(n + " died")
    row.append(f"{kv(base + 1):.3f} / {kv(base + 2):.3f}")
    row.append(f"{pct(xs, .5):.0f} / {pct(xs, .9):.0f} / {pct(xs, .99):.0f}")
    row.append(" ".join(f"{k}:{v}" for k, v in sorted(st.items(), key=str)))
    print("| " + " | ".join(row) + " |", flush=True)
    if time.time() >= deadline: break
for t in threads: t.join(timeout=130)
time.sleep(2)
print(f"after the load: KV P / D = {kv(base + 1):.3f} / {kv(base + 2):.3f}; 5xx or I/O failures of good requests: {len(bad)} {bad[:10]}")
sys.exit(1 if bad else 0)
PY
