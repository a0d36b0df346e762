package dev.pdserve.bench;

import java.util.Arrays;

/** numpy's mean, std (population), median and percentile (linear interpolation), over exact sorted values. */
public final class Percentiles {
    private Percentiles() {}

    public static double mean(double[] v) {
        if (v.length == 0) return 0; // numpy.mean(0) as vLLM writes it: `np.mean(xs or 0)`
        double s = 0;
        for (double x : v) s += x;
        return s / v.length;
    }

    public static double std(double[] v) {
        if (v.length == 0) return 0;
        double m = mean(v), s = 0;
        for (double x : v) s += (x - m) * (x - m);
        return Math.sqrt(s / v.length);
    }

    public static double median(double[] v) {
        return percentile(v, 50);
    }

    /** numpy.percentile(v, p) with the default "linear" method: rank p/100 * (n-1), interpolated. */
    public static double percentile(double[] v, double p) {
        if (p < 0 || p > 100) throw new IllegalArgumentException("percentile must be in [0, 100], got " + p);
        if (v.length == 0) return 0;
        double[] s = v.clone();
        Arrays.sort(s);
        return percentileOfSorted(s, p);
    }

    static double percentileOfSorted(double[] s, double p) {
        double rank = p / 100.0 * (s.length - 1);
        int lo = (int) Math.floor(rank);
        int hi = Math.min(lo + 1, s.length - 1);
        double frac = rank - lo;
        return s[lo] + (s[hi] - s[lo]) * frac;
    }
}
