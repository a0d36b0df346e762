package dev.pdserve.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;

/**
 * The context length, derived and checked as vLLM's {@code _get_and_verify_max_len} does: the
 * smallest of config.json's length keys (and tokenizer_config.json's {@code model_max_length}),
 * times the RoPE scaling factor (for YaRN: {@code original_max_position_embeddings} times it). A
 * {@code --max-model-len} above that is refused, since positions past the trained length give
 * garbage, unless {@code VLLM_ALLOW_LONG_MAX_MODEL_LEN=1}, which turns the refusal into a warning.
 */
final class MaxModelLen {
    /** config.json keys vLLM reads a maximum length from, in its order. */
    private static final List<String> KEYS = List.of("max_position_embeddings", "n_positions", "max_seq_len", "seq_length",
            "model_max_length", "max_target_positions", "max_sequence_length", "max_seq_length", "seq_len");
    /** vLLM's guess when config.json has none of the keys. */
    private static final int DEFAULT = 2048;

    /** The model's maximum length and how it was found, e.g. "max_position_embeddings=256 x yarn factor 4.0". */
    record Derived(long length, String why) {}

    private MaxModelLen() {}

    static Derived derive(Path modelDir) {
        JsonNode c = json(modelDir.resolve("config.json"));
        double len = Double.POSITIVE_INFINITY;
        String key = null;
        for (String k : KEYS) {
            if (c.path(k).isNumber() && c.get(k).asDouble() < len) {
                len = c.get(k).asDouble();
                key = k;
            }
        }
        if (c.path("model_max_length").isNumber()) {
            len = c.get("model_max_length").asDouble();
            key = "model_max_length";
        }
        Path tokenizerConfig = modelDir.resolve("tokenizer_config.json");
        if (Files.exists(tokenizerConfig)) {
            JsonNode t = json(tokenizerConfig);
            if (t.path("model_max_length").isNumber() && t.get("model_max_length").asDouble() < len) {
                len = t.get("model_max_length").asDouble();
                key = "tokenizer_config.json model_max_length";
            }
        }
        if (Double.isInfinite(len)) {
            len = DEFAULT;
            key = "no length in config.json, vLLM's default";
        }
        String why = key + "=" + (long) len;
        JsonNode rope = c.hasNonNull("rope_parameters") ? c.get("rope_parameters") : c.path("rope_scaling");
        if (rope.isObject()) {
            String type = rope.path("rope_type").asText(rope.path("type").asText("default")).toLowerCase(Locale.ROOT);
            if (!List.of("su", "longrope", "llama3").contains(type) && !c.path("model_type").asText().contains("gemma3")) {
                double factor = rope.path("factor").asDouble(1.0);
                if (type.equals("yarn") && rope.path("original_max_position_embeddings").isNumber()) {
                    len = rope.get("original_max_position_embeddings").asDouble();
                    why = "original_max_position_embeddings=" + (long) len;
                }
                if (factor != 1.0) why += " x " + type + " factor " + factor;
                len *= factor;
            }
        }
        return new Derived((long) len, why);
    }

    /**
     * The context length to serve: {@code requested}, or the derived one when null. Throws
     * {@link IllegalArgumentException} with both numbers when {@code requested} is longer and
     * {@code allowLong} is false; else {@code warn} gets the same message.
     */
    static int resolve(Integer requested, Path modelDir, boolean allowLong, Consumer<String> warn) {
        Derived d = derive(modelDir);
        if (requested == null) return (int) Math.min(d.length(), Integer.MAX_VALUE);
        if (requested < 1) throw new IllegalArgumentException("--max-model-len must be at least 1, got " + requested);
        if (requested <= d.length()) return requested;
        String msg = "--max-model-len " + requested + " is greater than the model's maximum length " + d.length()
                + " (" + d.why() + ", from " + modelDir.resolve("config.json") + ")";
        if (!allowLong) {
            throw new IllegalArgumentException(msg + ". To allow it anyway, set the env var VLLM_ALLOW_LONG_MAX_MODEL_LEN=1 "
                    + "(positions past the trained length give wrong output).");
        }
        warn.accept(msg + "; served anyway because VLLM_ALLOW_LONG_MAX_MODEL_LEN is set: positions past " + d.length() + " give wrong output");
        return requested;
    }

    /** vLLM's reading of VLLM_ALLOW_LONG_MAX_MODEL_LEN: "1" or "true", any case. */
    static boolean allowLong(String env) {
        return env != null && List.of("1", "true").contains(env.strip().toLowerCase(Locale.ROOT));
    }

    private static JsonNode json(Path file) {
        try {
            return new ObjectMapper().readTree(Files.readString(file));
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read " + file + ": " + e.getMessage());
        }
    }
}
