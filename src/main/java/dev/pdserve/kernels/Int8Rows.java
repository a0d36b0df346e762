package dev.pdserve.kernels;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * W8A8 weights as checkpoints store them: int8, row-major ({@code rows x cols}), one fp32 scale per
 * output row and optionally a zero point per row ({@code w = (q - offset) * scale}); static W8A8 adds
 * its calibrated activation quantization. {@link Int8Matrix#pack} turns this into the matrix the
 * kernels multiply.
 */
public record Int8Rows(MemorySegment data, int rows, int cols, float[] scales, float[] offsets, StaticInput staticInput) {
    /**
     * Static W8A8 (msmodelslim "W8A8"): activations quantized with one calibrated scale and zero
     * point, {@code xq = clamp(round(x / inputScale) + inputOffset)}, and
     * {@code out = (w_q . x_q + quantBias) * deqScale} per output row.
     */
    public record StaticInput(float inputScale, float inputOffset, int[] quantBias, float[] deqScale) {}

    public Int8Rows {
        if (data.byteSize() != (long) rows * cols) throw new IllegalArgumentException("int8 matrix " + rows + "x" + cols + " needs " + (long) rows * cols + " bytes, got " + data.byteSize());
        if (scales.length != rows) throw new IllegalArgumentException("int8 matrix needs " + rows + " scales, got " + scales.length);
        if (offsets != null && offsets.length != rows) throw new IllegalArgumentException("int8 matrix needs " + rows + " offsets, got " + offsets.length);
    }

    /** Dynamic, symmetric W8A8. */
    public Int8Rows(MemorySegment data, int rows, int cols, float[] scales) {
        this(data, rows, cols, scales, null, null);
    }

    public byte q(int r, int c) { return data.get(ValueLayout.JAVA_BYTE, (long) r * cols + c); }
}
