package dev.pdserve.bench;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.None;
import org.knowm.xchart.style.Styler;

import java.awt.Color;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One PNG, six panels: the CDFs of TTFT, TPOT, ITL and E2EL, output tokens per second and requests in
 * flight over time. Several results (e.g. colocated vs PD) become several series on the same panels.
 */
public final class LatencyPlot {
    private LatencyPlot() {}

    public static Path write(List<BenchmarkResult> results, Path file) {
        System.setProperty("java.awt.headless", "true");
        List<XYChart> charts = new ArrayList<>();
        for (String[] metric : BenchmarkMetrics.METRICS) {
            XYChart chart = chart(metric[1] + " CDF: " + metric[2], metric[1] + " (ms)", "% of values <=");
            chart.getStyler().setYAxisMin(0.0).setYAxisMax(100.0);
            for (BenchmarkResult r : results) {
                double[] seconds = r.metrics().stats().get(metric[0]).rawSeconds();
                if (seconds.length == 0) continue;
                double[][] cdf = cdfMs(seconds);
                add(chart, r.label(), cdf[0], cdf[1]);
            }
            charts.add(chart);
        }
        XYChart tput = chart("Output token throughput over time", "time since start (s)", "tokens/s");
        XYChart inflight = chart("Requests in flight over time", "time since start (s)", "requests");
        double longest = results.stream().mapToDouble(BenchmarkResult::durationS).max().orElse(1);
        // About 60 points whatever the run's length, so a short run is not two dots and a long one not a smear.
        double bucket = niceStep(Math.max(longest / 60, 0.001));
        for (BenchmarkResult r : results) {
            double[][] series = timeSeries(r.outputs(), bucket, r.durationS());
            add(tput, r.label(), series[0], series[1]);
            add(inflight, r.label(), series[0], series[2]);
        }
        charts.add(tput);
        charts.add(inflight);
        try {
            if (file.toAbsolutePath().getParent() != null) Files.createDirectories(file.toAbsolutePath().getParent());
            String name = file.toString();
            // XChart appends ".png" itself when the name lacks it.
            BitmapEncoder.saveBitmap(charts, 3, 2, name, BitmapEncoder.BitmapFormat.PNG);
            return name.toLowerCase().endsWith(".png") ? file : Path.of(name + ".png");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write plot " + file + ": " + e.getMessage(), e);
        }
    }

    /** Percent levels of the CDF curves: every 1 % up to 90, then finer into the tail. */
    static final double[] LEVELS = levels();

    private static double[] levels() {
        List<Double> l = new ArrayList<>();
        for (int p = 0; p <= 90; p++) l.add((double) p);
        for (int k = 1; k <= 18; k++) l.add(90 + 0.5 * k); // 90.5 .. 99
        for (int k = 1; k <= 9; k++) l.add(99 + 0.1 * k); // 99.1 .. 99.9
        l.add(99.95);
        l.add(99.99);
        l.add(100.0);
        return l.stream().mapToDouble(Double::doubleValue).toArray();
    }

    /**
     * The latency CDF as (value in ms, percent) at {@link #LEVELS}, with the same percentile definition as the
     * printed report, so the curve passes through the printed P50/P99.
     */
    static double[][] cdfMs(double[] seconds) {
        double[] s = seconds.clone();
        Arrays.sort(s);
        double[] x = new double[LEVELS.length];
        for (int i = 0; i < x.length; i++) x[i] = Percentiles.percentileOfSorted(s, LEVELS[i]) * 1000;
        return new double[][] {x, LEVELS.clone()};
    }

    /**
     * x = bucket start (s), then tokens/s and requests in flight per bucket (sampled at the bucket's middle),
     * from token chunk times start + ttft + sum(itl) of the successful requests.
     */
    static double[][] timeSeries(List<RequestResult> outputs, double bucket, double duration) {
        int n = Math.max(1, (int) Math.ceil(duration / bucket));
        double[] x = new double[n], tokens = new double[n], active = new double[n];
        for (int b = 0; b < n; b++) x[b] = b * bucket;
        for (RequestResult o : outputs) {
            if (!o.success()) continue;
            // A chunk may carry several tokens (usage says how many): spread them evenly over the chunks.
            double perChunk = (double) o.outputTokens() / o.chunks();
            double t = o.startTime() + o.ttft();
            tokens[Math.min(n - 1, (int) (t / bucket))] += perChunk;
            for (double gap : o.itl()) {
                t += gap;
                tokens[Math.min(n - 1, (int) (t / bucket))] += perChunk;
            }
            for (int b = 0; b < n; b++) {
                double mid = (b + 0.5) * bucket;
                if (mid >= o.startTime() && mid < o.startTime() + o.latency()) active[b]++;
            }
        }
        for (int b = 0; b < n; b++) tokens[b] /= bucket;
        return new double[][] {x, tokens, active};
    }

    /** The 1, 2 or 5 times a power of ten at or above {@code raw}, so time labels are round numbers. */
    static double niceStep(double raw) {
        double pow = Math.pow(10, Math.floor(Math.log10(raw)));
        for (double m : new double[] {1, 2, 5, 10}) if (m * pow >= raw * (1 - 1e-9)) return m * pow;
        return 10 * pow;
    }

    private static XYChart chart(String title, String xTitle, String yTitle) {
        XYChart c = new XYChartBuilder().width(640).height(400).title(title).xAxisTitle(xTitle).yAxisTitle(yTitle).build();
        c.getStyler().setLegendPosition(Styler.LegendPosition.InsideSE);
        c.getStyler().setChartBackgroundColor(Color.WHITE);
        c.getStyler().setPlotGridLinesVisible(true);
        c.getStyler().setYAxisDecimalPattern("#,##0.#");
        c.getStyler().setXAxisDecimalPattern("#,##0.##");
        return c;
    }

    private static void add(XYChart chart, String name, double[] x, double[] y) {
        XYSeries s = chart.addSeries(uniqueName(chart, name), x, y);
        s.setMarker(new None());
    }

    private static String uniqueName(XYChart chart, String name) {
        String n = name;
        for (int i = 2; chart.getSeries(n) != null; i++) n = name + " (" + i + ")";
        return n;
    }
}
