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
    private static final int MAX_POINTS = 2000;

    private LatencyPlot() {}

    public static Path write(List<BenchmarkResult> results, Path file) {
        System.setProperty("java.awt.headless", "true");
        List<XYChart> charts = new ArrayList<>();
        for (String[] metric : BenchmarkMetrics.METRICS) {
            XYChart chart = chart(metric[1] + " CDF: " + metric[2], metric[1] + " (ms)", "% of values <=");
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
        for (BenchmarkResult r : results) {
            double[] perSecond = r.metrics().tokensPerSecond();
            if (perSecond.length > 0) add(tput, r.label(), seconds(perSecond.length), perSecond);
            double[] active = inFlightPerSecond(r.outputs(), perSecond.length);
            if (active.length > 0) add(inflight, r.label(), seconds(active.length), active);
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

    /** x = sorted values in ms, y = percent of values at or below x; at most MAX_POINTS points. */
    static double[][] cdfMs(double[] seconds) {
        double[] s = seconds.clone();
        Arrays.sort(s);
        int n = Math.min(s.length, MAX_POINTS);
        double[] x = new double[n], y = new double[n];
        for (int i = 0; i < n; i++) {
            int idx = n == s.length ? i : (int) Math.round((double) i * (s.length - 1) / (n - 1));
            x[i] = s[idx] * 1000;
            y[i] = 100.0 * (idx + 1) / s.length;
        }
        return new double[][] {x, y};
    }

    /** Successful requests active during each one-second bucket, from the first successful start. */
    static double[] inFlightPerSecond(List<RequestOutput> outputs, int buckets) {
        double min = outputs.stream().filter(RequestOutput::success).mapToDouble(RequestOutput::startTime).min().orElse(0);
        double[] active = new double[buckets];
        for (RequestOutput o : outputs) {
            if (!o.success()) continue;
            int from = (int) (o.startTime() - min);
            int to = (int) Math.ceil(o.startTime() + o.latency() - min);
            for (int b = from; b < Math.min(to, buckets); b++) active[b]++;
        }
        return active;
    }

    private static double[] seconds(int n) {
        double[] x = new double[n];
        for (int i = 0; i < n; i++) x[i] = i;
        return x;
    }

    private static XYChart chart(String title, String xTitle, String yTitle) {
        XYChart c = new XYChartBuilder().width(640).height(400).title(title).xAxisTitle(xTitle).yAxisTitle(yTitle).build();
        c.getStyler().setLegendPosition(Styler.LegendPosition.InsideSE);
        c.getStyler().setChartBackgroundColor(Color.WHITE);
        c.getStyler().setPlotGridLinesVisible(true);
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
