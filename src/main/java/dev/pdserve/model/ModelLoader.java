package dev.pdserve.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pdserve.kernels.WorkerPool;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Loads a Hugging Face checkpoint folder into the model class of its {@code model_type}. */
public final class ModelLoader {
    private ModelLoader() {}

    public static CausalLM load(Path modelDir, LoadOptions options) {
        if (!Files.isDirectory(modelDir)) throw new ModelLoadException("model folder " + modelDir + " does not exist");
        ModelConfig config = ModelConfig.load(modelDir);
        boolean w8a8 = quantizeToInt8(options.quantization());
        SafeTensors tensors = SafeTensors.open(modelDir);
        Weights weights = new Weights(tensors, w8a8, QuantDescription.load(modelDir), fp8BlockSize(modelDir));
        WorkerPool pool = new WorkerPool(options.resolvedThreads());
        try {
            return switch (config.modelType()) {
                case "deepseek_v3" -> new DeepseekV3Model(config, weights, pool, true);
                default -> new LlamaModel(config, weights, pool, true, slidingWindow(modelDir, config));
            };
        } catch (RuntimeException e) {
            pool.close();
            weights.close();
            throw e;
        }
    }

    /** The checkpoint tensors a loaded model reads as projections: what quantizing a checkpoint converts (the model code decides). */
    public static java.util.Set<String> linearWeightNames(CausalLM model) {
        return java.util.Set.copyOf(((DecoderModel) model).linearWeightNames());
    }

    public static final java.util.List<String> QUANTIZATIONS = java.util.List.of("w8a8", "w8a8_dynamic", "ascend");

    /** --quantization: W8A8 by any of its names (vllm-ascend calls it "ascend"); null keeps the checkpoint's dtype. */
    static boolean quantizeToInt8(String method) {
        if (method == null || method.isBlank() || method.equalsIgnoreCase("none")) return false;
        if (QUANTIZATIONS.contains(method.toLowerCase(java.util.Locale.ROOT))) return true;
        throw new ModelLoadException("quantization '" + method + "' is not supported; supported: " + String.join(", ", QUANTIZATIONS)
                + " (FP8 and int8 checkpoints are detected from their files)");
    }

    /** config.json's quantization_config.weight_block_size for FP8 checkpoints, else null. */
    private static int[] fp8BlockSize(Path modelDir) {
        try {
            JsonNode q = new ObjectMapper().readTree(modelDir.resolve("config.json").toFile()).path("quantization_config");
            JsonNode b = q.path("weight_block_size");
            if (!b.isArray() || b.size() != 2) return null;
            return new int[] {b.get(0).asInt(), b.get(1).asInt()};
        } catch (IOException e) {
            throw new ModelLoadException("cannot read " + modelDir.resolve("config.json") + ": " + e.getMessage());
        }
    }

    /** Mistral's and Qwen2's window, when one is set and the model uses it; 0 for none. */
    private static int slidingWindow(Path modelDir, ModelConfig config) {
        try {
            JsonNode c = new ObjectMapper().readTree(modelDir.resolve("config.json").toFile());
            JsonNode w = c.get("sliding_window");
            if (w == null || w.isNull() || c.path("use_sliding_window").asBoolean(config.modelType().equals("mistral")) == false) return 0;
            return w.asInt(0) >= config.maxPositionEmbeddings() ? 0 : w.asInt(0);
        } catch (IOException e) {
            throw new ModelLoadException("cannot read " + modelDir.resolve("config.json") + ": " + e.getMessage());
        }
    }
}
