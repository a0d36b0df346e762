package dev.pdserve.kv;

import dev.pdserve.model.CausalLM;

import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * What one side of a KV transfer tells the other in HELLO: who it is and what its KV cache looks
 * like. Two sides may exchange blocks only when everything but the ids agrees.
 *
 * @param engineId   the instance's {@code engine_id} (stable across restarts if configured)
 * @param bootId     random per process start, so a restarted producer is recognised even with the same engine id
 * @param dtype      element type and byte order of the cache, e.g. {@code f32-le}
 */
public record KvPeerInfo(int protocolVersion, String engineId, String bootId, String modelFingerprint, int blockSize,
                         String kvLayout, String dtype, int numLayers, int entryFloats) {

    public static final int PROTOCOL_VERSION = 2; // 2: PULL and RELEASE name the prompt (PromptHash), REFUSED

    /** The dtype string of this machine's fp32 cache. */
    public static String nativeF32() {
        return ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN ? "f32-le" : "f32-be";
    }

    /** The descriptor of a local model's cache; {@code fingerprint} from {@link ModelFingerprint#of}. */
    public static KvPeerInfo of(String engineId, CausalLM model, int blockSize, String fingerprint) {
        return new KvPeerInfo(PROTOCOL_VERSION, engineId, UUID.randomUUID().toString(), fingerprint, blockSize,
                model.kvLayout(), nativeF32(), model.numLayers(), model.kvEntryFloats());
    }

    /** Bytes of one block of one layer: what the wire carries per (block, layer). */
    public long bytesPerBlockLayer() {
        return 4L * blockSize * entryFloats;
    }

    /**
     * Why a producer and a consumer cannot exchange KV, naming both sides' values, e.g.
     * {@code block size mismatch: producer 16, consumer 32}; null when they agree.
     */
    public static String incompatibility(KvPeerInfo producer, KvPeerInfo consumer) {
        List<String> m = new ArrayList<>();
        check(m, "protocol version", producer.protocolVersion, consumer.protocolVersion);
        check(m, "model fingerprint", producer.modelFingerprint, consumer.modelFingerprint);
        check(m, "block size", producer.blockSize, consumer.blockSize);
        check(m, "KV layout", producer.kvLayout, consumer.kvLayout);
        check(m, "KV dtype", producer.dtype, consumer.dtype);
        check(m, "layer count", producer.numLayers, consumer.numLayers);
        check(m, "KV entry floats", producer.entryFloats, consumer.entryFloats);
        return m.isEmpty() ? null : String.join("; ", m);
    }

    private static void check(List<String> out, String what, Object producer, Object consumer) {
        if (!producer.equals(consumer)) out.add(what + " mismatch: producer " + producer + ", consumer " + consumer);
    }
}
