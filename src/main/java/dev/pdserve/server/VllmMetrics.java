package dev.pdserve.server;

import dev.pdserve.engine.EngineStats;
import dev.pdserve.engine.FinishReason;
import dev.pdserve.engine.KvConnector;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.distribution.CountAtBucket;
import io.micrometer.core.instrument.distribution.HistogramSnapshot;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import java.math.BigDecimal;
import java.util.EnumMap;
import java.util.Map;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;

/**
 * vLLM's Prometheus metrics, with vLLM's exact names, labels ({@code engine}, {@code model_name})
 * and histogram buckets, so existing vLLM dashboards work. The meters live in Micrometer; the
 * exposition is written here because Micrometer's Prometheus naming would rewrite the
 * {@code vllm:} names. The text follows prometheus_client (labels sorted, Python float spelling).
 */
public final class VllmMetrics {
    static final double[] TTFT_BUCKETS = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5,
            5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0};
    static final double[] ITL_BUCKETS = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0,
            7.5, 10.0, 20.0, 40.0, 80.0};
    static final double[] E2E_BUCKETS = {0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0,
            60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};

    private static final String ENGINE = "engine=\"0\"";
    private final String model;
    private final String labels;
    private final Supplier<EngineStats> stats;
    private final Supplier<KvConnector.Stats> kvStats;
    private final MeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final DistributionSummary ttft;
    private final DistributionSummary itl;
    private final DistributionSummary e2e;
    private final Map<FinishReason, Counter> success = new EnumMap<>(FinishReason.class);

    public VllmMetrics(String modelName, Supplier<EngineStats> stats) {
        this(modelName, stats, () -> null);
    }

    /** With PD disaggregation's KV transfer counters ({@code kvStats} gives null without a connector). */
    public VllmMetrics(String modelName, Supplier<EngineStats> stats, Supplier<KvConnector.Stats> kvStats) {
        this.kvStats = kvStats;
        this.model = "model_name=\"" + escape(modelName) + "\"";
        this.labels = ENGINE + "," + model;
        this.stats = stats;
        ttft = histogram("vllm:time_to_first_token_seconds", TTFT_BUCKETS);
        itl = histogram("vllm:inter_token_latency_seconds", ITL_BUCKETS);
        e2e = histogram("vllm:e2e_request_latency_seconds", E2E_BUCKETS);
        for (FinishReason r : FinishReason.values()) {
            success.put(r, Counter.builder("vllm:request_success").tag("finished_reason", r.apiName).register(registry));
        }
    }

    private DistributionSummary histogram(String name, double[] buckets) {
        return DistributionSummary.builder(name).serviceLevelObjectives(buckets).register(registry);
    }

    public void recordFirstToken(double seconds) { ttft.record(seconds); }

    public void recordInterToken(double seconds) { itl.record(seconds); }

    public void recordFinished(FinishReason reason, double e2eSeconds) {
        success.get(reason).increment();
        e2e.record(e2eSeconds);
    }

    /** The exposition, Prometheus text format 0.0.4. */
    public String scrape() {
        EngineStats s = stats.get();
        StringBuilder out = new StringBuilder(8192);
        gauge(out, "vllm:num_requests_running", "Number of requests in model execution batches.", s, EngineStats::numRunning);
        gauge(out, "vllm:num_requests_waiting", "Number of requests waiting to be processed.", s, EngineStats::numWaiting);
        gauge(out, "vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", s, EngineStats::kvCacheUsage);
        counter(out, "vllm:prefix_cache_queries", "Prefix cache queries, in terms of number of queried tokens.", s.prefixCacheQueries());
        counter(out, "vllm:prefix_cache_hits", "Prefix cache hits, in terms of number of cached tokens.", s.prefixCacheHits());
        counter(out, "vllm:num_preemptions", "Cumulative number of preemption from the engine.", s.numPreemptions());
        counter(out, "vllm:prompt_tokens", "Number of prefill tokens processed.", s.promptTokensTotal());
        counter(out, "vllm:generation_tokens", "Number of generation tokens processed.", s.generationTokensTotal());
        header(out, "vllm:request_success_total", "Count of successfully processed requests.", "counter");
        for (FinishReason r : FinishReason.values()) {
            out.append("vllm:request_success_total{").append(ENGINE).append(",finished_reason=\"").append(r.apiName)
                    .append("\",").append(model).append("} ").append(number(success.get(r).count())).append('\n');
        }
        histogram(out, "vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", ttft);
        histogram(out, "vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", itl);
        histogram(out, "vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", e2e);
        KvConnector.Stats kv = kvStats.get();
        if (kv != null) kvTransfer(out, kv);
        return out.toString();
    }

    /** pdserve's KV transfer metrics (only on an instance with --kv-transfer-config). */
    private void kvTransfer(StringBuilder out, KvConnector.Stats kv) {
        header(out, "pdserve:kv_transfer_bytes_total", "KV cache payload bytes moved between prefill and decode instances.", "counter");
        out.append("pdserve:kv_transfer_bytes_total{direction=\"received\",").append(labels).append("} ").append(number(kv.bytesReceived())).append('\n');
        out.append("pdserve:kv_transfer_bytes_total{direction=\"sent\",").append(labels).append("} ").append(number(kv.bytesSent())).append('\n');
        header(out, "pdserve:kv_transfer_seconds", "Time spent moving KV cache blocks, over completed transfers.", "summary");
        out.append("pdserve:kv_transfer_seconds_count{").append(labels).append("} ").append(number(kv.transfers())).append('\n');
        out.append("pdserve:kv_transfer_seconds_sum{").append(labels).append("} ").append(number(kv.transferSeconds())).append('\n');
        gauge(out, "pdserve:kv_blocks_leased", "KV blocks a prefill instance holds for decode instances to pull.", kv.blocksLeased());
        header(out, "pdserve:kv_lease_expired_total", "KV leases freed because no decode instance pulled them in time.", "counter");
        out.append("pdserve:kv_lease_expired_total{").append(labels).append("} ").append(number(kv.leasesExpired())).append('\n');
    }

    private void gauge(StringBuilder out, String name, String help, EngineStats s, ToDoubleFunction<EngineStats> value) {
        header(out, name, help, "gauge");
        out.append(name).append('{').append(labels).append("} ").append(number(value.applyAsDouble(s))).append('\n');
    }

    private void gauge(StringBuilder out, String name, String help, double value) {
        header(out, name, help, "gauge");
        out.append(name).append('{').append(labels).append("} ").append(number(value)).append('\n');
    }

    private void counter(StringBuilder out, String name, String help, double value) {
        header(out, name + "_total", help, "counter");
        out.append(name).append("_total{").append(labels).append("} ").append(number(value)).append('\n');
    }

    private void histogram(StringBuilder out, String name, String help, DistributionSummary summary) {
        header(out, name, help, "histogram");
        HistogramSnapshot snap = summary.takeSnapshot();
        for (CountAtBucket b : snap.histogramCounts()) {
            out.append(name).append("_bucket{").append(ENGINE).append(",le=\"").append(number(b.bucket())).append("\",")
                    .append(model).append("} ").append(number(b.count())).append('\n');
        }
        out.append(name).append("_bucket{").append(ENGINE).append(",le=\"+Inf\",").append(model).append("} ")
                .append(number(snap.count())).append('\n');
        out.append(name).append("_count{").append(labels).append("} ").append(number(snap.count())).append('\n');
        out.append(name).append("_sum{").append(labels).append("} ").append(number(snap.total())).append('\n');
    }

    private static void header(StringBuilder out, String name, String help, String type) {
        out.append("# HELP ").append(name).append(' ').append(help).append('\n');
        out.append("# TYPE ").append(name).append(' ').append(type).append('\n');
    }

    /** A float as Python's repr spells it (prometheus_client's output): 0.0, 2560.0, 0.0005, 1e-05. */
    static String number(double v) {
        if (Double.isNaN(v)) return "NaN";
        if (Double.isInfinite(v)) return v > 0 ? "+Inf" : "-Inf";
        if (v == 0) return "0.0";
        double a = Math.abs(v);
        if (a >= 1e-4 && a < 1e16) {
            String plain = new BigDecimal(Double.toString(v)).stripTrailingZeros().toPlainString();
            return plain.contains(".") ? plain : plain + ".0";
        }
        String s = Double.toString(v);
        int e = s.indexOf('E');
        String mantissa = s.substring(0, e);
        if (mantissa.endsWith(".0")) mantissa = mantissa.substring(0, mantissa.length() - 2);
        int exp = Integer.parseInt(s.substring(e + 1));
        return mantissa + "e" + (exp < 0 ? "-" : "+") + (Math.abs(exp) < 10 ? "0" : "") + Math.abs(exp);
    }

    private static String escape(String labelValue) {
        return labelValue.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }
}
