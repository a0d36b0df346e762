package dev.pdserve.model;

import dev.pdserve.kernels.Bf16Matrix;
import dev.pdserve.kernels.F32Matrix;
import dev.pdserve.kernels.Int8Matrix;
import dev.pdserve.kernels.Int8Rows;
import dev.pdserve.kernels.Matrix;
import dev.pdserve.kernels.PanelBf16Matrix;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Turns checkpoint tensors into what the model code computes with, checking each shape against
 * config.json. Multiplied bf16 matrices are repacked into panels at load, row-read ones and f32
 * stay in the mapped file; f16 is widened once at load.
 * Small vectors (norms, biases) are copied to fp32 arrays.
 */
public final class Weights implements AutoCloseable {
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final SafeTensors tensors;
    private final Arena converted = Arena.ofShared();
    private final boolean quantizeToInt8;
    private final QuantDescription description;
    private final int[] fp8Block;
    private long bytes;
    private final java.util.Set<String> linearNames = new java.util.LinkedHashSet<>();

    public Weights(SafeTensors tensors) { this(tensors, false, null, null); }

    /**
     * @param quantizeToInt8 W8A8: quantize float linear weights on load
     * @param description    msmodelslim's quant_model_description.json, or null
     * @param fp8Block       FP8 checkpoints' weight_block_size, or null
     */
    public Weights(SafeTensors tensors, boolean quantizeToInt8, QuantDescription description, int[] fp8Block) {
        this.tensors = tensors;
        this.quantizeToInt8 = quantizeToInt8;
        this.description = description;
        this.fp8Block = fp8Block;
    }

    public boolean has(String name) { return tensors.has(name); }

    /** The projections W8A8 quantizes, in load order: what {@code pdserve quantize} writes as int8. */
    public java.util.Set<String> linearNames() { return java.util.Collections.unmodifiableSet(linearNames); }

    /** Bytes of all weights handed out so far (what a decode step reads). */
    public long bytes() { return bytes; }

    /**
     * A matrix the model multiplies activations by. bf16 is repacked into panels
     * ({@link PanelBf16Matrix}), the layout the batched kernel reads fastest.
     */
    public Matrix matrix(String name, int rows, int cols) {
        return load(name, rows, cols, true);
    }

    /**
     * A matrix read a row at a time (embeddings, MLA's kv_b_proj, quantization input): bf16 stays
     * row-major in the mapped file.
     */
    public Matrix rowMatrix(String name, int rows, int cols) {
        return load(name, rows, cols, false);
    }

    private Matrix load(String name, int rows, int cols, boolean panels) {
        Tensor t = tensors.get(name).expectShape(rows, cols);
        if (t.dtype() == DType.F8_E4M3 || t.dtype() == DType.I8) return linear(name, rows, cols);
        Matrix m = switch (t.dtype()) {
            case BF16 -> panels ? PanelBf16Matrix.pack(t.data(), rows, cols, converted) : new Bf16Matrix(t.data(), rows, cols);
            case F32 -> new F32Matrix(t.data(), rows, cols);
            case F16 -> new F32Matrix(widenF16(t), rows, cols);
            default -> throw new ModelLoadException("tensor '" + name + "' in " + t.file() + " is " + t.dtype()
                    + "; this model loads BF16, F16 or F32 (use --quantization for int8 checkpoints)");
        };
        bytes += m.bytes();
        return m;
    }

    /**
     * A projection that W8A8 may quantize (everything but embeddings, norms, the MoE router and
     * lm_head, which go through {@link #matrix}). int8 checkpoints load as they are; FP8 ones are
     * dequantized with their block scales.
     */
    public Matrix linear(String name, int rows, int cols) {
        Tensor t = tensors.get(name).expectShape(rows, cols);
        linearNames.add(name);
        Matrix m;
        if (t.dtype() == DType.I8) {
            m = int8FromCheckpoint(name, t, rows, cols);
        } else if (t.dtype() == DType.F8_E4M3) {
            int[] block = fp8Block != null ? fp8Block : new int[] {128, 128};
            float[] scaleInv = toFloats(tensors.get(name + "_scale_inv"));
            if (quantizeToInt8) {
                try (Arena bf16 = Arena.ofShared()) { // only the packed int8 stays
                    m = Int8Matrix.pack(Quantizer.quantizeRows(Quantizer.dequantizeFp8(t, scaleInv, block[0], block[1], bf16), bf16), converted);
                }
            } else {
                m = Quantizer.dequantizeFp8(t, scaleInv, block[0], block[1], converted);
            }
        } else if (quantizeToInt8) {
            try (Arena rowMajor = Arena.ofShared()) {
                m = Int8Matrix.pack(Quantizer.quantizeRows(rowMatrix(name, rows, cols), rowMajor), converted);
            }
            bytes -= matrixBytes(t);
        } else {
            return matrix(name, rows, cols);
        }
        bytes += m.bytes();
        return m;
    }

    private static long matrixBytes(Tensor t) { return t.data().byteSize(); }

    private Matrix int8FromCheckpoint(String name, Tensor t, int rows, int cols) {
        String base = name.substring(0, name.length() - ".weight".length());
        String type = description == null ? "W8A8_DYNAMIC" : description.typeOf(name);
        float[] scale = toFloats(tensors.get(base + ".weight_scale"));
        if (scale.length != rows) throw new ModelLoadException("tensor '" + base + ".weight_scale' in " + t.file() + " has " + scale.length + " values, expected " + rows);
        float[] offset = tensors.has(base + ".weight_offset") ? toFloats(tensors.get(base + ".weight_offset")) : null;
        if (offset != null) {
            boolean allZero = true;
            for (float o : offset) allZero &= o == 0f;
            if (allZero) offset = null;
        }
        Int8Rows.StaticInput staticInput = null;
        if (type.equals("W8A8")) {
            float inputScale = toFloats(tensors.get(base + ".input_scale"))[0];
            float inputOffset = toFloats(tensors.get(base + ".input_offset"))[0];
            Tensor deq = tensors.get(base + ".deq_scale");
            if (deq.dtype() != DType.F32) throw new ModelLoadException("tensor '" + deq.name() + "' in " + deq.file() + " is " + deq.dtype() + "; pdserve reads float32 deq_scale (bf16 models)");
            staticInput = new Int8Rows.StaticInput(inputScale, inputOffset, toInts(tensors.get(base + ".quant_bias")), toFloats(deq));
        } else if (!type.equals("W8A8_DYNAMIC")) {
            throw new ModelLoadException("tensor '" + name + "' is int8 but quant_model_description.json says '" + type + "' (supported: W8A8_DYNAMIC, W8A8)");
        }
        return Int8Matrix.pack(new Int8Rows(t.data(), rows, cols, scale, offset, staticInput), converted);
    }

    static int[] toInts(Tensor t) {
        if (t.dtype() != DType.I32) throw new ModelLoadException("tensor '" + t.name() + "' in " + t.file() + " is " + t.dtype() + ", expected I32");
        int[] out = new int[Math.toIntExact(t.numel())];
        for (int i = 0; i < out.length; i++) out[i] = t.data().get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 4L * i);
        return out;
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
