package dev.pdserve.proxy;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The proxy's own /metrics (Prometheus text): {@code pdserve_proxy_requests_total{outcome}},
 * {@code pdserve_proxy_retries_total{role}}, {@code pdserve_proxy_upstream_latency_seconds{role}} and
 * per-instance gauges {@code pdserve_proxy_instance_*{role,instance}}; routing:
 * {@code pdserve_proxy_prefix_hit_blocks_total}, {@code pdserve_proxy_prefix_queried_blocks_total},
 * {@code pdserve_proxy_routing_decisions_total{role,reason}}, {@code pdserve_proxy_pd_path_total{path}}.
 */
final class ProxyMetrics {
    /** How a client request ended. */
    enum Outcome { SUCCESS, CLIENT_ERROR, BAD_REQUEST, NO_INSTANCE, UPSTREAM_ERROR, CLIENT_DISCONNECT }

    final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Map<Outcome, Counter> requests = new java.util.EnumMap<>(Outcome.class);
    private final Map<InstanceType, Counter> retries = new java.util.EnumMap<>(InstanceType.class);
    private final Map<InstanceType, Timer> latency = new java.util.EnumMap<>(InstanceType.class);
    private final Map<Instance, List<Meter>> instanceMeters = new ConcurrentHashMap<>();

    private final Counter prefixHitBlocks = Counter.builder("pdserve.proxy.prefix.hit.blocks")
            .description("Prompt blocks the chosen instance already held (kv-aware routing)").register(registry);
    private final Counter prefixQueriedBlocks = Counter.builder("pdserve.proxy.prefix.queried.blocks")
            .description("Full prompt blocks hashed and looked up (kv-aware routing)").register(registry);
    private final Map<String, Counter> decisions = new ConcurrentHashMap<>();
    private final Map<String, Counter> paths = new ConcurrentHashMap<>();

    ProxyMetrics() {
        for (Outcome o : Outcome.values())
            requests.put(o, Counter.builder("pdserve.proxy.requests").description("Client requests by outcome")
                    .tag("outcome", o.name().toLowerCase(java.util.Locale.ROOT)).register(registry));
        for (InstanceType r : InstanceType.values()) {
            retries.put(r, Counter.builder("pdserve.proxy.retries").description("Upstream attempts after the first")
                    .tag("role", r.label()).register(registry));
            latency.put(r, Timer.builder("pdserve.proxy.upstream.latency")
                    .description("Prefill: whole response; decode: until its first byte")
                    .tag("role", r.label()).publishPercentileHistogram().register(registry));
        }
    }

    void request(Outcome o) { requests.get(o).increment(); }

    void retry(InstanceType r) { retries.get(r).increment(); }

    void latency(InstanceType r, long nanos) { latency.get(r).record(Duration.ofNanos(nanos)); }

    /** A routing decision for one role and why (prefix_hit, least_loaded, round_robin, decode_prefix, short_prompt). */
    void decision(InstanceType role, String reason) {
        decisions.computeIfAbsent(role.label() + "/" + reason, k -> Counter.builder("pdserve.proxy.routing.decisions")
                .description("Instances chosen, by role and reason").tag("role", role.label()).tag("reason", reason)
                .register(registry)).increment();
    }

    /** How a request was served: disaggregated or decode-only; and the prefix blocks its instance held. */
    void routed(String path, int hitBlocks, int queriedBlocks) {
        paths.computeIfAbsent(path, k -> Counter.builder("pdserve.proxy.pd.path").description("Requests by PD path")
                .tag("path", path).register(registry)).increment();
        prefixHitBlocks.increment(hitBlocks);
        prefixQueriedBlocks.increment(queriedBlocks);
    }

    void instanceAdded(Instance i) {
        Tags tags = Tags.of("role", i.type.label(), "instance", i.address.toString());
        List<Meter> meters = new ArrayList<>();
        meters.add(Gauge.builder("pdserve.proxy.instance.healthy", i, x -> x.healthy ? 1 : 0)
                .description("1 when the last /health probe passed").tags(tags).register(registry));
        meters.add(Gauge.builder("pdserve.proxy.instance.circuit.state", i, x -> x.breaker.state().ordinal())
                .description("0 closed, 1 open, 2 half-open").tags(tags).register(registry));
        meters.add(Gauge.builder("pdserve.proxy.instance.active.requests", i, x -> x.activeRequests.get())
                .tags(tags).register(registry));
        meters.add(Gauge.builder("pdserve.proxy.instance.pending.prompt.tokens", i, x -> x.pendingPromptTokens.get())
                .tags(tags).register(registry));
        meters.add(Gauge.builder("pdserve.proxy.instance.kv.cache.usage", i, x -> x.kvCacheUsage)
                .description("vllm:kv_cache_usage_perc scraped from the instance").tags(tags).register(registry));
        instanceMeters.put(i, meters);
    }

    void instanceRemoved(Instance i) {
        List<Meter> meters = instanceMeters.remove(i);
        if (meters != null) meters.forEach(registry::remove);
    }

    String scrape() {
        return registry.scrape();
    }
}
