package dev.pdserve.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Horizontal sums in a fixed tree (lane i plus lane i^half, halving each time). FloatVector's own
 * reduceLanes(ADD) may sum in a different order in the interpreter than in compiled code, which
 * made the first forward passes of a process differ in the last bits from later ones; this order
 * is the same everywhere, so results are reproducible bit for bit. The shuffles are static final
 * fields so the JIT sees constants and emits plain permutes.
 */
final class Lanes {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    private static final VectorShuffle<Float> SWAP8 = swap(8);
    private static final VectorShuffle<Float> SWAP4 = swap(4);
    private static final VectorShuffle<Float> SWAP2 = swap(2);
    private static final VectorShuffle<Float> SWAP1 = swap(1);

    private Lanes() {}

    private static VectorShuffle<Float> swap(int half) {
        return VectorShuffle.fromOp(F, i -> half < L ? i ^ half : i);
    }

    static float sum(FloatVector v) {
        if (L > 8) v = v.add(v.rearrange(SWAP8));
        if (L > 4) v = v.add(v.rearrange(SWAP4));
        if (L > 2) v = v.add(v.rearrange(SWAP2));
        if (L > 1) v = v.add(v.rearrange(SWAP1));
        return v.lane(0);
    }
}
