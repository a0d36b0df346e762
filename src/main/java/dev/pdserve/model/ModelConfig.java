package dev.pdserve.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

/** What {@code config.json} says, for the architectures pdserve runs. */
public record ModelConfig(
        String modelType,
        int vocabSize,
        int hiddenSize,
        int intermediateSize,
        int numLayers,
        int numHeads,
        int numKvHeads,
        int headDim,
        double rmsNormEps,
        int maxPositionEmbeddings,
        boolean tieWordEmbeddings,
        boolean attentionBias,
        int bosTokenId,
        int[] eosTokenIds,
        RopeConfig rope,
        Mla mla,
        Moe moe) {

    public static final List<String> SUPPORTED_TYPES = List.of("deepseek_v3", "llama", "mistral", "qwen2");

    /** DeepSeek's multi-head latent attention sizes; null for other models. */
    public record Mla(int qLoraRank, int kvLoraRank, int qkNopeHeadDim, int qkRopeHeadDim, int vHeadDim, boolean ropeInterleave) {
        public int qkHeadDim() { return qkNopeHeadDim + qkRopeHeadDim; }
    }

    /** DeepSeek-V3 mixture of experts; null for dense models. */
    public record Moe(int nRoutedExperts, int nSharedExperts, int numExpertsPerTok, int moeIntermediateSize,
                      int firstKDenseReplace, int moeLayerFreq, int nGroup, int topkGroup, boolean normTopkProb,
                      double routedScalingFactor, String scoringFunc, String topkMethod) {
        public boolean isMoeLayer(int layer) {
            return nRoutedExperts > 0 && layer >= firstKDenseReplace && layer % moeLayerFreq == 0;
        }
    }

    public static ModelConfig load(Path modelDir) {
        Path file = modelDir.resolve("config.json");
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(Files.readString(file));
        } catch (NoSuchFileException e) {
            throw new ModelLoadException("no config.json in " + modelDir + ": is this a Hugging Face model folder?");
        } catch (IOException e) {
            throw new ModelLoadException(file + " is not valid JSON: " + e.getMessage());
        }
        return parse(root, file.toString());
    }

    public static ModelConfig parse(JsonNode c, String source) {
        String type = c.path("model_type").asText("");
        if (!SUPPORTED_TYPES.contains(type)) {
            throw new ModelLoadException(source + ": model_type '" + type + "' is not supported; supported: " + String.join(", ", SUPPORTED_TYPES));
        }
        Fields f = new Fields(c, source);
        int hidden = f.intRequired("hidden_size");
        int heads = f.intRequired("num_attention_heads");
        Mla mla = null;
        Moe moe = null;
        if (type.equals("deepseek_v3")) {
            mla = new Mla(c.path("q_lora_rank").isNull() || c.path("q_lora_rank").isMissingNode() ? 0 : f.intRequired("q_lora_rank"),
                    f.intRequired("kv_lora_rank"), f.intRequired("qk_nope_head_dim"), f.intRequired("qk_rope_head_dim"),
                    f.intRequired("v_head_dim"), c.path("rope_interleave").asBoolean(true));
            moe = new Moe(c.path("n_routed_experts").asInt(0), c.path("n_shared_experts").asInt(0),
                    c.path("num_experts_per_tok").asInt(0), c.path("moe_intermediate_size").asInt(0),
                    c.path("first_k_dense_replace").asInt(0), c.path("moe_layer_freq").asInt(1),
                    c.path("n_group").asInt(1), c.path("topk_group").asInt(1), c.path("norm_topk_prob").asBoolean(true),
                    c.path("routed_scaling_factor").asDouble(1.0), c.path("scoring_func").asText("sigmoid"),
                    c.path("topk_method").asText("noaux_tc"));
            if (!moe.scoringFunc().equals("sigmoid") && !moe.scoringFunc().equals("softmax")) {
                throw new ModelLoadException(source + ": scoring_func '" + moe.scoringFunc() + "' is not supported (sigmoid, softmax)");
            }
        }
        int kvHeads = c.path("num_key_value_heads").asInt(heads);
        int headDim = c.hasNonNull("head_dim") && mla == null ? c.get("head_dim").asInt() : hidden / heads;
        JsonNode eos = c.path("eos_token_id");
        int[] eosIds;
        if (eos.isArray()) {
            eosIds = new int[eos.size()];
            for (int i = 0; i < eosIds.length; i++) eosIds[i] = eos.get(i).asInt();
        } else {
            eosIds = eos.isMissingNode() || eos.isNull() ? new int[0] : new int[] {eos.asInt()};
        }
        return new ModelConfig(type, f.intRequired("vocab_size"), hidden, f.intRequired("intermediate_size"),
                f.intRequired("num_hidden_layers"), heads, kvHeads, headDim, c.path("rms_norm_eps").asDouble(1e-6),
                c.path("max_position_embeddings").asInt(2048), c.path("tie_word_embeddings").asBoolean(false),
                c.path("attention_bias").asBoolean(type.equals("qwen2")), c.path("bos_token_id").asInt(0), eosIds,
                RopeConfig.parse(c, source), mla, moe);
    }

    public boolean isDeepseek() { return mla != null; }

    private record Fields(JsonNode c, String source) {
        int intRequired(String name) {
            JsonNode n = c.get(name);
            if (n == null || !n.canConvertToInt()) throw new ModelLoadException(source + ": missing or non-integer '" + name + "'");
            return n.asInt();
        }
    }
}
