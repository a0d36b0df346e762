package dev.pdserve.bench;

import java.util.List;
import java.util.Map;

/**
 * How to run one benchmark against one server; the workload itself (the prompts) is handed to the runner
 * separately so the same prompts can be replayed against several servers (e.g. colocated vs PD proxy).
 *
 * @param baseUrl        e.g. http://127.0.0.1:8000 (no trailing slash)
 * @param model          model name to send; null asks the server's /v1/models for the first one
 * @param requestRate    requests per second; {@code Double.POSITIVE_INFINITY} sends all at once
 * @param maxConcurrency null for no limit
 */
public record BenchmarkConfig(String label, Backend backend, String baseUrl, String endpoint, String model,
                              String tokenizerId, double requestRate, double burstiness, Integer maxConcurrency,
                              boolean ignoreEos, int numWarmups, long seed, List<String> percentileMetrics,
                              double[] percentiles, Goodput goodput, Map<String, String> headers,
                              Map<String, Object> extraBody, String requestIdPrefix, boolean showProgress) {

    public BenchmarkConfig {
        if (baseUrl.endsWith("/")) baseUrl = baseUrl.substring(0, baseUrl.length() - 1);
        if (endpoint == null) endpoint = backend.defaultEndpoint;
        if (label == null) label = backend.cliName;
        if (maxConcurrency != null && maxConcurrency <= 0) throw new IllegalArgumentException("--max-concurrency must be greater than 0");
        if (numWarmups < 0) throw new IllegalArgumentException("--num-warmups must be >= 0");
        for (String m : percentileMetrics) {
            if (!List.of("ttft", "tpot", "itl", "e2el", "client_queue_time", "e2el_including_client_queue").contains(m)) {
                throw new IllegalArgumentException("unknown --percentile-metrics name '" + m
                        + "' (use ttft, tpot, itl, e2el, client_queue_time, e2el_including_client_queue)");
            }
        }
        percentileMetrics = List.copyOf(percentileMetrics);
        headers = Map.copyOf(headers);
        extraBody = Map.copyOf(extraBody);
    }

    /** The defaults of {@code vllm bench serve} against {@code baseUrl}, for tests and programmatic use. */
    public static BenchmarkConfig defaults(Backend backend, String baseUrl) {
        return new BenchmarkConfig(null, backend, baseUrl, null, null, null, Double.POSITIVE_INFINITY, 1.0, null,
                false, 0, 0, List.of("ttft", "tpot", "itl"), new double[] {99}, Goodput.none(), Map.of(), Map.of(),
                "bench-", false);
    }

    /** The metrics the report and the result file carry, in vLLM's order (queue ones under vLLM's conditions). */
    public List<String[]> reportedMetrics() {
        List<String[]> out = new java.util.ArrayList<>();
        for (String[] m : BenchmarkMetrics.METRICS) if (percentileMetrics.contains(m[0])) out.add(m);
        if (maxConcurrency != null && percentileMetrics.contains("client_queue_time")) out.add(BenchmarkMetrics.QUEUE_METRICS.get(0));
        if (maxConcurrency != null && !Double.isInfinite(requestRate) && percentileMetrics.contains("e2el_including_client_queue")) {
            out.add(BenchmarkMetrics.QUEUE_METRICS.get(1));
        }
        return out;
    }

    public String apiUrl() {
        return baseUrl + endpoint;
    }

    public BenchmarkConfig withModel(String m) {
        return new BenchmarkConfig(label, backend, baseUrl, endpoint, m, tokenizerId, requestRate, burstiness,
                maxConcurrency, ignoreEos, numWarmups, seed, percentileMetrics, percentiles, goodput, headers,
                extraBody, requestIdPrefix, showProgress);
    }

    public BenchmarkConfig withLoad(double rate, double burst, Integer concurrency) {
        return new BenchmarkConfig(label, backend, baseUrl, endpoint, model, tokenizerId, rate, burst, concurrency,
                ignoreEos, numWarmups, seed, percentileMetrics, percentiles, goodput, headers, extraBody,
                requestIdPrefix, showProgress);
    }

    public BenchmarkConfig withReport(List<String> metrics, double[] ps, Goodput g) {
        return new BenchmarkConfig(label, backend, baseUrl, endpoint, model, tokenizerId, requestRate, burstiness,
                maxConcurrency, ignoreEos, numWarmups, seed, metrics, ps, g, headers, extraBody, requestIdPrefix,
                showProgress);
    }
}
