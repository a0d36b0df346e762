package dev.pdserve.kernels;

import jdk.incubator.vector.FloatVector;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.stream.IntStream;

/**
 * A bf16 matrix repacked at load for batched multiplies. Rows are grouped in panels of
 * {@link #PANEL} (two vectors: 32 rows with AVX-512), and a panel is stored column by column: for
 * each k its {@code PANEL} weights side by side, one cache line. The kernel keeps, per token, two
 * vectors of running sums per panel and adds {@code w[rows][k] * x_t[k]} for k = 0, 1, ...: one
 * widened weight vector serves 4 tokens, and there are no horizontal sums.
 *
 * <p>Panels are walked in pairs (4 tokens x 2 panels) or, for tokens left over (all of them at
 * batch 1), in fours: every walk then streams two or four lines per step instead of one, and with
 * that many loads in flight the weights arrive at memory speed. One panel at a time (8-token
 * blocks) was latency-bound: batch 8 of a 1B Llama 77 ms against 57, batch 1 61 ms against 44.
 *
 * <p>Every (row, token) result is one fp32 fma chain over k in column order, on every path
 * (4-token and 1-token walks over one, two or four panels, {@link #dotRow}), so a token's bits do
 * not depend on the batch around it: batch invariance holds by construction.
 */
public final class PanelBf16Matrix implements Matrix {
    private static final int L = Bf16Matrix.L;
    /** Rows per panel; row ranges handed to {@link #multiply} start on a panel. */
    public static final int PANEL = 2 * L;
    private static final ValueLayout.OfShort BF16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final MemorySegment data;
    private final int rows;
    private final int cols;

    private PanelBf16Matrix(MemorySegment data, int rows, int cols) {
        this.data = data;
        this.rows = rows;
        this.cols = cols;
    }

    /** Repacks a row-major bf16 matrix ({@code rows x cols}, little-endian) into panels allocated in {@code arena}. */
    public static PanelBf16Matrix pack(MemorySegment rowMajor, int rows, int cols, Arena arena) {
        if (rowMajor.byteSize() != 2L * rows * cols) {
            throw new IllegalArgumentException("bf16 matrix " + rows + "x" + cols + " needs " + 2L * rows * cols + " bytes, got " + rowMajor.byteSize());
        }
        int panels = (rows + PANEL - 1) / PANEL;
        MemorySegment packed = HugePages.allocate(arena, 2L * panels * PANEL * cols); // zeroed: padding rows give 0
        IntStream.range(0, panels).parallel().forEach(p -> {
            for (int r = p * PANEL; r < Math.min(rows, (p + 1) * PANEL); r++) {
                long src = 2L * r * cols;
                for (int k = 0; k < cols; k++) packed.set(BF16, offset(r, k, cols), rowMajor.get(BF16, src + 2L * k));
            }
        });
        HugePages.collapse(packed);
        return new PanelBf16Matrix(packed, rows, cols);
    }

    @Override public int rows() { return rows; }
    @Override public int cols() { return cols; }
    /** Bytes read by one pass: the padded panels. */
    @Override public long bytes() { return data.byteSize(); }
    /**
     * Two panels, so the pool hands out pairs; chunks of a large matrix hold many pairs, so batch 1
     * still walks four panels at once. Small matrices (MoE experts) keep enough chunks to share.
     */
    @Override public int rowAlign() { return 2 * PANEL; }

    @Override
    public void multiply(float[] x, int tokens, float[] out, int outStride, int r0, int r1) {
        if (r0 % PANEL != 0) throw new IllegalArgumentException("row range must start on a panel of " + PANEL + ", got " + r0);
        for (int r = r0; r < r1; r += PANEL) {
            if (tokens % 4 != 0 && r + 4 * PANEL <= Math.min(r1, rows)) {
                fourPanels(x, tokens, out, outStride, r);
                r += 3 * PANEL;
            } else if (r + 2 * PANEL <= Math.min(r1, rows)) {
                twoPanels(x, tokens, out, outStride, r);
                r += PANEL;
            } else if (r + PANEL <= rows) {
                panel(x, tokens, out, outStride, r, r);
            } else {
                // The last, partial panel: computed whole into scratch, then its real rows copied out.
                float[] scratch = SCRATCH.get();
                if (scratch.length < tokens * PANEL) SCRATCH.set(scratch = new float[tokens * PANEL]);
                panel(x, tokens, scratch, PANEL, 0, r);
                for (int t = 0; t < tokens; t++) System.arraycopy(scratch, t * PANEL, out, t * outStride + r, rows - r);
            }
        }
    }

    private static final ThreadLocal<float[]> SCRATCH = ThreadLocal.withInitial(() -> new float[0]);

    /**
     * Rows [r, r+PANEL) for all tokens into {@code out[t*outStride + col ..+PANEL]}: a lone panel at
     * the end of a range. Each block runs over all columns: passes over column slices measured no
     * faster, as a panel (32 x cols bf16) and the tokens' x stay in L2 anyway.
     */
    private void panel(float[] x, int tokens, float[] out, int outStride, int col, int r) {
        long panel = 2L * r * cols;
        int t = 0;
        for (; t + 4 <= tokens; t += 4) block4(x, t, out, outStride, col, panel);
        for (; t < tokens; t++) block1(x, t, out, outStride, col, panel);
    }

    /** Rows [r, r+2*PANEL): 4-token blocks over both panels, then the tokens left over over both. */
    private void twoPanels(float[] x, int tokens, float[] out, int outStride, int r) {
        int blocked = tokens & ~3;
        long first = 2L * r * cols, second = first + 2L * PANEL * cols;
        for (int t = 0; t < blocked; t += 4) block4x2(x, t, out, outStride, r, first, second);
        for (int t = blocked; t < tokens; t++) block1x2(x, t, out, outStride, r, first, second);
    }

    private void block4x2(float[] x, int t, float[] out, int outStride, int col, long first, long second) {
        FloatVector z = FloatVector.zero(Bf16Matrix.F);
        int x0 = t * cols, x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols;
        int o0 = t * outStride + col, o1 = o0 + outStride, o2 = o1 + outStride, o3 = o2 + outStride;
        FloatVector a0 = z, b0 = z, c0 = z, d0 = z, a1 = z, b1 = z, c1 = z, d1 = z;
        FloatVector a2 = z, b2 = z, c2 = z, d2 = z, a3 = z, b3 = z, c3 = z, d3 = z;
        for (int k = 0; k < cols; k++) {
            long w = 2L * PANEL * k;
            FloatVector wa = Bf16Matrix.widen(data, first + w), wb = Bf16Matrix.widen(data, first + w + 2L * L);
            FloatVector wc = Bf16Matrix.widen(data, second + w), wd = Bf16Matrix.widen(data, second + w + 2L * L);
            FloatVector v = at(x, x0 + k);
            a0 = wa.fma(v, a0); b0 = wb.fma(v, b0); c0 = wc.fma(v, c0); d0 = wd.fma(v, d0);
            v = at(x, x1 + k);
            a1 = wa.fma(v, a1); b1 = wb.fma(v, b1); c1 = wc.fma(v, c1); d1 = wd.fma(v, d1);
            v = at(x, x2 + k);
            a2 = wa.fma(v, a2); b2 = wb.fma(v, b2); c2 = wc.fma(v, c2); d2 = wd.fma(v, d2);
            v = at(x, x3 + k);
            a3 = wa.fma(v, a3); b3 = wb.fma(v, b3); c3 = wc.fma(v, c3); d3 = wd.fma(v, d3);
        }
        a0.intoArray(out, o0); b0.intoArray(out, o0 + L); c0.intoArray(out, o0 + PANEL); d0.intoArray(out, o0 + PANEL + L);
        a1.intoArray(out, o1); b1.intoArray(out, o1 + L); c1.intoArray(out, o1 + PANEL); d1.intoArray(out, o1 + PANEL + L);
        a2.intoArray(out, o2); b2.intoArray(out, o2 + L); c2.intoArray(out, o2 + PANEL); d2.intoArray(out, o2 + PANEL + L);
        a3.intoArray(out, o3); b3.intoArray(out, o3 + L); c3.intoArray(out, o3 + PANEL); d3.intoArray(out, o3 + PANEL + L);
    }

    /**
     * Rows [r, r+4*PANEL) when some tokens are left over from the 4-blocks (all of them at batch 1):
     * those walk four panels at once, eight fma chains and four weight streams, which keeps enough
     * loads in flight to stream at memory speed (two panels: 31-32 GB/s, four: 35-53 on the probe).
     */
    private void fourPanels(float[] x, int tokens, float[] out, int outStride, int r) {
        int blocked = tokens & ~3;
        long first = 2L * r * cols, step = 2L * PANEL * cols;
        for (int t = 0; t < blocked; t += 4) block4x2(x, t, out, outStride, r, first, first + step);
        for (int t = 0; t < blocked; t += 4) block4x2(x, t, out, outStride, r + 2 * PANEL, first + 2 * step, first + 3 * step);
        for (int t = blocked; t < tokens; t++) block1x4(x, t, out, outStride, r, first, step);
    }

    private void block1x2(float[] x, int t, float[] out, int outStride, int col, long first, long second) {
        FloatVector z = FloatVector.zero(Bf16Matrix.F);
        int x0 = t * cols, o0 = t * outStride + col;
        FloatVector a0 = z, b0 = z, c0 = z, d0 = z;
        for (int k = 0; k < cols; k++) {
            long w = 2L * PANEL * k;
            FloatVector v = at(x, x0 + k);
            a0 = Bf16Matrix.widen(data, first + w).fma(v, a0);
            b0 = Bf16Matrix.widen(data, first + w + 2L * L).fma(v, b0);
            c0 = Bf16Matrix.widen(data, second + w).fma(v, c0);
            d0 = Bf16Matrix.widen(data, second + w + 2L * L).fma(v, d0);
        }
        a0.intoArray(out, o0); b0.intoArray(out, o0 + L); c0.intoArray(out, o0 + PANEL); d0.intoArray(out, o0 + PANEL + L);
    }

    private void block1x4(float[] x, int t, float[] out, int outStride, int col, long first, long step) {
        FloatVector z = FloatVector.zero(Bf16Matrix.F);
        int x0 = t * cols, o0 = t * outStride + col;
        long p1 = first + step, p2 = p1 + step, p3 = p2 + step;
        FloatVector a0 = z, b0 = z, c0 = z, d0 = z, e0 = z, f0 = z, g0 = z, h0 = z;
        for (int k = 0; k < cols; k++) {
            long w = 2L * PANEL * k;
            FloatVector v = at(x, x0 + k);
            a0 = Bf16Matrix.widen(data, first + w).fma(v, a0);
            b0 = Bf16Matrix.widen(data, first + w + 2L * L).fma(v, b0);
            c0 = Bf16Matrix.widen(data, p1 + w).fma(v, c0);
            d0 = Bf16Matrix.widen(data, p1 + w + 2L * L).fma(v, d0);
            e0 = Bf16Matrix.widen(data, p2 + w).fma(v, e0);
            f0 = Bf16Matrix.widen(data, p2 + w + 2L * L).fma(v, f0);
            g0 = Bf16Matrix.widen(data, p3 + w).fma(v, g0);
            h0 = Bf16Matrix.widen(data, p3 + w + 2L * L).fma(v, h0);
        }
        a0.intoArray(out, o0); b0.intoArray(out, o0 + L); c0.intoArray(out, o0 + PANEL); d0.intoArray(out, o0 + PANEL + L);
        e0.intoArray(out, o0 + 2 * PANEL); f0.intoArray(out, o0 + 2 * PANEL + L); g0.intoArray(out, o0 + 3 * PANEL); h0.intoArray(out, o0 + 3 * PANEL + L);
    }

    private static FloatVector at(float[] x, int i) { return FloatVector.broadcast(Bf16Matrix.F, x[i]); }

    private void block4(float[] x, int t, float[] out, int outStride, int col, long panel) {
        FloatVector z = FloatVector.zero(Bf16Matrix.F);
        int x0 = t * cols, x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols;
        int o0 = t * outStride + col, o1 = o0 + outStride, o2 = o1 + outStride, o3 = o2 + outStride;
        FloatVector a0 = z, b0 = z, a1 = z, b1 = z;
        FloatVector a2 = z, b2 = z, a3 = z, b3 = z;
        for (int k = 0; k < cols; k++) {
            long w = panel + 2L * PANEL * k;
            FloatVector wa = Bf16Matrix.widen(data, w), wb = Bf16Matrix.widen(data, w + 2L * L);
            FloatVector v = at(x, x0 + k);
            a0 = wa.fma(v, a0); b0 = wb.fma(v, b0);
            v = at(x, x1 + k);
            a1 = wa.fma(v, a1); b1 = wb.fma(v, b1);
            v = at(x, x2 + k);
            a2 = wa.fma(v, a2); b2 = wb.fma(v, b2);
            v = at(x, x3 + k);
            a3 = wa.fma(v, a3); b3 = wb.fma(v, b3);
        }
        a0.intoArray(out, o0); b0.intoArray(out, o0 + L); a1.intoArray(out, o1); b1.intoArray(out, o1 + L);
        a2.intoArray(out, o2); b2.intoArray(out, o2 + L); a3.intoArray(out, o3); b3.intoArray(out, o3 + L);
    }

    private void block1(float[] x, int t, float[] out, int outStride, int col, long panel) {
        FloatVector z = FloatVector.zero(Bf16Matrix.F);
        int x0 = t * cols, o0 = t * outStride + col;
        FloatVector a0 = z, b0 = z;
        for (int k = 0; k < cols; k++) {
            long w = panel + 2L * PANEL * k;
            FloatVector v = at(x, x0 + k);
            a0 = Bf16Matrix.widen(data, w).fma(v, a0);
            b0 = Bf16Matrix.widen(data, w + 2L * L).fma(v, b0);
        }
        a0.intoArray(out, o0); b0.intoArray(out, o0 + L);
    }

    /** Byte offset of weight (r, k): its panel's start ({@code 2 * r0 * cols}, as the kernels use), then column k's line. */
    private static long offset(int r, int k, int cols) {
        return 2L * ((long) (r - r % PANEL) * cols + (long) k * PANEL + r % PANEL);
    }

    private float weight(int r, int k) {
        return Float.intBitsToFloat(data.get(BF16, offset(r, k, cols)) << 16);
    }

    /** The same fma chain over k as {@link #multiply}, so the bits agree; strided, so slow: for checks, not hot paths. */
    @Override
    public float dotRow(int r, float[] x, int xOff) {
        float s = 0f;
        for (int k = 0; k < cols; k++) s = Math.fma(weight(r, k), x[xOff + k], s);
        return s;
    }

    @Override
    public void addScaledRow(int r, float a, float[] acc, int accOff) {
        for (int k = 0; k < cols; k++) acc[accOff + k] = Math.fma(weight(r, k), a, acc[accOff + k]);
    }

    @Override
    public void copyRow(int r, float[] dst, int off) {
        for (int k = 0; k < cols; k++) dst[off + k] = weight(r, k);
    }
}
