package dev.pdserve.proxy;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * Every {@code --health-interval}: {@code GET /health} on each instance (a failed probe takes it out of
 * the choice until a probe passes again) and {@code GET /metrics} for {@code vllm:kv_cache_usage_perc}.
 */
final class HealthMonitor implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger("dev.pdserve.proxy");

    private final InstancePool pool;
    private final Upstream upstream;
    private final Duration probeTimeout;
    private final Upstream.Forward fwd;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().daemon().name("proxy-health").factory());

    private final Loops loops;

    HealthMonitor(InstancePool pool, Upstream upstream, ProxyConfig config, Loops loops) {
        this.pool = pool;
        this.upstream = upstream;
        this.loops = loops;
        long intervalMs = config.healthInterval.toMillis();
        this.probeTimeout = Duration.ofMillis(Math.max(200, Math.min(intervalMs, 5000)));
        this.fwd = new Upstream.Forward(null, config.upstreamApiKey == null ? null : "Bearer " + config.upstreamApiKey, loops.id);
        if (intervalMs > 0) timer.scheduleWithFixedDelay(this::probeAll, 0, intervalMs, TimeUnit.MILLISECONDS);
    }

    /** Probes every instance in parallel and waits for all of them. */
    void probeAll() {
        List<Thread> probes = new ArrayList<>();
        for (InstanceType type : InstanceType.values())
            for (Instance i : pool.list(type)) probes.add(Thread.ofVirtual().start(() -> probe(i)));
        for (Thread t : probes) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    void probe(Instance i) {
        boolean ok;
        String why = null;
        try {
            HttpResponse<byte[]> r = upstream.get(i.address, "/health", fwd, probeTimeout);
            ok = r.statusCode() == 200;
            if (!ok) why = "/health answered HTTP " + r.statusCode();
            if (r.headers().firstValue(Loops.PROXY_ID).filter(loops.id::equals).isPresent()) {
                ok = false;
                why = "it is this proxy itself: requests would loop";
            }
            if (ok) {
                i.roleMismatch = roleMismatch(i);
                if (i.roleMismatch != null) {
                    ok = false;
                    why = i.roleMismatch;
                }
            }
        } catch (IOException e) {
            ok = false;
            why = "/health failed: " + PdHandler.describe(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        }
        // Losing an instance is a warning; finding one healthy is news, "again" only after it was lost.
        if (!ok && i.healthy) LOG.warning(i + " is unhealthy: " + why);
        if (ok && !i.healthy) LOG.info(i + (i.everHealthy ? " is healthy again" : " is healthy"));
        if (ok) i.everHealthy = true;
        i.lastError = ok ? null : why; // a passing probe makes an older error stale
        i.healthy = ok;
        if (ok) scrapeKvUsage(i);
    }

    /**
     * Whether the instance's role contradicts the one it is registered for, from pdserve's {@code kv_role}
     * in {@code /v1/models} (vLLM has none: then nothing is known and nothing is refused). A prefill
     * instance must produce KV; a decode instance must not be a pure producer.
     */
    String roleMismatch(Instance i) throws InterruptedException {
        HttpResponse<byte[]> r;
        try {
            r = upstream.get(i.address, "/v1/models", fwd, probeTimeout);
        } catch (IOException e) {
            return null; // /health answered: a slow /v1/models is no verdict
        }
        if (r.statusCode() != 200) return null;
        JsonNode model;
        try {
            model = ProxyJson.MAPPER.readTree(r.body()).path("data").path(0);
        } catch (IOException e) {
            return "/v1/models did not answer JSON: not an OpenAI-compatible server";
        }
        if (!model.has("kv_role")) return null;
        String role = model.get("kv_role").isNull() ? "none (colocated)" : model.get("kv_role").asText();
        boolean fits = i.type == InstanceType.PREFILL ? role.equals("kv_producer") || role.equals("kv_both") : !role.equals("kv_producer");
        return fits ? null : "role mismatch: registered as a " + i.type.label() + " instance but its kv_role is " + role;
    }

    private void scrapeKvUsage(Instance i) {
        try {
            HttpResponse<byte[]> r = upstream.get(i.address, "/metrics", fwd, probeTimeout);
            if (r.statusCode() != 200) return;
            double usage = kvCacheUsage(new String(r.body(), StandardCharsets.UTF_8));
            if (usage >= 0) i.kvCacheUsage = usage;
        } catch (IOException e) {
            // metrics are only a tie-breaker; health is what counts
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * The largest {@code vllm:kv_cache_usage_perc} sample in Prometheus text (older vLLM:
     * {@code vllm:gpu_cache_usage_perc}); -1 when there is none.
     */
    static double kvCacheUsage(String prometheusText) {
        double best = -1;
        for (String line : prometheusText.split("\n")) {
            if (!(line.startsWith("vllm:kv_cache_usage_perc") || line.startsWith("vllm:gpu_cache_usage_perc"))) continue;
            String rest = line.substring(line.indexOf("_perc") + 5);
            if (!rest.isEmpty() && rest.charAt(0) != '{' && rest.charAt(0) != ' ') continue;
            int close = rest.lastIndexOf('}');
            String[] parts = rest.substring(close + 1).trim().split("\\s+");
            try {
                best = Math.max(best, Double.parseDouble(parts[0]));
            } catch (NumberFormatException ignored) {
                // a malformed sample says nothing
            }
        }
        return best;
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}
