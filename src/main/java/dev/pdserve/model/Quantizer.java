package dev.pdserve.model;

import dev.pdserve.kernels.Bf16Matrix;
import dev.pdserve.kernels.Int8Rows;
import dev.pdserve.kernels.Matrix;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.stream.IntStream;

/** The weight conversions done at load time: bf16/fp32 to W8A8 int8, and FP8 (E4M3) block-scaled to bf16. */
public final class Quantizer {
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final float[] E4M3 = new float[256];

    static {
        for (int code = 0; code < 256; code++) E4M3[code] = decodeE4M3(code);
    }

    private Quantizer() {}

    /**
     * OCP FP8 E4M3 ("e4m3fn", what DeepSeek publishes): 1 sign, 4 exponent bits (bias 7), 3 mantissa
     * bits, subnormals at exponent 0, no infinities, S.1111.111 is NaN; largest finite 448.
     */
    static float decodeE4M3(int code) {
        int sign = (code & 0x80) != 0 ? -1 : 1;
        int exp = (code >> 3) & 0xF, mant = code & 0x7;
        if (exp == 0xF && mant == 0x7) return Float.NaN;
        if (exp == 0) return sign * (mant / 8f) * (float) Math.pow(2, -6);
        return sign * (1 + mant / 8f) * (float) Math.pow(2, exp - 7);
    }

    public static float e4m3(byte code) { return E4M3[code & 0xFF]; }

    /** The E4M3 code nearest to {@code v} (ties to the even code), saturating at +-448; NaN stays NaN. */
    public static byte toE4M3(float v) {
        if (Float.isNaN(v)) return (byte) 0x7F;
        int sign = v < 0 || (v == 0 && 1 / v < 0) ? 0x80 : 0;
        float a = Math.min(Math.abs(v), 448f);
        // Positive codes 0x00..0x7E increase with the code: binary search the nearest.
        int lo = 0, hi = 0x7E;
        while (lo < hi) {
            int mid = (lo + hi + 1) >>> 1;
            if (E4M3[mid] <= a) lo = mid; else hi = mid - 1;
        }
        int code = lo;
        if (code < 0x7E) {
            float down = a - E4M3[code], up = E4M3[code + 1] - a;
            if (up < down || (up == down && (code & 1) == 1)) code++;
        }
        return (byte) (sign | code);
    }

    /**
     * Symmetric per-row int8: scale = max|row| / 127, q = round(w / scale). Deterministic, so
     * quantize-on-load equals a written checkpoint. Rows are independent, so chunks of them run on
     * all cores (a 1B model has ~1.1 G weights to quantize at load).
     */
    public static Int8Rows quantizeRows(Matrix m, Arena arena) {
        int rows = m.rows(), cols = m.cols();
        MemorySegment q = arena.allocate((long) rows * cols, 64);
        float[] scales = new float[rows];
        int chunk = 64;
        IntStream.range(0, (rows + chunk - 1) / chunk).parallel().forEach(i -> {
            float[] row = new float[cols];
            for (int r = i * chunk; r < Math.min(rows, (i + 1) * chunk); r++) scales[r] = quantizeRow(m, r, row, q);
        });
        return new Int8Rows(q, rows, cols, scales);
    }

    private static float quantizeRow(Matrix m, int r, float[] row, MemorySegment q) {
        int cols = row.length;
        m.copyRow(r, row, 0);
        float max = 0;
        for (float v : row) max = Math.max(max, Math.abs(v));
        float scale = max == 0 ? 1f : max / 127f;
        long base = (long) r * cols;
        for (int c = 0; c < cols; c++) {
            int v = Math.round(row[c] / scale);
            q.set(ValueLayout.JAVA_BYTE, base + c, (byte) Math.max(-127, Math.min(127, v)));
        }
        return scale;
    }

    /**
     * DeepSeek's FP8 weights: {@code w[r][c] = e4m3(q[r][c]) * scaleInv[r / bR][c / bC]}, widened
     * into a bf16 copy (round to nearest even).
     */
    public static Bf16Matrix dequantizeFp8(Tensor weight, float[] scaleInv, int blockRows, int blockCols, Arena arena) {
        int rows = (int) weight.shape()[0], cols = (int) weight.shape()[1];
        int scaleCols = (cols + blockCols - 1) / blockCols;
        int scaleRows = (rows + blockRows - 1) / blockRows;
        if (scaleInv.length != scaleRows * scaleCols) {
            throw new ModelLoadException("tensor '" + weight.name() + "_scale_inv' in " + weight.file() + " has " + scaleInv.length
                    + " values but a " + rows + "x" + cols + " weight in " + blockRows + "x" + blockCols + " blocks needs " + scaleRows * scaleCols);
        }
        MemorySegment out = arena.allocate(2L * rows * cols, 64);
        MemorySegment in = weight.data();
        for (int r = 0; r < rows; r++) {
            long base = (long) r * cols;
            int scaleRow = (r / blockRows) * scaleCols;
            for (int c = 0; c < cols; c++) {
                float v = E4M3[in.get(ValueLayout.JAVA_BYTE, base + c) & 0xFF] * scaleInv[scaleRow + c / blockCols];
                out.set(I16, 2 * (base + c), toBf16(v));
            }
        }
        return new Bf16Matrix(out, rows, cols);
    }

    public static short toBf16(float v) {
        int bits = Float.floatToRawIntBits(v);
        if (Float.isNaN(v)) return (short) 0x7FC0;
        int rounding = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }
}
