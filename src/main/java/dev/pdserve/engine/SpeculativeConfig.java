package dev.pdserve.engine;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * vLLM's {@code --speculative-config} JSON for the two methods pdserve runs: {@code ngram}
 * (drafts copied from the request's own tokens after the longest earlier match of its last
 * {@code prompt_lookup_min..prompt_lookup_max} tokens) and {@code deepseek_mtp} (vLLM's newer
 * name {@code mtp}: DeepSeek-V3's multi-token-prediction layer drafts). Read as vLLM reads it:
 * numbers coerced the lax pydantic way ({@code "4"} and {@code 4.0} are 4), ngram's window 5..5
 * when neither bound is given and one bound standing for both when only one is; an MTP draft
 * length left out is the checkpoint's {@code num_nextn_predict_layers} ({@link #UNSET} here).
 */
public record SpeculativeConfig(Method method, int numSpeculativeTokens, int promptLookupMin, int promptLookupMax) {
    /** An MTP draft length not given: the checkpoint's number of MTP layers, resolved at load. */
    public static final int UNSET = 0;
    /** More drafts than this per step cost more to verify than they can save on a CPU. */
    public static final int MAX_SPECULATIVE_TOKENS = 16;

    public enum Method {
        NGRAM("ngram"), MTP("deepseek_mtp");

        private final String wire;

        Method(String wire) { this.wire = wire; }

        public String wire() { return wire; }
    }

    /** vLLM's methods pdserve does not run, named so the refusal can say what it is. */
    private static final Set<String> OTHER_VLLM_METHODS = Set.of("eagle", "eagle3", "medusa", "mlp_speculator", "draft_model",
            "suffix", "ngram_gpu", "custom_class", "extract_hidden_states", "dflash", "dspark");
    /** vLLM fields that only concern a draft model, tensor parallelism or a GPU: accepted and ignored. */
    private static final Set<String> IGNORED_FIELDS = Set.of("model", "draft_tensor_parallel_size", "enforce_eager", "quantization",
            "disable_padded_drafter_batch", "disable_logprobs", "disable_log_stats", "disable_by_batch_size",
            "max_model_len", "revision", "code_revision", "draft_sample_method", "rejection_sample_method", "moe_backend",
            "attention_backend", "kv_cache_dtype", "use_local_argmax_reduction");
    private static final Set<String> FIELDS = Set.of("method", "num_speculative_tokens", "prompt_lookup_min", "prompt_lookup_max");

    public SpeculativeConfig {
        if (method == null) throw bad("needs a method");
        if (numSpeculativeTokens < 0 || numSpeculativeTokens > MAX_SPECULATIVE_TOKENS) {
            throw bad("field 'num_speculative_tokens' must be in [1, " + MAX_SPECULATIVE_TOKENS + "], got " + numSpeculativeTokens);
        }
    }

    public static SpeculativeConfig ngram(int k, int min, int max) { return new SpeculativeConfig(Method.NGRAM, k, min, max); }

    public static SpeculativeConfig mtp(int k) { return new SpeculativeConfig(Method.MTP, k, 0, 0); }

    /** Parses the flag's JSON; throws {@link IllegalArgumentException} naming the bad field. */
    public static SpeculativeConfig parse(String json) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(json == null ? "" : json);
        } catch (JsonProcessingException e) {
            throw bad("is not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) {
            throw bad("must be a JSON object, e.g. {\"method\":\"ngram\",\"num_speculative_tokens\":4,\"prompt_lookup_max\":4}");
        }
        for (Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!FIELDS.contains(f) && !IGNORED_FIELDS.contains(f)) {
                throw bad("has unknown field '" + f + "'; pdserve reads method, num_speculative_tokens, prompt_lookup_min, prompt_lookup_max");
            }
        }
        Method method = method(root);
        Integer k = integer(root, "num_speculative_tokens");
        if (k != null && k < 1) throw bad("field 'num_speculative_tokens' must be greater than 0, got " + k);
        if (method == Method.MTP) {
            if (root.hasNonNull("prompt_lookup_min") || root.hasNonNull("prompt_lookup_max")) {
                throw bad("fields 'prompt_lookup_min' and 'prompt_lookup_max' belong to method ngram, not " + Method.MTP.wire());
            }
            return mtp(k == null ? UNSET : k);
        }
        if (k == null) throw bad("field 'num_speculative_tokens' is required for method ngram");
        Integer min = integer(root, "prompt_lookup_min"), max = integer(root, "prompt_lookup_max");
        if (min != null && min < 1) throw bad("field 'prompt_lookup_min' must be at least 1, got " + min);
        if (max != null && max < 1) throw bad("field 'prompt_lookup_max' must be at least 1, got " + max);
        if (min == null && max == null) min = max = 5;
        else if (min == null) min = max;
        else if (max == null) max = min;
        if (min > max) throw bad("prompt_lookup_min=" + min + " must be <= prompt_lookup_max=" + max);
        return ngram(k, min, max);
    }

    /** An MTP config whose draft length was left out takes the checkpoint's number of MTP layers. */
    public SpeculativeConfig resolve(int numMtpLayers) {
        if (method != Method.MTP || numSpeculativeTokens != UNSET) return this;
        if (numMtpLayers < 1) throw bad("method " + Method.MTP.wire() + " needs num_speculative_tokens or a checkpoint with num_nextn_predict_layers > 0");
        return mtp(Math.min(numMtpLayers, MAX_SPECULATIVE_TOKENS));
    }

    /** The canonical JSON (the form two PD instances compare). */
    public String toJson() {
        var o = new ObjectMapper().createObjectNode().put("method", method.wire()).put("num_speculative_tokens", numSpeculativeTokens);
        if (method == Method.NGRAM) o.put("prompt_lookup_min", promptLookupMin).put("prompt_lookup_max", promptLookupMax);
        return o.toString();
    }

    @Override
    public String toString() { return toJson(); }

    private static Method method(JsonNode root) {
        JsonNode m = root.get("method");
        String name;
        if (m == null || m.isNull()) {
            String model = root.path("model").asText("");
            if (!model.equals("ngram") && !model.equals("[ngram]")) {
                throw bad("needs \"method\": \"ngram\" or \"" + Method.MTP.wire() + "\" (pdserve runs no separate draft model)");
            }
            name = "ngram";
        } else if (!m.isTextual()) {
            throw bad("field 'method' must be a string, got " + m);
        } else {
            name = m.asText().trim().toLowerCase(Locale.ROOT);
        }
        return switch (name) {
            case "ngram", "[ngram]" -> Method.NGRAM;
            case "deepseek_mtp", "mtp" -> Method.MTP;
            default -> throw bad("field 'method': '" + m.asText() + "' is " + (OTHER_VLLM_METHODS.contains(name) || name.endsWith("_mtp")
                    ? "a vLLM method pdserve does not run" : "not a speculative method") + "; use ngram or " + Method.MTP.wire());
        };
    }

    /** pydantic's lax int: an integer, a float with no fraction, a string holding one, or a bool; null when absent. */
    static Integer integer(JsonNode o, String field) {
        JsonNode v = o.get(field);
        if (v == null || v.isNull()) return null;
        BigDecimal d;
        if (v.isBoolean()) return v.asBoolean() ? 1 : 0;
        if (v.isNumber()) {
            d = v.decimalValue();
        } else if (v.isTextual()) {
            try {
                d = new BigDecimal(v.asText().strip().replace("_", ""));
            } catch (NumberFormatException e) {
                throw bad("field '" + field + "' must be an integer, got " + v);
            }
        } else {
            throw bad("field '" + field + "' must be an integer, got " + v);
        }
        try {
            return d.stripTrailingZeros().intValueExact();
        } catch (ArithmeticException e) {
            throw bad("field '" + field + "' must be an integer, got " + v);
        }
    }

    private static IllegalArgumentException bad(String message) {
        return new IllegalArgumentException("--speculative-config " + message);
    }

    /** Every IGNORED field present, for one log line at startup. */
    public static List<String> ignoredFields(String json) {
        List<String> out = new ArrayList<>();
        try {
            JsonNode root = new ObjectMapper().readTree(json);
            for (Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
                String f = it.next();
                if (IGNORED_FIELDS.contains(f)) out.add(f);
            }
        } catch (JsonProcessingException | RuntimeException e) {
            return out;
        }
        return out;
    }
}
