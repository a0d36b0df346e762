package dev.pdserve.structured;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * An immutable set of Unicode scalar values (code points without the surrogates, which UTF-8
 * cannot encode), kept as sorted disjoint inclusive ranges {@code [lo0, hi0, lo1, hi1, ...]}.
 */
final class CodePointSet {
    static final int MAX = 0x10FFFF;
    static final CodePointSet EMPTY = new CodePointSet(new int[0]);
    static final CodePointSet ALL = of(0, MAX);

    private final int[] ranges;

    private CodePointSet(int[] ranges) { this.ranges = ranges; }

    static CodePointSet of(int lo, int hi) { return normalize(new int[] {lo, hi}); }

    static CodePointSet ofChars(String chars) {
        int[] r = chars.codePoints().flatMap(c -> java.util.stream.IntStream.of(c, c)).toArray();
        return normalize(r);
    }

    /** Sorts, merges and drops the surrogate block. */
    private static CodePointSet normalize(int[] raw) {
        int n = raw.length / 2;
        long[] pairs = new long[n];
        for (int i = 0; i < n; i++) pairs[i] = ((long) raw[2 * i] << 32) | (raw[2 * i + 1] & 0xFFFFFFFFL);
        Arrays.sort(pairs);
        List<int[]> out = new ArrayList<>();
        for (long p : pairs) {
            int lo = Math.max(0, (int) (p >> 32)), hi = Math.min(MAX, (int) p);
            if (lo > hi) continue;
            int[] last = out.isEmpty() ? null : out.getLast();
            if (last != null && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
            else out.add(new int[] {lo, hi});
        }
        List<Integer> flat = new ArrayList<>();
        for (int[] r : out) { // cut out U+D800..U+DFFF
            if (r[1] < 0xD800 || r[0] > 0xDFFF) { flat.add(r[0]); flat.add(r[1]); continue; }
            if (r[0] < 0xD800) { flat.add(r[0]); flat.add(0xD7FF); }
            if (r[1] > 0xDFFF) { flat.add(0xE000); flat.add(r[1]); }
        }
        return new CodePointSet(flat.stream().mapToInt(Integer::intValue).toArray());
    }

    CodePointSet union(CodePointSet o) {
        int[] r = Arrays.copyOf(ranges, ranges.length + o.ranges.length);
        System.arraycopy(o.ranges, 0, r, ranges.length, o.ranges.length);
        return normalize(r);
    }

    CodePointSet complement() {
        List<Integer> r = new ArrayList<>();
        int next = 0;
        for (int i = 0; i < ranges.length; i += 2) {
            if (ranges[i] > next) { r.add(next); r.add(ranges[i] - 1); }
            next = ranges[i + 1] + 1;
        }
        if (next <= MAX) { r.add(next); r.add(MAX); }
        return normalize(r.stream().mapToInt(Integer::intValue).toArray());
    }

    CodePointSet minus(CodePointSet o) { return complement().union(o).complement(); }

    CodePointSet intersect(CodePointSet o) { return complement().union(o.complement()).complement(); }

    boolean contains(int cp) {
        for (int i = 0; i < ranges.length; i += 2) if (cp >= ranges[i] && cp <= ranges[i + 1]) return true;
        return false;
    }

    boolean isEmpty() { return ranges.length == 0; }

    int numRanges() { return ranges.length / 2; }

    int lo(int i) { return ranges[2 * i]; }

    int hi(int i) { return ranges[2 * i + 1]; }

    /**
     * The set as UTF-8: a list of byte-range sequences, each {@code [lo0, hi0, lo1, hi1, ...]} over
     * bytes, whose concatenated products are exactly the encodings of the set's code points.
     */
    List<int[]> utf8Sequences() {
        List<int[]> out = new ArrayList<>();
        int[] bounds = {0, 0x7F, 0x80, 0x7FF, 0x800, 0xFFFF, 0x10000, MAX};
        for (int i = 0; i < ranges.length; i += 2) {
            for (int b = 0; b < bounds.length; b += 2) {
                int lo = Math.max(ranges[i], bounds[b]), hi = Math.min(ranges[i + 1], bounds[b + 1]);
                if (lo <= hi) split(lo, hi, b / 2 + 1, out);
            }
        }
        return out;
    }

    /** Splits [lo, hi] (same encoded length n) until every byte position ranges independently. */
    private static void split(int lo, int hi, int n, List<int[]> out) {
        for (int i = 1; i < n; i++) {
            int m = (1 << (6 * i)) - 1;
            if ((lo & ~m) != (hi & ~m)) {
                if ((lo & m) != 0) { split(lo, lo | m, n, out); split((lo | m) + 1, hi, n, out); return; }
                if ((hi & m) != m) { split(lo, (hi & ~m) - 1, n, out); split(hi & ~m, hi, n, out); return; }
            }
        }
        byte[] a = encode(lo), b = encode(hi);
        int[] seq = new int[2 * n];
        for (int i = 0; i < n; i++) { seq[2 * i] = a[i] & 0xFF; seq[2 * i + 1] = b[i] & 0xFF; }
        out.add(seq);
    }

    private static byte[] encode(int cp) { return new String(Character.toChars(cp)).getBytes(java.nio.charset.StandardCharsets.UTF_8); }

    @Override
    public boolean equals(Object o) { return o instanceof CodePointSet s && Arrays.equals(ranges, s.ranges); }

    @Override
    public int hashCode() { return Arrays.hashCode(ranges); }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < ranges.length; i += 2) sb.append(String.format("%X-%X ", ranges[i], ranges[i + 1]));
        return sb.append(']').toString();
    }
}
