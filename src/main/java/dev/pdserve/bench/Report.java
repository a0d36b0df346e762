package dev.pdserve.bench;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Prints results: {@link #summary} is vLLM's "Serving Benchmark Result" block, line for line, so scripts that
 * parse vLLM's output parse ours; {@link #compare} puts several runs of the same workload side by side.
 */
public final class Report {
    private static final int WIDTH = 50;

    private Report() {}

    public static void summary(BenchmarkResult r, PrintStream out) {
        BenchmarkMetrics m = r.metrics();
        BenchmarkConfig c = r.config();
        failures(r, out);
        out.println(center(" Serving Benchmark Result ", '='));
        line(out, "Successful requests:", m.completed());
        line(out, "Failed requests:", m.failed());
        if (c.maxConcurrency() != null) line(out, "Maximum request concurrency:", c.maxConcurrency());
        if (!Double.isInfinite(c.requestRate())) line(out, "Request rate configured (RPS):", c.requestRate());
        line(out, "Benchmark duration (s):", r.durationS());
        line(out, "Total input tokens:", m.totalInput());
        line(out, "Total generated tokens:", m.totalOutput());
        line(out, "Request throughput (req/s):", m.requestThroughput());
        if (c.goodput().enabled()) line(out, "Request goodput (req/s):", m.requestGoodput());
        line(out, "Output token throughput (tok/s):", m.outputThroughput());
        line(out, "Peak output token throughput (tok/s):", m.maxOutputTokensPerS());
        line(out, "Peak concurrent requests:", (double) m.maxConcurrentRequests());
        line(out, "Total token throughput (tok/s):", m.totalTokenThroughput());
        for (String[] metric : c.reportedMetrics()) {
            BenchmarkMetrics.MetricStats s = m.stats().get(metric[0]);
            out.println(center(metric[2], '-'));
            line(out, "Mean " + metric[1] + " (ms):", s.meanMs());
            line(out, "Median " + metric[1] + " (ms):", s.medianMs());
            for (int i = 0; i < s.percentiles().length; i++) {
                line(out, "P" + percentileWord(s.percentiles()[i]) + " " + metric[1] + " (ms):", s.valuesMs()[i]);
            }
        }
        out.println("=".repeat(WIDTH));
    }

    /**
     * Before the block, as vLLM: the first ten failed requests' errors, then (pdserve's addition) the failures
     * grouped by reason, most frequent first.
     */
    public static void failures(BenchmarkResult r, PrintStream out) {
        BenchmarkMetrics m = r.metrics();
        if (m.failureReasons().isEmpty()) return;
        if (m.completed() == 0) out.println("WARNING: All requests failed. This is likely due to a misconfiguration of the benchmark arguments.");
        out.println("Failed requests during benchmark run detected (capping to 10):");
        int i = 0;
        for (RequestResult o : r.outputs()) {
            if (o.success()) continue;
            if (i == 10) break;
            out.println("Error " + i++ + ": " + o.error());
        }
        out.println("Failed requests by reason:");
        for (Map.Entry<String, Integer> e : m.failureReasons().entrySet()) {
            out.printf(Locale.ROOT, "  %5d x %s%n", e.getValue(), e.getKey().replace('\n', ' '));
        }
    }

    /** One column per run, one row per number: for comparing the same workload on several servers. */
    public static void compare(List<BenchmarkResult> results, PrintStream out) {
        List<String[]> rows = new ArrayList<>();
        List<String> header = new ArrayList<>(List.of("Metric"));
        for (BenchmarkResult r : results) header.add(r.label());
        rows.add(header.toArray(String[]::new));
        addRow(rows, results, "Successful requests", r -> String.valueOf(r.metrics().completed()));
        addRow(rows, results, "Failed requests", r -> String.valueOf(r.metrics().failed()));
        addRow(rows, results, "Benchmark duration (s)", r -> fmt(r.durationS()));
        addRow(rows, results, "Request throughput (req/s)", r -> fmt(r.metrics().requestThroughput()));
        if (results.stream().anyMatch(r -> r.config().goodput().enabled())) {
            addRow(rows, results, "Request goodput (req/s)", r -> fmt(r.metrics().requestGoodput()));
        }
        addRow(rows, results, "Output token throughput (tok/s)", r -> fmt(r.metrics().outputThroughput()));
        addRow(rows, results, "Total token throughput (tok/s)", r -> fmt(r.metrics().totalTokenThroughput()));
        BenchmarkConfig first = results.getFirst().config();
        for (String[] metric : BenchmarkMetrics.METRICS) {
            if (!first.percentileMetrics().contains(metric[0])) continue;
            addRow(rows, results, "Mean " + metric[1] + " (ms)", r -> fmt(r.metrics().stats().get(metric[0]).meanMs()));
            addRow(rows, results, "Median " + metric[1] + " (ms)", r -> fmt(r.metrics().stats().get(metric[0]).medianMs()));
            double[] ps = first.percentiles();
            for (int i = 0; i < ps.length; i++) {
                int idx = i;
                addRow(rows, results, "P" + percentileWord(ps[i]) + " " + metric[1] + " (ms)",
                        r -> fmt(r.metrics().stats().get(metric[0]).valuesMs()[idx]));
            }
        }
        int[] widths = new int[header.size()];
        for (String[] row : rows) for (int i = 0; i < row.length; i++) widths[i] = Math.max(widths[i], row[i].length());
        for (int ri = 0; ri < rows.size(); ri++) {
            String[] row = rows.get(ri);
            StringBuilder sb = new StringBuilder(pad(row[0], widths[0], true));
            for (int i = 1; i < row.length; i++) sb.append("  ").append(pad(row[i], widths[i], false));
            out.println(sb);
            if (ri == 0) out.println("-".repeat(sb.length()));
        }
    }

    private static void addRow(List<String[]> rows, List<BenchmarkResult> results, String name,
                               java.util.function.Function<BenchmarkResult, String> value) {
        String[] row = new String[results.size() + 1];
        row[0] = name;
        for (int i = 0; i < results.size(); i++) row[i + 1] = value.apply(results.get(i));
        rows.add(row);
    }

    /** Python's {@code "{s:{c}^{n}}"}: centred, the odd padding character on the right. */
    static String center(String s, char fill) {
        int pad = Math.max(0, WIDTH - s.length());
        int left = pad / 2;
        return String.valueOf(fill).repeat(left) + s + String.valueOf(fill).repeat(pad - left);
    }

    /** "{:<40} {:<10}" for counts. */
    static void line(PrintStream out, String label, long value) {
        out.println(String.format(Locale.ROOT, "%-40s %-10d", label, value));
    }

    /** "{:<40} {:<10.2f}" for everything else. */
    static void line(PrintStream out, String label, double value) {
        out.println(String.format(Locale.ROOT, "%-40s %-10.2f", label, value));
    }

    /** 99 -> "99", 99.9 -> "99.9", as vLLM names its P lines and JSON keys. */
    static String percentileWord(double p) {
        return p == Math.rint(p) ? String.valueOf((long) p) : String.valueOf(p);
    }

    private static String fmt(double v) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.2f", v);
    }

    private static String pad(String s, int w, boolean left) {
        String sp = " ".repeat(Math.max(0, w - s.length()));
        return left ? s + sp : sp + s;
    }
}
