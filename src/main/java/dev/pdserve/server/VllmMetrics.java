package dev.pdserve.server;

import dev.pdserve.engine.EngineStats;
import dev.pdserve.engine.FinishReason;
import dev.pdserve.engine.KvConnector;
import dev.pdserve.engine.SpecDecodeStats;

import java.math.BigDecimal;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;

/**
 * vLLM's Prometheus metrics (vllm/v1/metrics/loggers.py): the same names, HELP texts, types, labels
 * ({@code engine}, {@code model_name}), bucket bounds and order, written as prometheus_client writes
 * them (labels sorted, counters with {@code _total} and a {@code _created} gauge, Go-style floats), so
 * vLLM dashboards and scrapers read pdserve unchanged. Histograms count exactly to the bucket bound
 * ({@link BucketHistogram}).
 */
public final class VllmMetrics {
    static final double[] TTFT_BUCKETS = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5,
            5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0};
    /** Inter-token latency and per-request time per output token share these. */
    static final double[] ITL_BUCKETS = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0,
            7.5, 10.0, 20.0, 40.0, 80.0};
    /** e2e, queue, inference, prefill and decode time. */
    static final double[] REQUEST_LATENCY_BUCKETS = {0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0,
            40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};
    static final double[] ITERATION_TOKENS_BUCKETS = {1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384};
    static final double[] N_BUCKETS = {1, 2, 5, 10, 20};

    private static final String ENGINE = "engine=\"0\"";

    /**
     * One finished request (one choice) as vLLM's FinishedRequestStats sees it. Times are
     * {@link System#nanoTime()} values; {@code scheduledNanos} is when the engine first scheduled it and
     * {@code firstTokenNanos} 0 when no token came.
     */
    public record FinishedRequest(FinishReason reason, long arrivalNanos, long scheduledNanos, long firstTokenNanos,
                                  long lastTokenNanos, long finishedNanos, int promptTokens, int generationTokens,
                                  int maxTokens) {
        double e2e() { return seconds(finishedNanos - arrivalNanos); }

        /** WAITING: arrival to first scheduled (the whole life of a request never scheduled). */
        double queue() { return seconds((scheduledNanos != 0 ? scheduledNanos : finishedNanos) - arrivalNanos); }

        /** First scheduled to first token; 0 without a token, as vLLM clamps it. */
        double prefill() { return firstTokenNanos == 0 || scheduledNanos == 0 ? 0 : seconds(firstTokenNanos - scheduledNanos); }

        double decode() { return firstTokenNanos == 0 ? 0 : seconds(lastTokenNanos - firstTokenNanos); }

        /** RUNNING: first scheduled to last token. */
        double inference() { return firstTokenNanos == 0 || scheduledNanos == 0 ? 0 : seconds(lastTokenNanos - scheduledNanos); }

        /** Decode time over the tokens after the first (the first one is the prefill's). */
        double meanTimePerOutputToken() { return generationTokens > 1 ? decode() / (generationTokens - 1) : 0; }

        private static double seconds(long nanos) { return Math.max(0, nanos) / 1e9; }
    }

    private final String model;
    private final String labels;
    private final Supplier<EngineStats> stats;
    private final Supplier<KvConnector.Stats> kvStats;
    private volatile Supplier<SpecDecodeStats> specStats = () -> null;
    /** Unix time the metrics were created: prometheus_client's {@code _created} samples. */
    private final double created = System.currentTimeMillis() / 1000.0;
    private final Map<FinishReason, LongAdder> success = new EnumMap<>(FinishReason.class);
    private final BucketHistogram promptTokens;
    private final BucketHistogram generationTokens;
    private final BucketHistogram iterationTokens = new BucketHistogram(ITERATION_TOKENS_BUCKETS);
    private final BucketHistogram maxGenerationTokens;
    private final BucketHistogram paramsN = new BucketHistogram(N_BUCKETS);
    private final BucketHistogram paramsMaxTokens;
    private final BucketHistogram ttft = new BucketHistogram(TTFT_BUCKETS);
    private final BucketHistogram itl = new BucketHistogram(ITL_BUCKETS);
    private final BucketHistogram tpot = new BucketHistogram(ITL_BUCKETS);
    private final BucketHistogram e2e = new BucketHistogram(REQUEST_LATENCY_BUCKETS);
    private final BucketHistogram queue = new BucketHistogram(REQUEST_LATENCY_BUCKETS);
    private final BucketHistogram inference = new BucketHistogram(REQUEST_LATENCY_BUCKETS);
    private final BucketHistogram prefill = new BucketHistogram(REQUEST_LATENCY_BUCKETS);
    private final BucketHistogram decode = new BucketHistogram(REQUEST_LATENCY_BUCKETS);

    public VllmMetrics(String modelName, int maxModelLen, Supplier<EngineStats> stats) {
        this(modelName, maxModelLen, stats, () -> null);
    }

    /** With PD disaggregation's KV transfer counters ({@code kvStats} gives null without a connector). */
    public VllmMetrics(String modelName, int maxModelLen, Supplier<EngineStats> stats, Supplier<KvConnector.Stats> kvStats) {
        this.model = "model_name=\"" + escape(modelName) + "\"";
        this.labels = ENGINE + "," + model;
        this.stats = stats;
        this.kvStats = kvStats;
        for (FinishReason r : FinishReason.values()) success.put(r, new LongAdder());
        double[] tokens = BucketHistogram.oneTwoFive(maxModelLen);
        promptTokens = new BucketHistogram(tokens);
        generationTokens = new BucketHistogram(tokens);
        maxGenerationTokens = new BucketHistogram(tokens);
        paramsMaxTokens = new BucketHistogram(tokens);
    }

    /** With speculative decoding's counters ({@code specStats} gives null when the engine does not speculate). */
    public VllmMetrics withSpecDecode(Supplier<SpecDecodeStats> specStats) {
        this.specStats = specStats;
        return this;
    }

    public void recordFirstToken(double seconds) { ttft.observe(seconds); }

    public void recordInterToken(double seconds) { itl.observe(seconds); }

    /** One engine step's prompt tokens (of requests that got their first token) plus its sampled tokens. */
    public void recordIteration(int tokens) { iterationTokens.observe(tokens); }

    /** All n choices of one prompt are done: the longest of them and n (vLLM's parallel-sampling parent). */
    public void recordParallelSampling(int maxGenerated, int n) {
        maxGenerationTokens.observe(maxGenerated);
        paramsN.observe(n);
    }

    public void recordFinished(FinishedRequest r) {
        success.get(r.reason()).increment();
        e2e.observe(r.e2e());
        queue.observe(r.queue());
        prefill.observe(r.prefill());
        inference.observe(r.inference());
        decode.observe(r.decode());
        promptTokens.observe(r.promptTokens());
        generationTokens.observe(r.generationTokens());
        tpot.observe(r.meanTimePerOutputToken());
        if (r.maxTokens() > 0) paramsMaxTokens.observe(r.maxTokens());
    }

    /** The exposition, Prometheus text format 0.0.4, in vLLM's order. */
    public String scrape() {
        EngineStats s = stats.get();
        StringBuilder out = new StringBuilder(32768);
        gauge(out, "vllm:num_requests_running", "Number of requests in model execution batches.", s.numRunning());
        gauge(out, "vllm:num_requests_waiting", "Number of requests waiting to be processed.", s.numWaiting());
        gauge(out, "vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", s.kvCacheUsage());
        counter(out, "vllm:prefix_cache_queries", "Prefix cache queries, in terms of number of queried tokens.", s.prefixCacheQueries());
        counter(out, "vllm:prefix_cache_hits", "Prefix cache hits, in terms of number of cached tokens.", s.prefixCacheHits());
        counter(out, "vllm:num_preemptions", "Cumulative number of preemption from the engine.", s.numPreemptions());
        counter(out, "vllm:prompt_tokens", "Number of prefill tokens processed.", s.promptTokensTotal());
        counter(out, "vllm:generation_tokens", "Number of generation tokens processed.", s.generationTokensTotal());
        requestSuccess(out);
        histogram(out, "vllm:request_prompt_tokens", "Number of prefill tokens processed.", promptTokens);
        histogram(out, "vllm:request_generation_tokens", "Number of generation tokens processed.", generationTokens);
        histogram(out, "vllm:iteration_tokens_total", "Histogram of number of tokens per engine_step.", iterationTokens);
        histogram(out, "vllm:request_max_num_generation_tokens", "Histogram of maximum number of requested generation tokens.", maxGenerationTokens);
        histogram(out, "vllm:request_params_n", "Histogram of the n request parameter.", paramsN);
        histogram(out, "vllm:request_params_max_tokens", "Histogram of the max_tokens request parameter.", paramsMaxTokens);
        histogram(out, "vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", ttft);
        histogram(out, "vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", itl);
        histogram(out, "vllm:request_time_per_output_token_seconds", "Histogram of time_per_output_token_seconds per request.", tpot);
        histogram(out, "vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", e2e);
        histogram(out, "vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.", queue);
        histogram(out, "vllm:request_inference_time_seconds", "Histogram of time spent in RUNNING phase for request.", inference);
        histogram(out, "vllm:request_prefill_time_seconds", "Histogram of time spent in PREFILL phase for request.", prefill);
        histogram(out, "vllm:request_decode_time_seconds", "Histogram of time spent in DECODE phase for request.", decode);
        SpecDecodeStats spec = specStats.get();
        if (spec != null) specDecode(out, spec);
        KvConnector.Stats kv = kvStats.get();
        if (kv != null) kvTransfer(out, kv);
        return out.toString();
    }

    private void requestSuccess(StringBuilder out) {
        String name = "vllm:request_success";
        String help = "Count of successfully processed requests.";
        header(out, name + "_total", help, "counter");
        for (FinishReason r : FinishReason.values()) {
            out.append(name).append("_total{").append(ENGINE).append(",finished_reason=\"").append(r.apiName).append("\",")
                    .append(model).append("} ").append(number(success.get(r).sum())).append('\n');
        }
        header(out, name + "_created", help, "gauge");
        for (FinishReason r : FinishReason.values()) {
            out.append(name).append("_created{").append(ENGINE).append(",finished_reason=\"").append(r.apiName).append("\",")
                    .append(model).append("} ").append(number(created)).append('\n');
        }
    }

    /** vLLM's SpecDecodingProm counters (only with --speculative-config). */
    private void specDecode(StringBuilder out, SpecDecodeStats s) {
        counter(out, "vllm:spec_decode_num_drafts", "Number of spec decoding drafts.", s.numDrafts());
        counter(out, "vllm:spec_decode_num_draft_tokens", "Number of draft tokens.", s.numDraftTokens());
        counter(out, "vllm:spec_decode_num_accepted_tokens", "Number of accepted tokens.", s.numAcceptedTokens());
        String name = "vllm:spec_decode_num_accepted_tokens_per_pos", help = "Accepted tokens per draft position.";
        header(out, name + "_total", help, "counter");
        for (int i = 0; i < s.acceptedPerPos().length; i++) {
            out.append(name).append("_total{").append(labels).append(",position=\"").append(i).append("\"} ")
                    .append(number(s.acceptedPerPos()[i])).append('\n');
        }
        header(out, name + "_created", help, "gauge");
        for (int i = 0; i < s.acceptedPerPos().length; i++) {
            out.append(name).append("_created{").append(labels).append(",position=\"").append(i).append("\"} ")
                    .append(number(created)).append('\n');
        }
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
        header(out, "pdserve:kv_lease_reclaimed_total", "KV leases freed before they were pulled because new work needed their blocks.", "counter");
        out.append("pdserve:kv_lease_reclaimed_total{").append(labels).append("} ").append(number(kv.leasesReclaimed())).append('\n');
        header(out, "pdserve:kv_connections_refused_total", "KV connections refused before or during the handshake (limits, timeouts, bad frames, wrong peers).", "counter");
        out.append("pdserve:kv_connections_refused_total{").append(labels).append("} ").append(number(kv.connectionsRefused())).append('\n');
    }

    private void gauge(StringBuilder out, String name, String help, double value) {
        header(out, name, help, "gauge");
        sample(out, name, value);
    }

    /** A prometheus_client Counter: {@code name_total}, then its {@code name_created} gauge. */
    private void counter(StringBuilder out, String name, String help, double value) {
        header(out, name + "_total", help, "counter");
        sample(out, name + "_total", value);
        header(out, name + "_created", help, "gauge");
        sample(out, name + "_created", created);
    }

    /** Cumulative buckets with {@code le} between the labels (sorted), count, sum, then the created gauge. */
    private void histogram(StringBuilder out, String name, String help, BucketHistogram h) {
        header(out, name, help, "histogram");
        BucketHistogram.Snapshot snap = h.snapshot();
        for (int i = 0; i < snap.cumulative().length; i++) {
            String le = i < snap.bounds().length ? number(snap.bounds()[i]) : "+Inf";
            out.append(name).append("_bucket{").append(ENGINE).append(",le=\"").append(le).append("\",").append(model)
                    .append("} ").append(number(snap.cumulative()[i])).append('\n');
        }
        sample(out, name + "_count", snap.count());
        sample(out, name + "_sum", snap.sum());
        header(out, name + "_created", help, "gauge");
        sample(out, name + "_created", created);
    }

    private void sample(StringBuilder out, String name, double value) {
        out.append(name).append('{').append(labels).append("} ").append(number(value)).append('\n');
    }

    private static void header(StringBuilder out, String name, String help, String type) {
        out.append("# HELP ").append(name).append(' ').append(help).append('\n');
        out.append("# TYPE ").append(name).append(' ').append(type).append('\n');
    }

    /**
     * prometheus_client's floatToGoString: Python's repr (0.0, 0.0005, 1e-05), except that a positive
     * number with more than six digits before the point switches to Go's exponent form (1e+06,
     * 1.7e+09).
     */
    static String number(double v) {
        if (Double.isNaN(v)) return "NaN";
        if (Double.isInfinite(v)) return v > 0 ? "+Inf" : "-Inf";
        String s = pythonRepr(v);
        int dot = s.indexOf('.');
        if (v > 0 && dot > 6) {
            String mantissa = (s.charAt(0) + "." + s.substring(1, dot) + s.substring(dot + 1)).replaceAll("[0.]+$", "");
            return mantissa + "e+0" + (dot - 1);
        }
        return s;
    }

    /** Python's repr of a float: shortest round-trip digits, positional in [1e-4, 1e16), else 1.5e-05 / 1e+16. */
    static String pythonRepr(double v) {
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
