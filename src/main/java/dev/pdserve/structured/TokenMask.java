package dev.pdserve.structured;

import java.util.Arrays;

/** Applying a token bitmask (as {@link Matcher#fillMask} writes it) to a row of logits. */
public final class TokenMask {
    private TokenMask() {}

    /** Sets {@code logits[off + id]} to -infinity for every id in [0, vocab) whose bit is clear. */
    public static void apply(long[] mask, float[] logits, int off, int vocab) {
        int words = vocab >>> 6;
        for (int w = 0; w < words; w++) {
            long m = mask[w];
            if (m == -1L) continue;
            int base = off + (w << 6);
            if (m == 0) {
                Arrays.fill(logits, base, base + 64, Float.NEGATIVE_INFINITY);
                continue;
            }
            for (long blocked = ~m; blocked != 0; blocked &= blocked - 1) logits[base + Long.numberOfTrailingZeros(blocked)] = Float.NEGATIVE_INFINITY;
        }
        for (int id = words << 6; id < vocab; id++) {
            if ((mask[id >>> 6] & (1L << id)) == 0) logits[off + id] = Float.NEGATIVE_INFINITY;
        }
    }

    public static boolean isAllowed(long[] mask, int id) { return (mask[id >>> 6] & (1L << id)) != 0; }

    /** Number of allowed ids in [0, vocab). */
    public static int count(long[] mask, int vocab) {
        int n = 0;
        for (int w = 0; w < vocab >>> 6; w++) n += Long.bitCount(mask[w]);
        for (int id = (vocab >>> 6) << 6; id < vocab; id++) if (isAllowed(mask, id)) n++;
        return n;
    }
}
