package dev.pdserve.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/** Element-wise and row-wise kernels over fp32 arrays, vectorised, in place where it reads naturally. */
public final class Ops {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();

    private Ops() {}

    /** {@code out[o..o+n) = x[i..i+n) / rms(x) * weight}, as transformers' RMSNorm in fp32. */
    public static void rmsNorm(float[] x, int xOff, float[] weight, double eps, float[] out, int outOff, int n) {
        int upper = F.loopBound(n);
        FloatVector acc = FloatVector.zero(F);
        int k = 0;
        for (; k < upper; k += L) {
            FloatVector v = FloatVector.fromArray(F, x, xOff + k);
            acc = v.fma(v, acc);
        }
        float ss = Lanes.sum(acc);
        for (; k < n; k++) ss += x[xOff + k] * x[xOff + k];
        float scale = (float) (1.0 / Math.sqrt(ss / n + eps));
        k = 0;
        for (; k < upper; k += L) {
            FloatVector.fromArray(F, x, xOff + k).mul(scale).mul(FloatVector.fromArray(F, weight, k)).intoArray(out, outOff + k);
        }
        for (; k < n; k++) out[outOff + k] = x[xOff + k] * scale * weight[k];
    }

    /**
     * {@code gate[i] = silu(gate[i]) * up[i]} over n values (SwiGLU), vectorised with {@link #exp}:
     * at batch 32, {@code Math.exp} one value at a time took a tenth of a 1B model's decode step.
     * One loop with masked edges, so a value gets the same bits wherever it falls in a range a
     * caller splits.
     */
    public static void siluMul(float[] gate, int gOff, float[] up, int uOff, int n) {
        for (int k = 0; k < n; k += L) {
            VectorMask<Float> m = F.indexInRange(k, n);
            FloatVector g = FloatVector.fromArray(F, gate, gOff + k, m);
            g.div(exp(g.neg()).add(1f)).mul(FloatVector.fromArray(F, up, uOff + k, m)).intoArray(gate, gOff + k, m);
        }
    }

    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    /** 1.5 * 2^23: adding it rounds a float below 2^22 to an integer, kept in the low mantissa bits. */
    private static final float ROUND = 12582912f;

    /**
     * e^x per lane within 2 ulp: Cephes' expf (x = n ln2 + r, a degree-5 polynomial in r, times 2^n)
     * in plain vector arithmetic, not {@code VectorOperators.EXP}, whose compiled (SVML) and
     * interpreted (Math.exp) forms differ in the last bit; this gives the same bits in both.
     * Inputs are clamped to [-87.3, 88.3], where e^x is a normal float. Written as methods of under
     * 35 bytecodes, which C2 always inlines: a vector passed across a call that is not inlined is
     * boxed, and the whole expf in one method was too large to be inlined at every call site.
     */
    static FloatVector exp(FloatVector x) {
        return expOfClamped(x.max(-87.3f).min(88.3f));
    }

    private static FloatVector expOfClamped(FloatVector x) {
        FloatVector shifted = x.fma(LOG2E, ROUND);
        return expPolynomial(expRemainder(x, shifted)).mul(powerOfTwo(shifted));
    }

    /** r = x - n ln2, with n = shifted - ROUND, in two steps (ln2 split in a high and a low part). */
    private static FloatVector expRemainder(FloatVector x, FloatVector shifted) {
        FloatVector n = shifted.sub(ROUND);
        return n.fma(c(-LN2_LO), n.fma(c(-LN2_HI), x));
    }

    /** 1 + r + r^2 (1/2 + r/6 + ...), Horner's rule in three pieces. */
    private static FloatVector expPolynomial(FloatVector r) {
        return expSeriesTail(r).fma(r, c(5.0000001201e-1f)).fma(r.mul(r), r).add(1f);
    }

    private static FloatVector expSeriesTail(FloatVector r) {
        return expSeriesTop(r).fma(r, c(4.1665795894e-2f)).fma(r, c(1.6666665459e-1f));
    }

    private static FloatVector expSeriesTop(FloatVector r) {
        return r.fma(c(1.9875691500e-4f), c(1.3981999507e-3f)).fma(r, c(8.3334519073e-3f));
    }

    /** 2^n from shifted = ROUND + n: n + 127 into the exponent field. */
    private static FloatVector powerOfTwo(FloatVector shifted) {
        return shifted.reinterpretAsInts().sub(Float.floatToRawIntBits(ROUND) - 127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
    }

    private static FloatVector c(float v) { return FloatVector.broadcast(F, v); }

    /** {@code acc[a..a+n) += x[b..b+n)}. */
    public static void add(float[] acc, int aOff, float[] x, int xOff, int n) {
        int upper = F.loopBound(n);
        int k = 0;
        for (; k < upper; k += L) {
            FloatVector.fromArray(F, acc, aOff + k).add(FloatVector.fromArray(F, x, xOff + k)).intoArray(acc, aOff + k);
        }
        for (; k < n; k++) acc[aOff + k] += x[xOff + k];
    }

    /** {@code acc[a..a+n) += s * x[b..b+n)}. */
    public static void addScaled(float[] acc, int aOff, float[] x, int xOff, float s, int n) {
        int upper = F.loopBound(n);
        FloatVector sv = FloatVector.broadcast(F, s);
        int k = 0;
        for (; k < upper; k += L) {
            FloatVector.fromArray(F, x, xOff + k).fma(sv, FloatVector.fromArray(F, acc, aOff + k)).intoArray(acc, aOff + k);
        }
        for (; k < n; k++) acc[aOff + k] += s * x[xOff + k];
    }

    /** {@code a[aOff..+n) . b[bOff..+n)}. */
    public static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        int upper = F.loopBound(n);
        FloatVector acc = FloatVector.zero(F);
        int k = 0;
        for (; k < upper; k += L) acc = FloatVector.fromArray(F, a, aOff + k).fma(FloatVector.fromArray(F, b, bOff + k), acc);
        float s = Lanes.sum(acc);
        for (; k < n; k++) s += a[aOff + k] * b[bOff + k];
        return s;
    }

    /** {@code q[qOff..+n) . seg[byteOff..+4n)} with the segment holding little-endian fp32 (a KV cache row). */
    public static float dot(float[] q, int qOff, MemorySegment seg, long byteOff, int n) {
        int upper = F.loopBound(n);
        FloatVector acc = FloatVector.zero(F);
        int k = 0;
        for (; k < upper; k += L) {
            acc = FloatVector.fromArray(F, q, qOff + k).fma(FloatVector.fromMemorySegment(F, seg, byteOff + 4L * k, ByteOrder.LITTLE_ENDIAN), acc);
        }
        float s = Lanes.sum(acc);
        for (; k < n; k++) s += q[qOff + k] * seg.get(KvLayouts.F32, byteOff + 4L * k);
        return s;
    }

    /**
     * {@code out[o..o+n) = sum over j of w[j] * seg[rows[j] ..+4n)} (fp32 rows, in j order): cached
     * values weighted by attention probabilities. Four vectors of the output stay in registers
     * across all rows instead of a load and store per row.
     */
    public static void weightedRows(float[] out, int outOff, float[] w, long[] rows, int count, MemorySegment seg, int n) {
        int k = 0;
        for (; k + 4 * L <= n; k += 4 * L) {
            FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
            for (int j = 0; j < count; j++) {
                FloatVector p = FloatVector.broadcast(F, w[j]);
                long b = rows[j] + 4L * k;
                a0 = FloatVector.fromMemorySegment(F, seg, b, ByteOrder.LITTLE_ENDIAN).fma(p, a0);
                a1 = FloatVector.fromMemorySegment(F, seg, b + 4L * L, ByteOrder.LITTLE_ENDIAN).fma(p, a1);
                a2 = FloatVector.fromMemorySegment(F, seg, b + 8L * L, ByteOrder.LITTLE_ENDIAN).fma(p, a2);
                a3 = FloatVector.fromMemorySegment(F, seg, b + 12L * L, ByteOrder.LITTLE_ENDIAN).fma(p, a3);
            }
            a0.intoArray(out, outOff + k);
            a1.intoArray(out, outOff + k + L);
            a2.intoArray(out, outOff + k + 2 * L);
            a3.intoArray(out, outOff + k + 3 * L);
        }
        for (; k + L <= n; k += L) {
            FloatVector a = FloatVector.zero(F);
            for (int j = 0; j < count; j++) a = FloatVector.fromMemorySegment(F, seg, rows[j] + 4L * k, ByteOrder.LITTLE_ENDIAN).fma(FloatVector.broadcast(F, w[j]), a);
            a.intoArray(out, outOff + k);
        }
        for (; k < n; k++) {
            float a = 0f;
            for (int j = 0; j < count; j++) a = Math.fma(seg.get(KvLayouts.F32, rows[j] + 4L * k), w[j], a);
            out[outOff + k] = a;
        }
    }

    /**
     * In-place softmax of {@code x[off..off+n)}, max-subtracted for stability. Vectorised with
     * {@link #exp} (attention runs one per token, head and layer); the sum is a fixed-order vector
     * sum with the tail masked in, so the bits depend only on the values.
     */
    public static void softmax(float[] x, int off, int n) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, x[off + i]);
        FloatVector sum = FloatVector.zero(F);
        for (int k = 0; k < n; k += L) { // masked edges: bits independent of where a value falls
            VectorMask<Float> m = F.indexInRange(k, n);
            FloatVector e = exp(FloatVector.fromArray(F, x, off + k, m).sub(max));
            e.intoArray(x, off + k, m);
            sum = sum.add(e, m);
        }
        float inv = 1f / Lanes.sum(sum);
        int upper = F.loopBound(n), k = 0;
        for (; k < upper; k += L) FloatVector.fromArray(F, x, off + k).mul(inv).intoArray(x, off + k);
        for (; k < n; k++) x[off + k] *= inv;
    }
}
