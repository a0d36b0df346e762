package dev.pdserve.jmh;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The machine's fp32 FMA ceiling through the Vector API: 16 independent accumulator chains per
 * thread on register-resident vectors (no memory traffic), 1 thread and all cores. Batched decode
 * is compute-bound once the batch passes bandwidth x this peak, so this bounds the batch-32 speed-up.
 *
 * <pre>java --add-modules jdk.incubator.vector -cp ... dev.pdserve.jmh.FmaPeakProbe [--seconds 2]</pre>
 */
public final class FmaPeakProbe {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int ITERATIONS = 1 << 22;

    public static void main(String[] args) throws Exception {
        double seconds = args.length > 1 && args[0].equals("--seconds") ? Double.parseDouble(args[1]) : 2;
        for (int i = 0; i < 20; i++) chains(1 << 14); // compile before timing
        int cores = Runtime.getRuntime().availableProcessors();
        System.out.printf("%d-bit vectors%n", F.vectorBitSize());
        System.out.printf("fma_peak_1t_gflops=%.1f%n", measure(1, seconds));
        System.out.printf("fma_peak_%dt_gflops=%.1f%n", cores, measure(cores, seconds));
    }

    static double measure(int threads, double seconds) throws Exception {
        double best = 0;
        try (ExecutorService pool = Executors.newFixedThreadPool(threads)) {
            long end = System.nanoTime() + (long) (seconds * 1e9);
            while (System.nanoTime() < end) {
                long start = System.nanoTime();
                Future<?>[] parts = new Future<?>[threads];
                for (int t = 0; t < threads; t++) parts[t] = pool.submit(() -> chains(ITERATIONS));
                for (Future<?> f : parts) f.get();
                double flops = 2.0 * 16 * F.length() * ITERATIONS * threads;
                best = Math.max(best, flops / ((System.nanoTime() - start) / 1e9) / 1e9);
            }
        }
        return best;
    }

    /** 16 independent FMA chains (enough to cover FMA latency x issue width); returns a sum so nothing is dead code. */
    static float chains(int iterations) {
        FloatVector m = FloatVector.broadcast(F, 0.999999f), c = FloatVector.broadcast(F, 1e-7f);
        FloatVector a0 = c, a1 = c, a2 = c, a3 = c, a4 = c, a5 = c, a6 = c, a7 = c;
        FloatVector a8 = c, a9 = c, a10 = c, a11 = c, a12 = c, a13 = c, a14 = c, a15 = c;
        for (int i = 0; i < iterations; i++) {
            a0 = a0.fma(m, c); a1 = a1.fma(m, c); a2 = a2.fma(m, c); a3 = a3.fma(m, c);
            a4 = a4.fma(m, c); a5 = a5.fma(m, c); a6 = a6.fma(m, c); a7 = a7.fma(m, c);
            a8 = a8.fma(m, c); a9 = a9.fma(m, c); a10 = a10.fma(m, c); a11 = a11.fma(m, c);
            a12 = a12.fma(m, c); a13 = a13.fma(m, c); a14 = a14.fma(m, c); a15 = a15.fma(m, c);
        }
        return a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7)
                .add(a8).add(a9).add(a10).add(a11).add(a12).add(a13).add(a14).add(a15).reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
    }
}
