package dev.pdserve.model.checkpoint;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pdserve.kernels.Int8Rows;
import dev.pdserve.kernels.Matrix;
import dev.pdserve.model.CausalLM;
import dev.pdserve.model.DType;
import dev.pdserve.model.LoadOptions;
import dev.pdserve.model.ModelLoader;
import dev.pdserve.model.QuantDescription;
import dev.pdserve.model.Quantizer;
import dev.pdserve.model.SafeTensors;
import dev.pdserve.model.Tensor;
import dev.pdserve.model.Weights;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Set;

/**
 * Writes a quantized copy of a bf16/f16/f32 checkpoint, in the layouts pdserve (and the serving
 * stacks they come from) read:
 * <ul>
 *   <li>{@code w8a8_dynamic}: msmodelslim / vllm-ascend: {@code X.weight} int8, {@code X.weight_scale}
 *   and {@code X.weight_offset} fp32 [rows, 1], and {@code quant_model_description.json}. The int8
 *   values and scales are exactly those of quantizing on load, so both load to the same logits.</li>
 *   <li>{@code fp8}: DeepSeek's: {@code X.weight} F8_E4M3 with {@code X.weight_scale_inv} fp32 per
 *   128x128 block, and {@code quantization_config} in config.json.</li>
 * </ul>
 * Which tensors are quantized is what the model itself loads as projections, so the rule lives in
 * one place (the model code).
 */
public final class CheckpointQuantizer {
    public static final Set<String> METHODS = Set.of("w8a8_dynamic", "fp8");
    private static final int FP8_BLOCK = 128;
    private static final float E4M3_MAX = 448f;

    private CheckpointQuantizer() {}

    public static void quantize(Path modelDir, Path outDir, String method) throws IOException {
        if (!METHODS.contains(method)) throw new IllegalArgumentException("unknown method '" + method + "': use w8a8_dynamic or fp8");
        if (modelDir.toAbsolutePath().normalize().equals(outDir.toAbsolutePath().normalize())) {
            throw new IllegalArgumentException("--out must differ from --model");
        }
        Set<String> linear;
        try (CausalLM lm = ModelLoader.load(modelDir, LoadOptions.defaults().withThreads(1))) {
            linear = ModelLoader.linearWeightNames(lm);
        }
        Files.createDirectories(outDir);
        SafeTensors in = SafeTensors.open(modelDir);
        try (Weights reader = new Weights(in); Arena arena = Arena.ofShared()) {
            SafetensorsWriter out = new SafetensorsWriter();
            ObjectNode description = new ObjectMapper().createObjectNode();
            description.put("model_quant_type", "W8A8_DYNAMIC");
            for (String name : in.names()) {
                Tensor t = in.get(name);
                if (!linear.contains(name)) {
                    out.add(name, t.dtype(), t.shape(), t.data());
                    description.put(name, "FLOAT");
                    continue;
                }
                int rows = (int) t.shape()[0], cols = (int) t.shape()[1];
                Matrix m = reader.rowMatrix(name, rows, cols);
                String base = name.substring(0, name.length() - ".weight".length());
                if (method.equals("fp8")) {
                    addFp8(out, name, m, arena);
                } else {
                    Int8Rows q = Quantizer.quantizeRows(m, arena);
                    out.add(name, DType.I8, t.shape(), q.data());
                    MemorySegment scale = arena.allocateFrom(ValueLayout.JAVA_FLOAT, q.scales());
                    out.add(base + ".weight_scale", DType.F32, new long[] {rows, 1}, scale);
                    out.add(base + ".weight_offset", DType.F32, new long[] {rows, 1}, arena.allocate(4L * rows));
                    for (String n : new String[] {name, base + ".weight_scale", base + ".weight_offset"}) description.put(n, "W8A8_DYNAMIC");
                }
            }
            out.metadata("format", "pt");
            out.write(outDir.resolve("model.safetensors"));
            if (method.equals("w8a8_dynamic")) {
                Files.writeString(outDir.resolve(QuantDescription.FILE), description.toPrettyString());
            }
        }
        copyConfigAndTokenizer(modelDir, outDir, method);
    }

    /** E4M3 with one scale per 128x128 block: scale_inv = amax / 448, q = nearest code of w / scale_inv. */
    private static void addFp8(SafetensorsWriter out, String name, Matrix m, Arena arena) {
        int rows = m.rows(), cols = m.cols();
        int br = (rows + FP8_BLOCK - 1) / FP8_BLOCK, bc = (cols + FP8_BLOCK - 1) / FP8_BLOCK;
        float[] w = new float[rows * cols];
        for (int r = 0; r < rows; r++) m.copyRow(r, w, r * cols);
        float[] scaleInv = new float[br * bc];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                int b = (r / FP8_BLOCK) * bc + c / FP8_BLOCK;
                scaleInv[b] = Math.max(scaleInv[b], Math.abs(w[r * cols + c]));
            }
        }
        for (int b = 0; b < scaleInv.length; b++) scaleInv[b] = scaleInv[b] == 0 ? 1f : scaleInv[b] / E4M3_MAX;
        MemorySegment codes = arena.allocate((long) rows * cols);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                float v = w[r * cols + c] / scaleInv[(r / FP8_BLOCK) * bc + c / FP8_BLOCK];
                codes.set(ValueLayout.JAVA_BYTE, (long) r * cols + c, Quantizer.toE4M3(v));
            }
        }
        out.add(name, DType.F8_E4M3, new long[] {rows, cols}, codes);
        out.add(name + "_scale_inv", DType.F32, new long[] {br, bc}, arena.allocateFrom(ValueLayout.JAVA_FLOAT, scaleInv));
    }

    private static void copyConfigAndTokenizer(Path modelDir, Path outDir, String method) throws IOException {
        ObjectMapper om = new ObjectMapper();
        ObjectNode config = (ObjectNode) om.readTree(modelDir.resolve("config.json").toFile());
        if (method.equals("fp8")) {
            ObjectNode q = config.putObject("quantization_config");
            q.put("quant_method", "fp8").put("fmt", "e4m3").put("activation_scheme", "dynamic");
            q.putArray("weight_block_size").add(FP8_BLOCK).add(FP8_BLOCK);
        }
        Files.writeString(outDir.resolve("config.json"), config.toPrettyString());
        try (var files = Files.list(modelDir)) {
            for (Path p : files.toList()) {
                String n = p.getFileName().toString();
                boolean weights = n.endsWith(".safetensors") || n.equals("model.safetensors.index.json");
                if (!weights && !n.equals("config.json") && !n.equals(QuantDescription.FILE) && Files.isRegularFile(p)) {
                    Files.copy(p, outDir.resolve(n), StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }
}
