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
        if (options.quantization() != null) {
            throw new ModelLoadException("quantization '" + options.quantization() + "' is not supported yet");
        }
        SafeTensors tensors = SafeTensors.open(modelDir);
        Weights weights = new Weights(tensors);
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
