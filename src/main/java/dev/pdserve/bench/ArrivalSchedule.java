package dev.pdserve.bench;

import java.util.SplittableRandom;

/**
 * When each request is sent, in seconds after the benchmark starts; a pure function of (n, rate, burstiness,
 * seed), so it is tested without a clock. As in vLLM: rate inf sends everything at 0; otherwise gaps are
 * gamma-distributed with shape k = burstiness and mean 1/rate (k = 1 is a Poisson process, k < 1 burstier,
 * k > 1 more regular, k = inf evenly spaced), then the offsets are rescaled so the last request goes out at
 * n / rate, which keeps throughput comparable across seeds.
 */
public final class ArrivalSchedule {
    private ArrivalSchedule() {}

    public static double[] offsets(int n, double rate, double burstiness, long seed) {
        return offsets(n, rate, burstiness, seed, true);
    }

    /** {@code normalize=false} gives the raw cumulative gamma gaps (what the statistics tests look at). */
    public static double[] offsets(int n, double rate, double burstiness, long seed, boolean normalize) {
        if (!(rate > 0)) throw new IllegalArgumentException("--request-rate must be > 0 or inf, got " + rate);
        if (!(burstiness > 0)) throw new IllegalArgumentException("--burstiness must be > 0, got " + burstiness);
        double[] t = new double[n];
        if (n == 0 || Double.isInfinite(rate)) return t;
        double[] gaps = gaps(n, rate, burstiness, seed);
        double sum = 0;
        for (int i = 0; i < n; i++) t[i] = (sum += gaps[i]);
        if (normalize && t[n - 1] > 0) {
            double scale = (n / rate) / t[n - 1];
            for (int i = 0; i < n; i++) t[i] *= scale;
        }
        return t;
    }

    /** n inter-arrival gaps, gamma(shape = burstiness, scale = 1 / (rate * burstiness)). */
    public static double[] gaps(int n, double rate, double burstiness, long seed) {
        double[] g = new double[n];
        if (Double.isInfinite(burstiness)) {
            java.util.Arrays.fill(g, 1.0 / rate);
            return g;
        }
        SplittableRandom rng = new SplittableRandom(seed);
        double scale = 1.0 / (rate * burstiness);
        for (int i = 0; i < n; i++) g[i] = gamma(rng, burstiness) * scale;
        return g;
    }

    /** Marsaglia and Tsang's gamma(shape, 1) sampler; shape < 1 via the x * U^(1/shape) boost. */
    static double gamma(SplittableRandom rng, double shape) {
        if (shape < 1) {
            double u = rng.nextDouble();
            while (u == 0) u = rng.nextDouble();
            return gamma(rng, shape + 1) * Math.pow(u, 1.0 / shape);
        }
        double d = shape - 1.0 / 3, c = 1 / Math.sqrt(9 * d);
        while (true) {
            double x, v;
            do {
                x = normal(rng);
                v = 1 + c * x;
            } while (v <= 0);
            v = v * v * v;
            double u = rng.nextDouble();
            if (u < 1 - 0.0331 * x * x * x * x) return d * v;
            if (u > 0 && Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
        }
    }

    private static double normal(SplittableRandom rng) {
        // Box-Muller; one of the pair is enough here.
        double u1 = rng.nextDouble();
        while (u1 == 0) u1 = rng.nextDouble();
        return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * rng.nextDouble());
    }
}
