package dev.pdserve.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/** msmodelslim's {@code quant_model_description.json}: each weight name mapped to W8A8_DYNAMIC, W8A8 or FLOAT. */
public record QuantDescription(String modelType, Map<String, String> types) {
    public static final String FILE = "quant_model_description.json";

    /** The description in {@code modelDir}, or null when there is none. */
    public static QuantDescription load(Path modelDir) {
        Path file = modelDir.resolve(FILE);
        if (!Files.exists(file)) return null;
        try {
            JsonNode root = new ObjectMapper().readTree(file.toFile());
            Map<String, String> types = new HashMap<>();
            root.properties().forEach(e -> { if (e.getValue().isTextual()) types.put(e.getKey(), e.getValue().asText()); });
            return new QuantDescription(types.getOrDefault("model_quant_type", "W8A8_DYNAMIC"), types);
        } catch (IOException e) {
            throw new ModelLoadException(file + " is not valid JSON: " + e.getMessage());
        }
    }

    public String typeOf(String weightName) {
        return types.getOrDefault(weightName, modelType);
    }
}
