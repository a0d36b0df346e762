package dev.pdserve.jmh;

import dev.pdserve.kernels.Int8Matrix;

import java.util.Random;

/**
 * W8A8's per-token activation quantization ({@link Int8Matrix#quantizeActivations}), which runs on
 * the calling thread before a matmul's rows are split: nanoseconds per value.
 *
 * <pre>ActivationQuantProbe [--tokens 32] [--cols 2048] [--seconds 2]</pre>
 */
public final class ActivationQuantProbe {
    public static void main(String[] argv) {
        int tokens = 32, cols = 2048;
        double seconds = 2;
        for (int i = 0; i < argv.length; i++) {
            switch (argv[i]) {
                case "--tokens" -> tokens = Integer.parseInt(argv[++i]);
                case "--cols" -> cols = Integer.parseInt(argv[++i]);
                case "--seconds" -> seconds = Double.parseDouble(argv[++i]);
                default -> throw new IllegalArgumentException("unknown argument " + argv[i]);
            }
        }
        float[] x = new float[tokens * cols], xq = new float[x.length], xScale = new float[tokens], xSum = new float[tokens];
        Random rnd = new Random(1);
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        for (int w = 0; w < 2000; w++) Int8Matrix.quantizeActivations(x, tokens, cols, xq, xScale, xSum);
        long start = System.nanoTime(), end = start + (long) (seconds * 1e9);
        long calls = 0;
        while (System.nanoTime() < end) {
            Int8Matrix.quantizeActivations(x, tokens, cols, xq, xScale, xSum);
            calls++;
        }
        double ns = (System.nanoTime() - start) / (double) calls / x.length;
        System.out.printf("tokens=%d cols=%d ns_per_value=%.3f checksum=%.0f%n", tokens, cols, ns, xSum[0]);
    }
}
