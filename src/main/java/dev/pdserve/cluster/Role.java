package dev.pdserve.cluster;

import java.util.Arrays;
import java.util.stream.Collectors;

/** An instance's part in PD disaggregation, spelled as vLLM's {@code kv_role}. */
public enum Role {
    /** Prefill: computes the prompt's KV cache and lends its blocks to a decoder. */
    KV_PRODUCER("kv_producer"),
    /** Decode: pulls the prompt's KV blocks from a producer and generates the tokens. */
    KV_CONSUMER("kv_consumer");

    private final String wire;

    Role(String wire) {
        this.wire = wire;
    }

    /** The value in cluster.json and in {@code --kv-transfer-config}. */
    public String wire() {
        return wire;
    }

    /** The short instance-id prefix: {@code prefill} or {@code decode}. */
    public String idPrefix() {
        return this == KV_PRODUCER ? "prefill" : "decode";
    }

    public static Role fromWire(String s) {
        for (Role r : values()) if (r.wire.equals(s)) return r;
        throw new IllegalArgumentException("unknown role \"" + s + "\", expected one of "
                + Arrays.stream(values()).map(Role::wire).collect(Collectors.joining(", ")));
    }
}
