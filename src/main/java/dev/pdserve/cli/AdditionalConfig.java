package dev.pdserve.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pdserve.kv.LaxJson;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * vLLM's {@code --additional-config}: a JSON object for the platform plugin, which for the seed's
 * deployment is vllm-ascend ({@code torchair_graph_config}, {@code ascend_scheduler_config}, ...).
 * Nothing in it means anything on a CPU, so pdserve only checks it the way vllm-ascend's pydantic
 * config does (lax mode: {@code "true"} is true, {@code "4"} is 4; a bad value is refused naming the
 * field) and says in one line what it ignores.
 */
final class AdditionalConfig {
    enum Kind { BOOL, INT, FLOAT, TEXT, INT_LIST }

    /** vllm-ascend's known keys and their types, by dotted path (the objects around them are implied). */
    static final Map<String, Kind> KNOWN = Map.ofEntries(
            Map.entry("torchair_graph_config.enabled", Kind.BOOL),
            Map.entry("torchair_graph_config.mode", Kind.TEXT),
            Map.entry("torchair_graph_config.use_cached_graph", Kind.BOOL),
            Map.entry("torchair_graph_config.use_cached_kv_cache_bytes", Kind.BOOL),
            Map.entry("torchair_graph_config.graph_batch_sizes", Kind.INT_LIST),
            Map.entry("torchair_graph_config.graph_batch_sizes_init", Kind.BOOL),
            Map.entry("torchair_graph_config.enable_multistream_mla", Kind.BOOL),
            Map.entry("torchair_graph_config.enable_multistream_moe", Kind.BOOL),
            Map.entry("torchair_graph_config.enable_view_optimize", Kind.BOOL),
            Map.entry("torchair_graph_config.enable_frozen_parameter", Kind.BOOL),
            Map.entry("torchair_graph_config.enable_kv_nz", Kind.BOOL),
            Map.entry("torchair_graph_config.enable_super_kernel", Kind.BOOL),
            Map.entry("ascend_scheduler_config.enabled", Kind.BOOL),
            Map.entry("ascend_scheduler_config.enable_chunked_prefill", Kind.BOOL),
            Map.entry("ascend_scheduler_config.max_long_partial_prefills", Kind.INT),
            Map.entry("ascend_scheduler_config.long_prefill_token_threshold", Kind.INT),
            Map.entry("ascend_scheduler_config.max_num_batched_tokens", Kind.INT),
            Map.entry("ascend_scheduler_config.policy", Kind.TEXT),
            Map.entry("ascend_compilation_config.enable_npugraph_ex", Kind.BOOL),
            Map.entry("ascend_compilation_config.enable_static_kernel", Kind.BOOL),
            Map.entry("ascend_compilation_config.fuse_norm_quant", Kind.BOOL),
            Map.entry("ascend_compilation_config.fuse_qknorm_rope", Kind.BOOL),
            Map.entry("ascend_compilation_config.fuse_muls_add", Kind.BOOL),
            Map.entry("ascend_fusion_config.fusion_ops_gmmswigluquant", Kind.BOOL),
            Map.entry("eplb_config.dynamic_eplb", Kind.BOOL),
            Map.entry("eplb_config.expert_map_path", Kind.TEXT),
            Map.entry("eplb_config.expert_heat_collection_interval", Kind.INT),
            Map.entry("eplb_config.algorithm_execution_interval", Kind.INT),
            Map.entry("eplb_config.num_redundant_experts", Kind.INT),
            Map.entry("eplb_config.eplb_policy_type", Kind.INT),
            Map.entry("rejection_sampler_config.enable_block_verify", Kind.BOOL),
            Map.entry("rejection_sampler_config.enable_entropy_verify", Kind.BOOL),
            Map.entry("rejection_sampler_config.posterior_threshold", Kind.FLOAT),
            Map.entry("rejection_sampler_config.posterior_alpha", Kind.FLOAT),
            Map.entry("xlite_graph_config.enabled", Kind.BOOL),
            Map.entry("xlite_graph_config.full_mode", Kind.BOOL),
            Map.entry("finegrained_tp_config.oproj_tensor_parallel_size", Kind.INT),
            Map.entry("finegrained_tp_config.lmhead_tensor_parallel_size", Kind.INT),
            Map.entry("finegrained_tp_config.embedding_tensor_parallel_size", Kind.INT),
            Map.entry("finegrained_tp_config.mlp_tensor_parallel_size", Kind.INT),
            Map.entry("refresh", Kind.BOOL),
            Map.entry("expert_tensor_parallel_size", Kind.INT),
            Map.entry("expert_map_path", Kind.TEXT),
            Map.entry("chunked_prefill_for_mla", Kind.BOOL),
            Map.entry("enable_shared_expert_dp", Kind.BOOL),
            Map.entry("lmhead_tensor_parallel_size", Kind.INT),
            Map.entry("oproj_tensor_parallel_size", Kind.INT),
            Map.entry("enable_weight_nz_layout", Kind.BOOL),
            Map.entry("weight_nz_mode", Kind.INT),
            Map.entry("enable_prefill_optimizations", Kind.BOOL),
            Map.entry("enable_cpu_binding", Kind.BOOL),
            Map.entry("multistream_overlap_shared_expert", Kind.BOOL),
            Map.entry("enable_kv_nz", Kind.BOOL),
            Map.entry("enable_prefill_mc2", Kind.BOOL),
            Map.entry("enable_mlapo", Kind.BOOL),
            Map.entry("dynamic_eplb", Kind.BOOL),
            Map.entry("num_iterations_eplb_update", Kind.INT),
            Map.entry("mega_moe_max_tokens", Kind.INT),
            Map.entry("ascend_log_path", Kind.TEXT));

    private AdditionalConfig() {}

    /**
     * Checks {@code json}; returns the one line to log (what is ignored), or throws
     * {@link IllegalArgumentException} naming the first bad field.
     */
    static String check(String json) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(json);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("--additional-config is not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) throw new IllegalArgumentException("--additional-config must be a JSON object, e.g. {\"torchair_graph_config\":{\"enabled\":true}}");
        List<String> seen = new ArrayList<>();
        walk(root, "", seen);
        if (seen.isEmpty()) return "--additional-config: empty; nothing to ignore";
        return "--additional-config: " + String.join(", ", seen)
                + ": NPU/GPU platform options with no meaning on a CPU (no graph capture, no device fusions); checked and ignored";
    }

    private static void walk(JsonNode object, String prefix, List<String> seen) {
        for (Map.Entry<String, JsonNode> e : object.properties()) {
            String path = prefix + e.getKey();
            JsonNode v = e.getValue();
            Kind kind = KNOWN.get(path);
            if (kind == null && v.isObject() && isKnownObject(path)) {
                walk(v, path + ".", seen);
                continue;
            }
            if (kind != null && !v.isNull()) v = read(kind, v, path);
            seen.add(path + "=" + v);
        }
    }

    private static boolean isKnownObject(String path) {
        for (String k : KNOWN.keySet()) if (k.startsWith(path + ".")) return true;
        return false;
    }

    /** The value as pydantic would hold it, so the log shows "true" for "yes". */
    private static JsonNode read(Kind kind, JsonNode v, String path) {
        try {
            ObjectMapper m = new ObjectMapper();
            return switch (kind) {
                case BOOL -> m.getNodeFactory().booleanNode(LaxJson.bool(v, path));
                case INT -> m.getNodeFactory().numberNode(LaxJson.integer(v, path));
                case FLOAT -> m.getNodeFactory().numberNode(LaxJson.number(v, path));
                case TEXT -> m.getNodeFactory().textNode(LaxJson.string(v, path));
                case INT_LIST -> {
                    if (!v.isArray()) throw new IllegalArgumentException("field '" + path + "' must be a list of integers, got " + v);
                    var out = m.createArrayNode();
                    for (int i = 0; i < v.size(); i++) out.add(LaxJson.integer(v.get(i), path + "[" + i + "]"));
                    yield out;
                }
            };
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--additional-config " + e.getMessage());
        }
    }
}
