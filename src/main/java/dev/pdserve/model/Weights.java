package dev.pdserve.model;

import dev.pdserve.kernels.Bf16Matrix;
import dev.pdserve.kernels.F32Matrix;
import dev.pdserve.kernels.Matrix;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Turns checkpoint tensors into what the model code computes with, checking each shape against
 * config.json. bf16 and f32 matrices stay in the mapped file; f16 is widened once at load.
 * Small vectors (norms, biases) are copied to fp32 arrays.
 */
public final class Weights implements AutoCloseable {
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final SafeTensors tensors;
    private final Arena converted = Arena.ofShared();
    private long bytes;

    public Weights(SafeTensors tensors) { this.tensors = tensors; }

    public boolean has(String name) { return tensors.has(name); }

    /** Bytes of all weights handed out so far (what a decode step reads). */
    public long bytes() { return bytes; }

    public Matrix matrix(String name, int rows, int cols) {
        Tensor t = tensors.get(name).expectShape(rows, cols);
        Matrix m = switch (t.dtype()) {
            case BF16 -> new Bf16Matrix(t.data(), rows, cols);
            case F32 -> new F32Matrix(t.data(), rows, cols);
            case F16 -> new F32Matrix(widenF16(t), rows, cols);
            default -> throw new ModelLoadException("tensor '" + name + "' in " + t.file() + " is " + t.dtype()
                    + "; this model loads BF16, F16 or F32 (use --quantization for int8 checkpoints)");
        };
        bytes += m.bytes();
        return m;
    }

    public float[] vector(String name, int n) {
        Tensor t = tensors.get(name).expectShape(n);
        bytes += t.data().byteSize();
        return toFloats(t);
    }

    /** The vector, or null when the checkpoint has no tensor of that name. */
    public float[] optionalVector(String name, int n) {
        return tensors.has(name) ? vector(name, n) : null;
    }

    static float[] toFloats(Tensor t) {
        int n = Math.toIntExact(t.numel());
        float[] out = new float[n];
        MemorySegment d = t.data();
        switch (t.dtype()) {
            case BF16 -> { for (int i = 0; i < n; i++) out[i] = Float.intBitsToFloat(d.get(I16, 2L * i) << 16); }
            case F16 -> { for (int i = 0; i < n; i++) out[i] = Float.float16ToFloat(d.get(I16, 2L * i)); }
            case F32 -> { for (int i = 0; i < n; i++) out[i] = d.get(F32, 4L * i); }
            default -> throw new ModelLoadException("tensor '" + t.name() + "' in " + t.file() + " is " + t.dtype() + ", expected a float type");
        }
        return out;
    }

    private MemorySegment widenF16(Tensor t) {
        long n = t.numel();
        MemorySegment out = converted.allocate(4 * n, 64);
        for (long i = 0; i < n; i++) out.set(F32, 4 * i, Float.float16ToFloat(t.data().get(I16, 2 * i)));
        return out;
    }

    @Override
    public void close() {
        converted.close();
        tensors.close();
    }
}
