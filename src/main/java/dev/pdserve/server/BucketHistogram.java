package dev.pdserve.server;

import java.util.Arrays;

/**
 * A Prometheus histogram with fixed upper bounds, counted exactly as prometheus_client counts: an
 * observation goes into the first bucket whose bound is {@code >=} it (a value equal to a bound is in
 * that bound's bucket), values above the last bound only into {@code +Inf}. Thread-safe; a snapshot
 * is consistent (its count equals the {@code +Inf} bucket).
 */
final class BucketHistogram {
    private final double[] bounds;
    /** Per-bucket (not cumulative) counts; the last slot is +Inf. */
    private final long[] counts;
    private double sum;

    /** A consistent copy: cumulative counts per bound, then +Inf (= count), and the sum. */
    record Snapshot(double[] bounds, long[] cumulative, double sum) {
        long count() { return cumulative[cumulative.length - 1]; }
    }

    BucketHistogram(double... bounds) {
        for (int i = 1; i < bounds.length; i++) {
            if (!(bounds[i] > bounds[i - 1])) throw new IllegalArgumentException("bounds must increase: " + Arrays.toString(bounds));
        }
        this.bounds = bounds.clone();
        this.counts = new long[bounds.length + 1];
    }

    /** vLLM's build_1_2_5_buckets: 1, 2, 5, 10, 20, 50, ... up to and including {@code max}. */
    static double[] oneTwoFive(long max) {
        double[] out = new double[64];
        int n = 0;
        for (long scale = 1; ; scale *= 10) {
            for (long m : new long[] {1, 2, 5}) {
                if (m * scale > max) return Arrays.copyOf(out, n);
                out[n++] = m * scale;
            }
        }
    }

    void observe(double value) {
        if (Double.isNaN(value)) return; // prometheus_client puts NaN in no bucket; we keep it out of the sum too
        int i = Arrays.binarySearch(bounds, value);
        int bucket = i >= 0 ? i : -i - 1; // exact match: that bound; else the first bound above
        synchronized (this) {
            counts[bucket]++;
            sum += value;
        }
    }

    synchronized Snapshot snapshot() {
        long[] cumulative = new long[counts.length];
        long acc = 0;
        for (int i = 0; i < counts.length; i++) cumulative[i] = acc += counts[i];
        return new Snapshot(bounds, cumulative, sum);
    }
}
