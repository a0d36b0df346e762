package dev.pdserve.kv;

import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

/**
 * An instance's part in PD disaggregation, spelled as vLLM's {@code kv_role}: the value of
 * {@code --kv-transfer-config} and of a cluster.json instance's {@code role}.
 */
public enum KvRole {
    /** Prefill: computes the prompt's KV cache and lends its blocks to a decoder. */
    PRODUCER("kv_producer"),
    /** Decode: pulls the prompt's KV blocks from a producer and generates the tokens. */
    CONSUMER("kv_consumer"),
    /** Both at once (vLLM's {@code kv_both}); a cluster.json instance is one or the other. */
    BOTH("kv_both");

    /** The roles a cluster.json instance can have. */
    public static final List<KvRole> CLUSTER_ROLES = List.of(PRODUCER, CONSUMER);

    private final String wire;

    KvRole(String wire) {
        this.wire = wire;
    }

    /** The value in {@code --kv-transfer-config} and in cluster.json. */
    public String wire() {
        return wire;
    }

    public boolean produces() { return this != CONSUMER; }

    public boolean consumes() { return this != PRODUCER; }

    /** The role spelled {@code s}, or an error listing the roles of {@code allowed}. */
    public static KvRole fromWire(String s, List<KvRole> allowed) {
        for (KvRole r : allowed) if (r.wire.equals(s)) return r;
        throw new IllegalArgumentException("unknown role \"" + s + "\", expected one of "
                + allowed.stream().map(KvRole::wire).collect(Collectors.joining(", ")));
    }

    public static KvRole fromWire(String s) {
        return fromWire(s, Arrays.asList(values()));
    }
}
