package dev.pdserve.kv;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.logging.Logger;

/**
 * vLLM's {@code --kv-transfer-config} JSON, read the way vLLM reads it (same field names and
 * defaults: {@code kv_ip} 127.0.0.1, {@code kv_port} 14579, {@code kv_load_failure_policy} fail),
 * plus pdserve's options in {@code kv_connector_extra_config}. Whatever pdserve accepts but does
 * differently (another connector's name, a GPU buffer device, unknown fields) is listed in
 * {@link #notes()} and logged, so a user coming from vLLM sees why.
 */
public record KvTransferConfig(
        String connector,
        KvRole role,
        String ip,
        int port,
        String engineId,
        String bufferDevice,
        int parallelSize,
        Duration lease,
        String clusterToken,
        FailurePolicy loadFailurePolicy,
        int connectTimeoutMs,
        int readTimeoutMs,
        int transferTimeoutMs,
        int handshakeTimeoutMs,
        double maxLeasedFraction,
        List<String> allowedPrefillAddresses,
        List<String> notes) {

    public static final String CONNECTOR = "PdTcpConnector";
    /** vLLM's default {@code kv_port}. */
    public static final int DEFAULT_PORT = 14579;
    /** vLLM keeps unclaimed KV for 480 s; stranded prefill memory is a reported failure, so ours is short. */
    public static final int DEFAULT_LEASE_SECONDS = 30;
    /** A peer that has not finished HELLO (and AUTH) by then does not speak the KV protocol: fail fast, free its resources. */
    public static final int DEFAULT_HANDSHAKE_TIMEOUT_MS = 1000;
    /** Leases may hold at most this share of a producer's KV pool; beyond it the oldest are reclaimed. */
    public static final double DEFAULT_MAX_LEASED_FRACTION = 0.5;

    /** Other engines' connectors: accepted, and served by {@link #CONNECTOR}. */
    public static final Set<String> ALIASES = Set.of("NixlConnector", "LLMDataDistCMgrConnector", "MooncakeConnector",
            "MooncakeConnectorV1", "P2pNcclConnector", "MultiConnector", "LMCacheConnectorV1", "PyNcclConnector",
            "SharedStorageConnector", "ExampleConnector", "DecodeBenchConnector", "OffloadingConnector");

    /** vLLM fields that mean nothing for a CPU TCP transfer; accepted silently. */
    private static final Set<String> IGNORED_VLLM_FIELDS = Set.of("kv_rank", "kv_buffer_size", "enable_permute_local_kv");

    private static final Logger LOG = Logger.getLogger(KvTransferConfig.class.getName());

    public enum FailurePolicy {
        /** The request fails with an error (vLLM's default). */
        FAIL,
        /** The decode instance recomputes the prompt itself. */
        RECOMPUTE
    }

    /** Parses the JSON of {@code --kv-transfer-config}; throws {@link IllegalArgumentException} naming the bad field. */
    public static KvTransferConfig parse(String json) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(json == null ? "" : json);
        } catch (JsonProcessingException e) {
            throw bad("is not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) throw bad("must be a JSON object, e.g. {\"kv_connector\":\"PdTcpConnector\",\"kv_role\":\"kv_producer\"}");
        List<String> notes = new ArrayList<>();

        String connector = string(root, "kv_connector", null);
        if (connector == null) throw bad("needs \"kv_connector\" (use \"" + CONNECTOR + "\")");
        if (!connector.equals(CONNECTOR)) {
            if (!ALIASES.contains(connector)) {
                throw bad("field 'kv_connector': unknown connector '" + connector + "'; use " + CONNECTOR + " (also accepted: " + String.join(", ", ALIASES.stream().sorted().toList()) + ")");
            }
            notes.add("kv_connector " + connector + " is not available in pdserve; " + CONNECTOR + " (KV over TCP) is used instead");
        }
        String roleName = string(root, "kv_role", null);
        KvRole role = null;
        for (KvRole r : KvRole.values()) if (r.wire().equals(roleName)) role = r;
        if (role == null) {
            throw bad("field 'kv_role' must be one of kv_producer, kv_consumer, kv_both; got " + (roleName == null ? "nothing" : "'" + roleName + "'"));
        }
        String ip = string(root, "kv_ip", "127.0.0.1");
        int port = integer(root, "kv_port", DEFAULT_PORT, 0, 65535);
        String engineId = string(root, "engine_id", null);
        if (engineId == null || engineId.isBlank()) engineId = UUID.randomUUID().toString();
        String device = string(root, "kv_buffer_device", "cpu");
        if (!device.equals("cpu")) notes.add("kv_buffer_device " + device + ": pdserve keeps and sends KV from CPU memory");
        int parallel = integer(root, "kv_parallel_size", 1, 1, Integer.MAX_VALUE);
        // vLLM fields with no meaning here are still type-checked, as pydantic checks them.
        integer(root, "kv_rank", 0, Integer.MIN_VALUE, Integer.MAX_VALUE);
        number(root, "kv_buffer_size", 1e9);
        bool(root, "enable_permute_local_kv", false);
        if (root.has("kv_connector_module_path") && !root.get("kv_connector_module_path").isNull()) {
            notes.add("kv_connector_module_path is ignored: pdserve has one built-in connector");
        }

        JsonNode extra = root.path("kv_connector_extra_config");
        if (!extra.isMissingNode() && !extra.isNull() && !extra.isObject()) throw bad("field 'kv_connector_extra_config' must be a JSON object");
        if (!extra.isObject()) extra = new ObjectMapper().createObjectNode();

        double leaseSeconds = number(extra, "lease_seconds", DEFAULT_LEASE_SECONDS);
        if (!(leaseSeconds > 0)) throw bad("field 'kv_connector_extra_config.lease_seconds' must be > 0, got " + leaseSeconds);
        String token = string(extra, "cluster_token", null);
        String tokenFile = string(extra, "cluster_token_file", null);
        if (token != null && tokenFile != null) throw bad("set only one of 'kv_connector_extra_config.cluster_token' and 'cluster_token_file'");
        if (tokenFile != null) {
            try {
                token = Files.readString(Path.of(tokenFile)).strip();
            } catch (IOException | RuntimeException e) {
                throw bad("field 'kv_connector_extra_config.cluster_token_file': cannot read " + tokenFile + " (" + e + ")");
            }
        }
        if (token == null) token = "";
        // vLLM has the policy at the top level; older notes put it in the extra config. Accept both.
        String policyName = string(root, "kv_load_failure_policy", null);
        String extraPolicy = string(extra, "kv_load_failure_policy", null);
        if (policyName == null) policyName = extraPolicy == null ? "fail" : extraPolicy;
        FailurePolicy policy = switch (policyName) {
            case "fail" -> FailurePolicy.FAIL;
            case "recompute" -> FailurePolicy.RECOMPUTE;
            default -> throw bad("field 'kv_load_failure_policy' must be 'fail' or 'recompute', got '" + policyName + "'");
        };
        int connectMs = integer(extra, "connect_timeout_ms", 5_000, 1, Integer.MAX_VALUE);
        int readMs = integer(extra, "read_timeout_ms", 30_000, 1, Integer.MAX_VALUE);
        int transferMs = integer(extra, "transfer_timeout_ms", 120_000, 1, Integer.MAX_VALUE);
        int handshakeMs = integer(extra, "handshake_timeout_ms", DEFAULT_HANDSHAKE_TIMEOUT_MS, 1, Integer.MAX_VALUE);
        double leasedFraction = number(extra, "max_leased_fraction", DEFAULT_MAX_LEASED_FRACTION);
        if (!(leasedFraction > 0 && leasedFraction <= 1)) {
            throw bad("field 'kv_connector_extra_config.max_leased_fraction' must be in (0, 1], got " + leasedFraction);
        }
        List<String> allowed = addresses(extra, "allowed_prefill_addresses");

        Set<String> known = Set.of("kv_connector", "kv_role", "kv_ip", "kv_port", "engine_id", "kv_buffer_device",
                "kv_parallel_size", "kv_connector_module_path", "kv_connector_extra_config", "kv_load_failure_policy");
        for (Map.Entry<String, JsonNode> e : root.properties()) {
            if (!known.contains(e.getKey()) && !IGNORED_VLLM_FIELDS.contains(e.getKey())) notes.add("unknown field '" + e.getKey() + "' ignored");
        }
        // instance_id: written by cluster.json tooling so logs name the instance; nothing to configure.
        Set<String> knownExtra = Set.of("lease_seconds", "cluster_token", "cluster_token_file", "kv_load_failure_policy",
                "connect_timeout_ms", "read_timeout_ms", "transfer_timeout_ms", "instance_id", "handshake_timeout_ms",
                "max_leased_fraction", "allowed_prefill_addresses");
        for (Map.Entry<String, JsonNode> e : extra.properties()) {
            if (!knownExtra.contains(e.getKey())) notes.add("unknown field 'kv_connector_extra_config." + e.getKey() + "' ignored");
        }
        for (String n : notes) LOG.warning("--kv-transfer-config: " + n);
        return new KvTransferConfig(connector, role, ip, port, engineId, device, parallel,
                Duration.ofMillis(Math.round(leaseSeconds * 1000)), token, policy, connectMs, readMs, transferMs, handshakeMs,
                leasedFraction, allowed, List.copyOf(notes));
    }

    public KvTransferConfig withPort(int newPort) {
        return new KvTransferConfig(connector, role, ip, newPort, engineId, bufferDevice, parallelSize, lease, clusterToken,
                loadFailurePolicy, connectTimeoutMs, readTimeoutMs, transferTimeoutMs, handshakeTimeoutMs, maxLeasedFraction,
                allowedPrefillAddresses, notes);
    }

    /**
     * Whether a consumer may pull from {@code host:port}: always without {@code allowed_prefill_addresses},
     * else when an entry names that host (any port) or {@code host:port} (host compared without case,
     * {@code localhost} as {@code 127.0.0.1}; no DNS lookup).
     */
    public boolean allowsProducer(String host, int port) {
        if (allowedPrefillAddresses.isEmpty()) return true;
        String h = normalizedHost(host);
        for (String a : allowedPrefillAddresses) {
            int colon = a.lastIndexOf(':');
            boolean hasPort = colon > 0 && a.indexOf(':') == colon || a.startsWith("[") && a.contains("]:");
            String ah = hasPort ? a.substring(0, colon) : a;
            if (!normalizedHost(ah).equals(h)) continue;
            if (!hasPort || a.substring(colon + 1).equals(String.valueOf(port))) return true;
        }
        return false;
    }

    private static String normalizedHost(String h) {
        String l = h.strip().toLowerCase(java.util.Locale.ROOT);
        if (l.startsWith("[") && l.endsWith("]")) l = l.substring(1, l.length() - 1);
        return l.equals("localhost") ? "127.0.0.1" : l;
    }

    private static List<String> addresses(JsonNode o, String field) {
        JsonNode v = o.get(field);
        if (v == null || v.isNull()) return List.of();
        List<String> out = new ArrayList<>();
        if (v.isTextual()) {
            for (String part : v.asText().split(",")) if (!part.isBlank()) out.add(part.strip());
        } else if (v.isArray()) {
            for (JsonNode e : v) {
                if (!e.isTextual() || e.asText().isBlank()) throw bad("field 'kv_connector_extra_config." + field + "' must list \"host\" or \"host:port\" strings, got " + e);
                out.add(e.asText().strip());
            }
        } else {
            throw bad("field 'kv_connector_extra_config." + field + "' must be a list of \"host\" or \"host:port\" strings, got " + v);
        }
        return List.copyOf(out);
    }

    /** Never prints the cluster token. */
    @Override
    public String toString() {
        return "KvTransferConfig[connector=" + connector + ", role=" + role.wire() + ", ip=" + ip + ", port=" + port
                + ", engineId=" + engineId + ", lease=" + lease + ", clusterToken=" + (clusterToken.isEmpty() ? "none" : "set")
                + ", loadFailurePolicy=" + loadFailurePolicy + "]";
    }

    private static IllegalArgumentException bad(String message) {
        return new IllegalArgumentException("--kv-transfer-config " + message);
    }

    private static String string(JsonNode o, String field, String dflt) {
        JsonNode v = o.get(field);
        if (v == null || v.isNull()) return dflt;
        try {
            return LaxJson.string(v, field);
        } catch (IllegalArgumentException e) {
            throw bad(e.getMessage());
        }
    }

    /** Read as pydantic's lax mode does: "20001" is 20001. */
    private static int integer(JsonNode o, String field, int dflt, int min, int max) {
        JsonNode v = o.get(field);
        if (v == null || v.isNull()) return dflt;
        try {
            return LaxJson.integer(v, field, min, max);
        } catch (IllegalArgumentException e) {
            throw bad(e.getMessage());
        }
    }

    private static double number(JsonNode o, String field, double dflt) {
        JsonNode v = o.get(field);
        if (v == null || v.isNull()) return dflt;
        try {
            return LaxJson.number(v, field);
        } catch (IllegalArgumentException e) {
            throw bad(e.getMessage());
        }
    }

    private static boolean bool(JsonNode o, String field, boolean dflt) {
        JsonNode v = o.get(field);
        if (v == null || v.isNull()) return dflt;
        try {
            return LaxJson.bool(v, field);
        } catch (IllegalArgumentException e) {
            throw bad(e.getMessage());
        }
    }
}
