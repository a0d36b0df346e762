package dev.pdserve.kernels;

/**
 * A weight matrix of {@code rows x cols} in its storage dtype (row-major, one output channel per
 * row, as PyTorch's Linear stores it). Kernels widen to fp32 on the fly and accumulate in fp32.
 */
public interface Matrix {
    int rows();

    int cols();

    /** Bytes of weight storage read by one full pass over the matrix. */
    long bytes();

    /**
     * For each of {@code tokens} activation rows {@code x[t*cols ..]}: {@code out[t*outStride + r] = row(r) . x_t}
     * for rows r in [r0, r1). Reads each weight row once for all tokens.
     */
    void multiply(float[] x, int tokens, float[] out, int outStride, int r0, int r1);

    /** Row ranges given to {@link #multiply} start on a multiple of this (a kernel's row block). */
    default int rowAlign() { return 1; }

    /** {@code row(r) . x[xOff .. xOff+cols)}. */
    float dotRow(int r, float[] x, int xOff);

    /** {@code acc[accOff + c] += a * row(r)[c]} for all columns c. */
    void addScaledRow(int r, float a, float[] acc, int accOff);

    /** Copies row r widened to fp32 into {@code dst[off ..]}. */
    void copyRow(int r, float[] dst, int off);

    /** True for W8A8 matrices, which multiply activations quantized per token (see {@link Int8Matrix}). */
    default boolean wantsInt8Input() { return false; }

    /** Quantizes activations the way this matrix expects them (per token, or with a static scale). */
    default void quantizeInput(float[] x, int tokens, float[] xq, float[] xScale, float[] xSum) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " takes fp32 activations");
    }

    /** As {@link #multiply} over int8-valued activations {@code xq} with per-token scales and row sums. */
    default void multiplyQuantized(float[] xq, float[] xScale, float[] xSum, int tokens, float[] out, int outStride, int r0, int r1) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " takes fp32 activations");
    }
}
