package dev.pdserve.kernels;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.stream.IntStream;

/**
 * W8A8: int8 weights run against activations quantized per token (or with a static scale), in the
 * panel layout of {@link PanelBf16Matrix}: panels of {@link #PANEL} rows stored column by column,
 * one 64-byte line per column. (With 32-row panels, 32-byte columns, the weights streamed from
 * memory at a third of the bf16 rate at batch 8: a line per two steps kept too few loads in flight.)
 *
 * <p>The kernel widens the int8 weights and the int8-valued activations to fp32 and sums their
 * products in fp32: a product is at most 128 * 128 in magnitude, so the sums are exact integers
 * while they stay below 2^24 (in practice always; beyond, one rounding). The Vector API reaches no
 * int8 dot-product instruction, and widening to fp32 fma does 16 multiply-adds per instruction
 * where int16 products summed in int32 needed six instructions per 32. Each row's scales are
 * applied once at the end: {@code out = (acc + rowAdd[r] + rowZero[r] * xSum[t]) * rowMul[r] * xScale[t]}.
 */
public final class Int8Matrix implements Matrix {
    private static final VectorSpecies<Float> F = Bf16Matrix.F;
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(F.vectorBitSize() / 4));
    private static final int L = F.length();
    /** Rows per panel: four vectors, so one column of a panel is one 64-byte line, as in the bf16 panels. */
    public static final int PANEL = 4 * L;

    private final MemorySegment data;
    private final int rows;
    private final int cols;
    private final Int8Rows.StaticInput staticInput;
    private final float[] scales;
    private final float[] offsets;
    /** The epilogue per row, padded to whole panels: dynamic (-offset, 0, scale), static (0, quantBias, deqScale). */
    private final float[] rowZero;
    private final float[] rowAdd;
    private final float[] rowMul;

    private Int8Matrix(MemorySegment data, Int8Rows q) {
        this.data = data;
        this.rows = q.rows();
        this.cols = q.cols();
        this.staticInput = q.staticInput();
        this.scales = q.scales();
        this.offsets = q.offsets();
        int padded = panels(rows) * PANEL;
        rowZero = new float[padded];
        rowAdd = new float[padded];
        rowMul = new float[padded];
        for (int r = 0; r < rows; r++) {
            if (staticInput == null) {
                rowZero[r] = offsets == null ? 0f : -offsets[r];
                rowMul[r] = scales[r];
            } else {
                rowAdd[r] = staticInput.quantBias()[r];
                rowMul[r] = staticInput.deqScale()[r];
            }
        }
    }

    private static int panels(int rows) { return (rows + PANEL - 1) / PANEL; }

    /** Repacks row-major int8 weights into panels allocated in {@code arena}. */
    public static Int8Matrix pack(Int8Rows q, Arena arena) {
        int rows = q.rows(), cols = q.cols();
        MemorySegment packed = HugePages.allocate(arena, (long) panels(rows) * PANEL * cols); // zeroed: padding rows give 0
        IntStream.range(0, panels(rows)).parallel().forEach(p -> {
            for (int r = p * PANEL; r < Math.min(rows, (p + 1) * PANEL); r++) {
                for (int k = 0; k < cols; k++) packed.set(ValueLayout.JAVA_BYTE, offset(r, k, cols), q.q(r, k));
            }
        });
        HugePages.collapse(packed);
        return new Int8Matrix(packed, q);
    }

    @Override public int rows() { return rows; }
    @Override public int cols() { return cols; }
    /** Bytes read by one pass: the padded panels and the row scales. */
    @Override public long bytes() { return data.byteSize() + 4L * rows; }
    /** Two panels: the pool then hands out pairs, which batch-1 multiplies walk together. */
    @Override public int rowAlign() { return 2 * PANEL; }

    @Override
    public boolean wantsInt8Input() { return true; }

    @Override
    public void multiply(float[] x, int tokens, float[] out, int outStride, int r0, int r1) {
        throw new UnsupportedOperationException("W8A8 matrices multiply quantized activations; use MatMul");
    }

    @Override
    public void multiplyQuantized(float[] xq, float[] xScale, float[] xSum, int tokens, float[] out, int outStride, int r0, int r1) {
        if (r0 % PANEL != 0) throw new IllegalArgumentException("row range must start on a panel of " + PANEL + ", got " + r0);
        for (int r = r0; r < r1; r += PANEL) {
            if (tokens % 4 != 0 && r + 2 * PANEL <= Math.min(r1, rows)) {
                twoPanels(xq, tokens, out, outStride, r);
                finish(xScale, xSum, tokens, out, outStride, r, r);
                finish(xScale, xSum, tokens, out, outStride, r + PANEL, r + PANEL);
                r += PANEL;
            } else if (r + PANEL <= rows) {
                panel(xq, tokens, out, outStride, r, r);
                finish(xScale, xSum, tokens, out, outStride, r, r);
            } else {
                // The last, partial panel: computed whole into scratch, then its real rows copied out.
                float[] scratch = SCRATCH.get();
                if (scratch.length < tokens * PANEL) SCRATCH.set(scratch = new float[tokens * PANEL]);
                panel(xq, tokens, scratch, PANEL, 0, r);
                finish(xScale, xSum, tokens, scratch, PANEL, 0, r);
                for (int t = 0; t < tokens; t++) System.arraycopy(scratch, t * PANEL, out, t * outStride + r, rows - r);
            }
        }
    }

    /** Rows [r, r+2*PANEL) when tokens are left over from the 4-blocks (all of them at batch 1): those walk both panels at once. */
    private void twoPanels(float[] x, int tokens, float[] out, int outStride, int r) {
        int blocked = tokens & ~3;
        long first = (long) r * cols, second = first + (long) PANEL * cols;
        for (int t = 0; t < blocked; t += 4) block4(x, t, out, outStride, r, first);
        for (int t = 0; t < blocked; t += 4) block4(x, t, out, outStride, r + PANEL, second);
        for (int t = blocked; t < tokens; t++) block1x2(x, t, out, outStride, r, first, second);
    }

    private static final ThreadLocal<float[]> SCRATCH = ThreadLocal.withInitial(() -> new float[0]);

    /** Scales the raw integer sums of rows [r, r+PANEL), found at {@code out[t*outStride + col ..]}. */
    private void finish(float[] xScale, float[] xSum, int tokens, float[] out, int outStride, int col, int r) {
        for (int h = 0; h < PANEL; h += L) {
            FloatVector zero = FloatVector.fromArray(F, rowZero, r + h), add = FloatVector.fromArray(F, rowAdd, r + h);
            FloatVector mul = FloatVector.fromArray(F, rowMul, r + h);
            for (int t = 0; t < tokens; t++) {
                int o = t * outStride + col + h;
                FloatVector acc = FloatVector.fromArray(F, out, o).add(add);
                zero.fma(FloatVector.broadcast(F, xSum[t]), acc).mul(mul).mul(xScale[t]).intoArray(out, o);
            }
        }
    }

    /** Rows [r, r+PANEL) for all tokens: 4 at a time, then one by one (the first block streams the panel in, the rest find it in L2). */
    private void panel(float[] x, int tokens, float[] out, int outStride, int col, int r) {
        long panel = (long) r * cols;
        int t = 0;
        for (; t + 4 <= tokens; t += 4) block4(x, t, out, outStride, col, panel);
        for (; t < tokens; t++) block1(x, t, out, outStride, col, panel);
    }

    private FloatVector widen(long offset) {
        return (FloatVector) ByteVector.fromMemorySegment(B, data, offset, ByteOrder.nativeOrder()).convertShape(VectorOperators.B2F, F, 0);
    }

    private static FloatVector at(float[] x, int i) { return FloatVector.broadcast(F, x[i]); }

    private void block4(float[] x, int t, float[] out, int outStride, int col, long panel) {
        FloatVector z = FloatVector.zero(F);
        int x0 = t * cols, x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols;
        int o0 = t * outStride + col, o1 = o0 + outStride, o2 = o1 + outStride, o3 = o2 + outStride;
        FloatVector a0 = z, b0 = z, c0 = z, d0 = z, a1 = z, b1 = z, c1 = z, d1 = z;
        FloatVector a2 = z, b2 = z, c2 = z, d2 = z, a3 = z, b3 = z, c3 = z, d3 = z;
        for (int k = 0; k < cols; k++) {
            long w = panel + (long) PANEL * k;
            FloatVector wa = widen(w), wb = widen(w + L), wc = widen(w + 2 * L), wd = widen(w + 3 * L);
            FloatVector v = at(x, x0 + k);
            a0 = wa.fma(v, a0); b0 = wb.fma(v, b0); c0 = wc.fma(v, c0); d0 = wd.fma(v, d0);
            v = at(x, x1 + k);
            a1 = wa.fma(v, a1); b1 = wb.fma(v, b1); c1 = wc.fma(v, c1); d1 = wd.fma(v, d1);
            v = at(x, x2 + k);
            a2 = wa.fma(v, a2); b2 = wb.fma(v, b2); c2 = wc.fma(v, c2); d2 = wd.fma(v, d2);
            v = at(x, x3 + k);
            a3 = wa.fma(v, a3); b3 = wb.fma(v, b3); c3 = wc.fma(v, c3); d3 = wd.fma(v, d3);
        }
        store(a0, b0, c0, d0, out, o0);
        store(a1, b1, c1, d1, out, o1);
        store(a2, b2, c2, d2, out, o2);
        store(a3, b3, c3, d3, out, o3);
    }

    private void block1(float[] x, int t, float[] out, int outStride, int col, long panel) {
        FloatVector z = FloatVector.zero(F);
        int x0 = t * cols;
        FloatVector a0 = z, b0 = z, c0 = z, d0 = z;
        for (int k = 0; k < cols; k++) {
            long w = panel + (long) PANEL * k;
            FloatVector v = at(x, x0 + k);
            a0 = widen(w).fma(v, a0);
            b0 = widen(w + L).fma(v, b0);
            c0 = widen(w + 2 * L).fma(v, c0);
            d0 = widen(w + 3 * L).fma(v, d0);
        }
        store(a0, b0, c0, d0, out, t * outStride + col);
    }

    private void block1x2(float[] x, int t, float[] out, int outStride, int col, long first, long second) {
        FloatVector z = FloatVector.zero(F);
        int x0 = t * cols;
        FloatVector a0 = z, b0 = z, c0 = z, d0 = z, a1 = z, b1 = z, c1 = z, d1 = z;
        for (int k = 0; k < cols; k++) {
            long w = (long) PANEL * k;
            FloatVector v = at(x, x0 + k);
            a0 = widen(first + w).fma(v, a0);
            b0 = widen(first + w + L).fma(v, b0);
            c0 = widen(first + w + 2 * L).fma(v, c0);
            d0 = widen(first + w + 3 * L).fma(v, d0);
            a1 = widen(second + w).fma(v, a1);
            b1 = widen(second + w + L).fma(v, b1);
            c1 = widen(second + w + 2 * L).fma(v, c1);
            d1 = widen(second + w + 3 * L).fma(v, d1);
        }
        store(a0, b0, c0, d0, out, t * outStride + col);
        store(a1, b1, c1, d1, out, t * outStride + col + PANEL);
    }

    private static void store(FloatVector a, FloatVector b, FloatVector c, FloatVector d, float[] out, int o) {
        a.intoArray(out, o); b.intoArray(out, o + L); c.intoArray(out, o + 2 * L); d.intoArray(out, o + 3 * L);
    }

    /** Offset of weight (r, k): its panel's start ({@code r0 * cols}, as the kernels use), then column k's line. */
    private static long offset(int r, int k, int cols) {
        return (long) (r - r % PANEL) * cols + (long) k * PANEL + r % PANEL;
    }

    private float weight(int r, int k) {
        float q = data.get(ValueLayout.JAVA_BYTE, offset(r, k, cols));
        return (q - (offsets == null ? 0f : offsets[r])) * scales[r];
    }

    /** The dequantized row against fp32 activations (no activation quantization): for checks, not hot paths. */
    @Override
    public float dotRow(int r, float[] x, int xOff) {
        float s = 0;
        for (int c = 0; c < cols; c++) s += weight(r, c) * x[xOff + c];
        return s;
    }

    @Override
    public void addScaledRow(int r, float a, float[] acc, int accOff) {
        for (int c = 0; c < cols; c++) acc[accOff + c] += a * weight(r, c);
    }

    @Override
    public void copyRow(int r, float[] dst, int off) {
        for (int c = 0; c < cols; c++) dst[off + c] = weight(r, c);
    }

    @Override
    public void quantizeInput(float[] x, int tokens, float[] xq, float[] xScale, float[] xSum) {
        if (staticInput == null) {
            quantizeActivations(x, tokens, cols, xq, xScale, xSum);
            return;
        }
        float inv = 1f / staticInput.inputScale();
        for (int t = 0; t < tokens; t++) {
            xScale[t] = 1f; // the calibrated scales are folded into deqScale
            xSum[t] = 0f;
            for (int i = t * cols; i < (t + 1) * cols; i++) {
                xq[i] = Math.max(-128, Math.min(127, Math.round(x[i] * inv + staticInput.inputOffset())));
            }
        }
    }

    /**
     * Quantizes {@code tokens} rows of {@code cols} activations symmetrically per row:
     * {@code xq = rint(x / s)} (nearest, ties to even, as vLLM's int8 kernels round) with
     * {@code s = max|x| / 127}, kept as (integer-valued) floats; also the row sums of xq (for zero
     * points). Vectorised: it runs on the calling thread before the rows are split.
     */
    public static void quantizeActivations(float[] x, int tokens, int cols, float[] xq, float[] xScale, float[] xSum) {
        int upper = F.loopBound(cols);
        for (int t = 0; t < tokens; t++) {
            int base = t * cols;
            float max = maxAbs(x, base, upper, cols);
            float s = max == 0 ? 1f : max / 127f;
            float inv = 1f / s;
            xScale[t] = s;
            xSum[t] = roundRow(x, xq, base, upper, cols, inv);
        }
    }

    private static final VectorSpecies<Integer> BITS = VectorSpecies.of(int.class, F.vectorShape());

    /**
     * max |x| over a row, as the largest bit pattern with the sign cleared (ordered like the values
     * for non-negative floats; a NaN wins, as with Math.max): an int max is one instruction, while
     * a float max with Java's -0.0 and NaN rules is several.
     */
    private static float maxAbs(float[] x, int base, int upper, int cols) {
        IntVector m = IntVector.zero(BITS);
        int c = 0;
        for (; c < upper; c += L) m = m.max(FloatVector.fromArray(F, x, base + c).reinterpretAsInts().and(0x7FFFFFFF));
        float max = Float.intBitsToFloat(m.reduceLanes(VectorOperators.MAX));
        for (; c < cols; c++) max = Math.max(max, Math.abs(x[base + c]));
        return max;
    }

    /** 1.5 * 2^23: adding and subtracting it rounds a float below 2^22 to the nearest integer, ties to even. */
    private static final float ROUNDER = 12582912f;

    private static float roundRow(float[] x, float[] xq, int base, int upper, int cols, float inv) {
        FloatVector sum = FloatVector.zero(F);
        int c = 0;
        for (; c < upper; c += L) {
            // |x * inv| <= 127 within a few ulps, so no clamp is needed: it rounds to at most 127.
            FloatVector q = FloatVector.fromArray(F, x, base + c).mul(inv).add(ROUNDER).sub(ROUNDER);
            q.intoArray(xq, base + c);
            sum = sum.add(q);
        }
        float total = sum.reduceLanes(VectorOperators.ADD); // integers below 2^24: exact in any order
        for (; c < cols; c++) {
            float q = (float) Math.rint(x[base + c] * inv);
            xq[base + c] = q;
            total += q;
        }
        return total;
    }
}
