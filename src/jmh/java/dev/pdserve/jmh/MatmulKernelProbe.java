package dev.pdserve.jmh;

import dev.pdserve.kernels.Bf16Matrix;
import dev.pdserve.kernels.Int8Matrix;
import dev.pdserve.kernels.MatMul;
import dev.pdserve.kernels.Matrix;
import dev.pdserve.kernels.PanelBf16Matrix;
import dev.pdserve.kernels.WorkerPool;
import dev.pdserve.model.Quantizer;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;

/**
 * One matmul shape at several token counts: bf16 row-major ({@link Bf16Matrix}), bf16 panels
 * ({@link PanelBf16Matrix}) and W8A8 panels ({@link Int8Matrix}, activations quantized per call):
 * GFLOP/s and GB/s of weights, from the mean time of a few seconds of calls each.
 *
 * <pre>MatmulKernelProbe [--rows 8192] [--cols 2048] [--tokens 1,8,32,64] [--threads N] [--seconds 2] [--copies 1]</pre>
 * {@code --copies N} cycles through N copies of the matrix, so that with N x size over the L3 every
 * call reads its weights from memory, as a model's layers do.
 */
public final class MatmulKernelProbe {
    public static void main(String[] argv) {
        int rows = 8192, cols = 2048, threads = Runtime.getRuntime().availableProcessors();
        int[] tokenCounts = {1, 8, 32, 64};
        double seconds = 2;
        int copies = 1;
        for (int i = 0; i < argv.length; i++) {
            switch (argv[i]) {
                case "--rows" -> rows = Integer.parseInt(argv[++i]);
                case "--cols" -> cols = Integer.parseInt(argv[++i]);
                case "--tokens" -> tokenCounts = java.util.Arrays.stream(argv[++i].split(",")).mapToInt(Integer::parseInt).toArray();
                case "--threads" -> threads = Integer.parseInt(argv[++i]);
                case "--seconds" -> seconds = Double.parseDouble(argv[++i]);
                case "--copies" -> copies = Integer.parseInt(argv[++i]);
                default -> throw new IllegalArgumentException("unknown argument " + argv[i]);
            }
        }
        Random rnd = new Random(1);
        try (Arena arena = Arena.ofShared(); WorkerPool pool = new WorkerPool(threads)) {
            MemorySegment w = arena.allocate(2L * rows * cols, 64);
            for (long i = 0; i < (long) rows * cols; i++) {
                w.set(ValueLayout.JAVA_SHORT_UNALIGNED, 2 * i, (short) (Float.floatToRawIntBits((float) rnd.nextGaussian() * 0.02f) >>> 16));
            }
            Matrix[] rowMajor = new Matrix[copies], panels = new Matrix[copies], int8 = new Matrix[copies];
            for (int c = 0; c < copies; c++) {
                MemorySegment copy = c == 0 ? w : arena.allocate(w.byteSize(), 64).copyFrom(w);
                rowMajor[c] = new Bf16Matrix(copy, rows, cols);
                panels[c] = PanelBf16Matrix.pack(copy, rows, cols, arena);
                int8[c] = Int8Matrix.pack(Quantizer.quantizeRows(rowMajor[c], arena), arena);
            }
            MatMul matmul = new MatMul(pool);
            System.out.printf("%dx%d (%d copies), %d threads%n| tokens | bf16 row-major GFLOP/s | bf16 panels GFLOP/s | int8 panels GFLOP/s | bf16 row-major GB/s | bf16 panels GB/s | int8 panels GB/s |%n|---:|---:|---:|---:|---:|---:|---:|%n", rows, cols, copies, threads);
            for (int tokens : tokenCounts) {
                float[] x = new float[tokens * cols];
                for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
                float[] out = new float[tokens * rows];
                double a = mean(matmul, rowMajor, x, tokens, out, seconds);
                double b = mean(matmul, panels, x, tokens, out, seconds);
                double q = mean(matmul, int8, x, tokens, out, seconds);
                double flops = 2.0 * rows * cols * tokens, bytes = 2.0 * rows * cols;
                System.out.printf("| %d | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f |%n", tokens, flops / a / 1e9, flops / b / 1e9, flops / q / 1e9,
                        bytes / a / 1e9, bytes / b / 1e9, bytes / 2 / q / 1e9);
            }
        }
    }

    /** Mean seconds per call over {@code seconds} (after one untimed call): what a model's step sees, not the best case. */
    private static double mean(MatMul matmul, Matrix[] m, float[] x, int tokens, float[] out, double seconds) {
        matmul.run(m[0], x, tokens, out);
        long start = System.nanoTime(), end = start + (long) (seconds * 1e9);
        int calls = 0;
        while (System.nanoTime() < end) matmul.run(m[calls++ % m.length], x, tokens, out);
        return (System.nanoTime() - start) / 1e9 / calls;
    }
}
