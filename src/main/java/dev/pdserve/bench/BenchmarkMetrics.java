package dev.pdserve.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The numbers of vLLM's serving benchmark, computed from the per-request outputs exactly as vLLM's
 * {@code calculate_metrics} does (TPOT = (E2EL - TTFT) / (output tokens - 1) for requests with more than one
 * token; percentiles are numpy's linear ones; an empty metric reads 0).
 */
public record BenchmarkMetrics(int completed, int failed, long totalInput, long totalOutput, double requestThroughput,
                               double requestGoodput, double outputThroughput, double totalTokenThroughput,
                               double maxOutputTokensPerS, int maxConcurrentRequests, Map<String, MetricStats> stats,
                               Map<String, Integer> failureReasons, int[] outputLens, double[] tokensPerSecond) {

    /** Metric names in report order, with their label and section header (vLLM's wording). */
    public static final List<String[]> METRICS = List.of(
            new String[] {"ttft", "TTFT", "Time to First Token"},
            new String[] {"tpot", "TPOT", "Time per Output Token (excl. 1st token)"},
            new String[] {"itl", "ITL", "Inter-token Latency"},
            new String[] {"e2el", "E2EL", "End-to-end Latency"});

    /**
     * vLLM's client-side queueing metrics, reported only when asked for in --percentile-metrics and, as
     * vLLM, only with --max-concurrency (the queue-inclusive E2EL also only at a finite request rate).
     */
    public static final List<String[]> QUEUE_METRICS = List.of(
            new String[] {"client_queue_time", "Client Queue Time", "Client-side Queueing"},
            new String[] {"e2el_including_client_queue", "E2EL incl. Client Queue", "Queue-inclusive End-to-end Latency"});

    /** Mean, median, std and the requested percentiles of one metric, in milliseconds. */
    public record MetricStats(double meanMs, double medianMs, double stdMs, double[] percentiles, double[] valuesMs,
                              double[] rawSeconds) {
        static MetricStats of(double[] seconds, double[] percentiles) {
            double[] ps = new double[percentiles.length];
            for (int i = 0; i < ps.length; i++) ps[i] = Percentiles.percentile(seconds, percentiles[i]) * 1000;
            return new MetricStats(Percentiles.mean(seconds) * 1000, Percentiles.median(seconds) * 1000,
                    Percentiles.std(seconds) * 1000, percentiles.clone(), ps, seconds);
        }
    }

    public static BenchmarkMetrics compute(List<RequestResult> outputs, double durationS, double[] percentiles, Goodput goodput) {
        int completed = 0, good = 0;
        long totalInput = 0, totalOutput = 0;
        int[] outputLens = new int[outputs.size()];
        List<Double> ttfts = new ArrayList<>(), tpots = new ArrayList<>(), e2els = new ArrayList<>();
        List<Double> queues = new ArrayList<>(), e2elsWithQueue = new ArrayList<>();
        int itlCount = 0;
        for (RequestResult o : outputs) if (o.success()) itlCount += o.itl().length;
        double[] itls = new double[itlCount];
        int k = 0;
        Map<String, Integer> reasons = new LinkedHashMap<>();
        for (int i = 0; i < outputs.size(); i++) {
            RequestResult o = outputs.get(i);
            if (!o.success()) {
                reasons.merge(o.error(), 1, Integer::sum);
                continue;
            }
            int outLen = o.outputTokens();
            outputLens[i] = outLen;
            totalOutput += outLen;
            totalInput += o.promptLen();
            double tpot = 0;
            if (outLen > 1) {
                tpot = (o.latency() - o.ttft()) / (outLen - 1);
                tpots.add(tpot);
            }
            System.arraycopy(o.itl(), 0, itls, k, o.itl().length);
            k += o.itl().length;
            ttfts.add(o.ttft());
            e2els.add(o.latency());
            queues.add(o.queueTime());
            e2elsWithQueue.add(o.latency() + o.queueTime());
            if (goodput.enabled() && goodput.isGood(o.ttft(), tpot, o.latency())) good++;
            completed++;
        }
        Map<String, MetricStats> stats = new LinkedHashMap<>();
        stats.put("ttft", MetricStats.of(toArray(ttfts), percentiles));
        stats.put("tpot", MetricStats.of(toArray(tpots), percentiles));
        stats.put("itl", MetricStats.of(itls, percentiles));
        stats.put("e2el", MetricStats.of(toArray(e2els), percentiles));
        stats.put("client_queue_time", MetricStats.of(toArray(queues), percentiles));
        stats.put("e2el_including_client_queue", MetricStats.of(toArray(e2elsWithQueue), percentiles));

        double[] perSecond = tokensPerSecond(outputs);
        double peak = Arrays.stream(perSecond).max().orElse(0);
        return new BenchmarkMetrics(completed, outputs.size() - completed, totalInput, totalOutput,
                completed / durationS, goodput.enabled() ? good / durationS : Double.NaN, totalOutput / durationS,
                (totalInput + totalOutput) / durationS, peak, peakConcurrency(outputs), stats, sortByCount(reasons),
                outputLens, perSecond);
    }

    /**
     * Token chunks per one-second bucket from the first successful start, as vLLM's "peak output token
     * throughput": each chunk counts as one token at time start + ttft + sum(itl).
     */
    static double[] tokensPerSecond(List<RequestResult> outputs) {
        double min = Double.POSITIVE_INFINITY, max = Double.NEGATIVE_INFINITY;
        for (RequestResult o : outputs) {
            if (!o.success()) continue;
            min = Math.min(min, o.startTime());
            max = Math.max(max, o.startTime() + o.latency());
        }
        if (min == Double.POSITIVE_INFINITY) return new double[0];
        double[] buckets = new double[(int) Math.ceil(max - min) + 1];
        for (RequestResult o : outputs) {
            if (!o.success()) continue;
            double t = o.startTime() + o.ttft();
            buckets[(int) (t - min)]++;
            for (double gap : o.itl()) {
                t += gap;
                int b = (int) (t - min);
                if (b < buckets.length) buckets[b]++;
            }
        }
        return buckets;
    }

    /** Most requests in flight at once, over half-open intervals [start, start + latency). */
    static int peakConcurrency(List<RequestResult> outputs) {
        List<double[]> events = new ArrayList<>();
        for (RequestResult o : outputs) {
            if (!o.success()) continue;
            events.add(new double[] {o.startTime(), 1});
            events.add(new double[] {o.startTime() + o.latency(), -1});
        }
        events.sort((a, b) -> a[0] != b[0] ? Double.compare(a[0], b[0]) : Double.compare(a[1], b[1]));
        int cur = 0, peak = 0;
        for (double[] e : events) peak = Math.max(peak, cur += (int) e[1]);
        return peak;
    }

    private static Map<String, Integer> sortByCount(Map<String, Integer> reasons) {
        Map<String, Integer> sorted = new LinkedHashMap<>();
        reasons.entrySet().stream().sorted((a, b) -> b.getValue() - a.getValue())
                .forEach(e -> sorted.put(e.getKey(), e.getValue()));
        return sorted;
    }

    private static double[] toArray(List<Double> xs) {
        return xs.stream().mapToDouble(Double::doubleValue).toArray();
    }
}
