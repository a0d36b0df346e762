package dev.pdserve.jmh;

import dev.pdserve.model.ModelConfig;
import dev.pdserve.model.SafeTensors;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Memory read bandwidth with the Vector API: sums a large off-heap float array (far beyond the
 * L3 cache) with one thread and with two, and prints GB/s. Given a model folder it also prints
 * the decode roofline: weight bytes read per token divided by the bandwidth.
 *
 * <pre>java --add-modules jdk.incubator.vector -cp ... dev.pdserve.jmh.BandwidthProbe [--size-mib 1024] [--seconds 3] [--model DIR]</pre>
 */
public final class BandwidthProbe {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    public static void main(String[] args) throws Exception {
        long sizeMib = 1024;
        double seconds = 3;
        Path model = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--size-mib" -> sizeMib = Long.parseLong(args[++i]);
                case "--seconds" -> seconds = Double.parseDouble(args[++i]);
                case "--model" -> model = Path.of(args[++i]);
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        try (Arena arena = Arena.ofShared()) {
            long bytes = sizeMib << 20;
            MemorySegment data = arena.allocate(bytes, 4096);
            // Touch every page with non-zero values before timing.
            for (long off = 0; off < bytes; off += 4) data.set(ValueLayout.JAVA_FLOAT_UNALIGNED, off, 1f);
            System.out.printf("array %d MiB, %d-bit vectors%n", sizeMib, S.vectorBitSize());
            // Compile sum() before timing: the first full pass would otherwise run interpreted.
            float warm = 0;
            for (int i = 0; i < 200; i++) warm += sum(data, 0, Math.min(bytes, 4 << 20));
            System.out.printf("warm-up checksum %.0f%n", warm);
            double one = measure(data, 1, seconds / 2);
            double two = measure(data, 2, seconds / 2);
            System.out.printf("bandwidth_1t_gbps=%.2f%nbandwidth_2t_gbps=%.2f%n", one, two);
            if (model != null) roofline(model, Math.max(one, two));
        }
    }

    /** Best GB/s over repeated full passes, each thread summing its share of the array. */
    static double measure(MemorySegment data, int threads, double seconds) throws Exception {
        long share = data.byteSize() / threads / (S.vectorByteSize() * 4L) * (S.vectorByteSize() * 4L);
        double best = 0;
        float check = 0;
        try (ExecutorService pool = Executors.newFixedThreadPool(threads)) {
            long end = System.nanoTime() + (long) (seconds * 1e9);
            int passes = 0;
            while (passes < 3 || System.nanoTime() < end) {
                long start = System.nanoTime();
                Future<?>[] parts = new Future<?>[threads];
                float[] sums = new float[threads];
                for (int t = 0; t < threads; t++) {
                    int id = t;
                    parts[t] = pool.submit(() -> sums[id] = sum(data, id * share, share));
                }
                for (Future<?> f : parts) f.get();
                double gbps = threads * share / ((System.nanoTime() - start) / 1e9) / 1e9;
                best = Math.max(best, gbps);
                for (float s : sums) check += s;
                passes++;
            }
            System.out.printf("%d thread(s): %d passes, best %.2f GB/s (checksum %.0f)%n", threads, passes, best, check);
        }
        return best;
    }

    static float sum(MemorySegment data, long from, long length) {
        FloatVector a = FloatVector.zero(S), b = a, c = a, d = a;
        long step = S.vectorByteSize();
        for (long off = from, end = from + length; off < end; off += 4 * step) {
            a = a.add(FloatVector.fromMemorySegment(S, data, off, ByteOrder.nativeOrder()));
            b = b.add(FloatVector.fromMemorySegment(S, data, off + step, ByteOrder.nativeOrder()));
            c = c.add(FloatVector.fromMemorySegment(S, data, off + 2 * step, ByteOrder.nativeOrder()));
            d = d.add(FloatVector.fromMemorySegment(S, data, off + 3 * step, ByteOrder.nativeOrder()));
        }
        return a.add(b).add(c).add(d).reduceLanes(VectorOperators.ADD);
    }

    /**
     * Batch-1 decode reads every weight once per token, except the embedding table (one row) and,
     * in a mixture of experts, the routed experts not chosen: only num_experts_per_tok of
     * n_routed_experts per layer.
     */
    static void roofline(Path model, double gbps) {
        ModelConfig config = ModelConfig.load(model);
        double expertShare = config.moe() == null || config.moe().nRoutedExperts() == 0 ? 1
                : (double) config.moe().numExpertsPerTok() / config.moe().nRoutedExperts();
        long total = 0;
        double perToken = 0;
        try (SafeTensors st = SafeTensors.open(model)) {
            for (String name : st.names()) {
                long b = st.get(name).data().byteSize();
                total += b;
                if (name.endsWith("embed_tokens.weight")) continue;
                perToken += name.contains(".mlp.experts.") ? b * expertShare : b;
            }
        }
        System.out.printf("weights_gb=%.3f%ndecode_bytes_per_token_gb=%.3f%ndecode_roofline_tok_s=%.1f%n",
                total / 1e9, perToken / 1e9, gbps * 1e9 / perToken);
    }
}
