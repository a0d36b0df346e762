package dev.pdserve.proxy;

import dev.pdserve.http.HttpEdge;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongSupplier;

/**
 * Everything the proxy is started with. Defaults follow vllm-ascend's load-balance proxy where it has
 * the flag. The instance lists are built in one place ({@link #prefillers}/{@link #decoders}), which
 * {@code --cluster cluster.json} fills too.
 */
public final class ProxyConfig {
    String host = "127.0.0.1";
    int port = 8000;
    List<InstanceAddress> prefillers = new ArrayList<>();
    List<InstanceAddress> decoders = new ArrayList<>();
    int maxRetries = 3;
    Duration retryDelay = Duration.ofMillis(1);
    String adminApiKey;
    Duration healthInterval = Duration.ofSeconds(5);
    Duration requestTimeout = Duration.ofSeconds(600);
    Duration connectTimeout = Duration.ofSeconds(5);
    int breakerFailures = 5;
    Duration breakerCooldown = Duration.ofSeconds(10);
    /** The largest request body taken (413 beyond): the server's limit, so a request the proxy takes a server takes too. */
    long maxBodyBytes = HttpEdge.MAX_BODY_BYTES;
    /** The connection cap and idle timeout, as the server's. */
    HttpEdge.Connections connections = HttpEdge.Connections.defaults();
    /** Sent as {@code Authorization: Bearer} when the client sent none (vllm-ascend reads OPENAI_API_KEY). */
    String upstreamApiKey;
    /**
     * Prompt tokens not cached on a decode instance up to which it prefills them itself. 0 by default:
     * disaggregate unless the decode instance already holds the whole prompt, so vllm-ascend's command
     * lines keep their PD meaning; a larger value (256 in docs/benchmarks.md section 9) is not yet
     * measured on a quiet machine.
     */
    public static final int DEFAULT_PREFILL_THRESHOLD = 0;
    Router.Policy routing = Router.Policy.KV_AWARE;
    int prefillThreshold = DEFAULT_PREFILL_THRESHOLD;
    /** What circuit breakers time their cool-down by; tests move it by hand. */
    LongSupplier nanoClock = System::nanoTime;

    public ProxyConfig host(String v) { host = v; return this; }
    public ProxyConfig port(int v) { port = v; return this; }
    public ProxyConfig prefillers(List<InstanceAddress> v) { prefillers = new ArrayList<>(v); return this; }
    public ProxyConfig decoders(List<InstanceAddress> v) { decoders = new ArrayList<>(v); return this; }
    public ProxyConfig maxRetries(int v) { maxRetries = Math.max(0, v); return this; }
    public ProxyConfig retryDelay(Duration v) { retryDelay = v; return this; }
    public ProxyConfig adminApiKey(String v) { adminApiKey = v == null || v.isEmpty() ? null : v; return this; }
    /** Zero turns the periodic /health and /metrics probes off. */
    public ProxyConfig healthInterval(Duration v) { healthInterval = v; return this; }
    public ProxyConfig requestTimeout(Duration v) { requestTimeout = v; return this; }
    public ProxyConfig connectTimeout(Duration v) { connectTimeout = v; return this; }
    public ProxyConfig breakerFailures(int v) { breakerFailures = Math.max(1, v); return this; }
    public ProxyConfig breakerCooldown(Duration v) { breakerCooldown = v; return this; }
    public ProxyConfig maxBodyBytes(long v) { maxBodyBytes = v; return this; }
    public ProxyConfig connections(HttpEdge.Connections v) { connections = v; return this; }
    public ProxyConfig upstreamApiKey(String v) { upstreamApiKey = v == null || v.isEmpty() ? null : v; return this; }
    /** {@code least-loaded}, {@code round-robin} or {@code kv-aware}; IllegalArgumentException otherwise. */
    public ProxyConfig routing(String v) { routing = Router.Policy.parse(v); return this; }
    public ProxyConfig prefillThreshold(int v) {
        if (v < 0) throw new IllegalArgumentException("--prefill-threshold cannot be negative, got " + v);
        prefillThreshold = v;
        return this;
    }
    ProxyConfig nanoClock(LongSupplier v) { nanoClock = v; return this; }

    public String host() { return host; }
    public int port() { return port; }
    public List<InstanceAddress> prefillers() { return List.copyOf(prefillers); }
    public List<InstanceAddress> decoders() { return List.copyOf(decoders); }
    public int maxRetries() { return maxRetries; }
    public Duration retryDelay() { return retryDelay; }
    public String adminApiKey() { return adminApiKey; }
    public Duration healthInterval() { return healthInterval; }
    public Duration requestTimeout() { return requestTimeout; }
    public int breakerFailures() { return breakerFailures; }
    public Duration breakerCooldown() { return breakerCooldown; }
    public long maxBodyBytes() { return maxBodyBytes; }
    public String routing() { return routing.label(); }
    public int prefillThreshold() { return prefillThreshold; }

    /** Converts a flag given in (fractional) seconds, as vLLM's flags are. */
    public static Duration seconds(double s) {
        if (s < 0 || Double.isNaN(s)) throw new IllegalArgumentException("a duration cannot be negative: " + s);
        return Duration.ofNanos(Math.round(s * 1e9));
    }
}
