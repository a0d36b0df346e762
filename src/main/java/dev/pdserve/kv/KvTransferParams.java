package dev.pdserve.kv;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;

/**
 * vLLM's {@code kv_transfer_params} request/response field, with the same names: the proxy sends
 * {@code {"do_remote_decode": true}} to the prefill instance, which answers with where its KV is
 * ({@code do_remote_prefill}, {@code remote_*}); the proxy hands that to the decode instance.
 * pdserve adds {@code remote_block_size}, {@code remote_kv_layout}, {@code remote_model_fingerprint}
 * (checked before connecting) and {@code num_computed_tokens} (prompt tokens the blocks hold).
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record KvTransferParams(
        @JsonProperty("do_remote_decode") boolean doRemoteDecode,
        @JsonProperty("do_remote_prefill") boolean doRemotePrefill,
        @JsonProperty("remote_engine_id") String remoteEngineId,
        @JsonProperty("remote_block_ids") int[] remoteBlockIds,
        @JsonProperty("remote_host") String remoteHost,
        @JsonProperty("remote_port") Integer remotePort,
        @JsonProperty("remote_request_id") String remoteRequestId,
        @JsonProperty("remote_block_size") Integer remoteBlockSize,
        @JsonProperty("remote_kv_layout") String remoteKvLayout,
        @JsonProperty("remote_model_fingerprint") String remoteModelFingerprint,
        @JsonProperty("num_computed_tokens") Integer numComputedTokens) {

    /** Bad {@code kv_transfer_params}: {@code param} names the field, for a 400 response. */
    public static final class Invalid extends IllegalArgumentException {
        private final String param;

        Invalid(String param, String message) {
            super(message);
            this.param = param;
        }

        public String param() { return param; }
    }

    /** What the proxy sends to a prefill instance. */
    public static KvTransferParams remoteDecode() {
        return new KvTransferParams(true, false, null, null, null, null, null, null, null, null, null);
    }

    /** What a prefill instance returns once {@code requestId}'s KV is leased on {@code host:port}. */
    public static KvTransferParams remotePrefill(KvPeerInfo producer, String host, int port, String requestId, int[] blockIds, int numComputedTokens) {
        return new KvTransferParams(false, true, producer.engineId(), blockIds.clone(), host, port, requestId,
                producer.blockSize(), producer.kvLayout(), producer.modelFingerprint(), numComputedTokens);
    }

    /** Reads and validates the JSON value of {@code kv_transfer_params}; null or JSON null gives null. */
    public static KvTransferParams parse(JsonNode n) {
        if (n == null || n.isNull() || n.isMissingNode()) return null;
        if (!n.isObject()) throw new Invalid("kv_transfer_params", "kv_transfer_params must be a JSON object, got " + kind(n));
        boolean decode = bool(n, "do_remote_decode");
        boolean prefill = bool(n, "do_remote_prefill");
        if (decode && prefill) throw new Invalid("kv_transfer_params", "kv_transfer_params: do_remote_decode and do_remote_prefill cannot both be true");
        String engineId = string(n, "remote_engine_id");
        String host = string(n, "remote_host");
        Integer port = integer(n, "remote_port", 1, 65535);
        String requestId = string(n, "remote_request_id");
        Integer blockSize = integer(n, "remote_block_size", 1, Integer.MAX_VALUE);
        String layout = string(n, "remote_kv_layout");
        String fingerprint = string(n, "remote_model_fingerprint");
        Integer computed = integer(n, "num_computed_tokens", 0, Integer.MAX_VALUE);
        int[] blocks = null;
        JsonNode b = n.get("remote_block_ids");
        if (b != null && !b.isNull()) {
            if (!b.isArray()) throw invalid("remote_block_ids", "must be an array of block ids, got " + kind(b));
            blocks = new int[b.size()];
            for (int i = 0; i < blocks.length; i++) {
                JsonNode e = b.get(i);
                if (!e.isIntegralNumber() || !e.canConvertToInt()) throw invalid("remote_block_ids", "element " + i + " must be an integer, got " + e);
                if (e.asInt() < 0) throw invalid("remote_block_ids", "element " + i + " must be >= 0, got " + e.asInt());
                blocks[i] = e.asInt();
            }
        }
        if (prefill) {
            if (host == null || host.isBlank()) throw invalid("remote_host", "is required when do_remote_prefill is true");
            if (port == null) throw invalid("remote_port", "is required when do_remote_prefill is true");
            if (requestId == null || requestId.isBlank()) throw invalid("remote_request_id", "is required when do_remote_prefill is true");
            if (engineId == null || engineId.isBlank()) throw invalid("remote_engine_id", "is required when do_remote_prefill is true");
            if (blocks == null) throw invalid("remote_block_ids", "is required when do_remote_prefill is true");
        }
        return new KvTransferParams(decode, prefill, engineId, blocks, host, port, requestId, blockSize, layout, fingerprint, computed);
    }

    /** Why this producer's KV cannot be used by {@code local}, naming both values; null when it can (or the field is absent). */
    public String incompatibilityWith(KvPeerInfo local) {
        List<String> m = new ArrayList<>();
        if (remoteBlockSize != null && remoteBlockSize != local.blockSize()) m.add("block size mismatch: producer " + remoteBlockSize + ", consumer " + local.blockSize());
        if (remoteKvLayout != null && !remoteKvLayout.equals(local.kvLayout())) m.add("KV layout mismatch: producer " + remoteKvLayout + ", consumer " + local.kvLayout());
        if (remoteModelFingerprint != null && !remoteModelFingerprint.equals(local.modelFingerprint())) {
            m.add("model fingerprint mismatch: producer " + remoteModelFingerprint + ", consumer " + local.modelFingerprint());
        }
        return m.isEmpty() ? null : String.join("; ", m);
    }

    private static Invalid invalid(String field, String what) {
        return new Invalid("kv_transfer_params." + field, "kv_transfer_params." + field + " " + what);
    }

    private static boolean bool(JsonNode n, String f) {
        JsonNode v = n.get(f);
        if (v == null || v.isNull()) return false;
        if (!v.isBoolean()) throw invalid(f, "must be a boolean, got " + kind(v));
        return v.asBoolean();
    }

    private static String string(JsonNode n, String f) {
        JsonNode v = n.get(f);
        if (v == null || v.isNull()) return null;
        if (!v.isTextual()) throw invalid(f, "must be a string, got " + kind(v));
        return v.asText();
    }

    private static Integer integer(JsonNode n, String f, int min, int max) {
        JsonNode v = n.get(f);
        if (v == null || v.isNull()) return null;
        if (!v.isIntegralNumber() || !v.canConvertToInt()) throw invalid(f, "must be an integer, got " + kind(v));
        int i = v.asInt();
        if (i < min || i > max) throw invalid(f, "must be in [" + min + ", " + max + "], got " + i);
        return i;
    }

    private static String kind(JsonNode v) {
        String type = v.getNodeType().name().toLowerCase();
        return v.isContainerNode() ? type : type + " " + v;
    }
}
