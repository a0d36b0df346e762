package dev.pdserve.engine;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.function.Consumer;

/**
 * What the engine asks of a KV connector (vLLM's KV connector v1, reduced to its two moves):
 * a producer keeps a finished prompt's blocks under a lease and says where they are; a consumer
 * fills freshly allocated blocks from another instance before the request is scheduled.
 * Implemented by {@code dev.pdserve.kv.PdTcpConnector}.
 */
public interface KvConnector extends AutoCloseable {

    /** What a request's {@code kv_transfer_params} asks for. */
    enum Kind { NONE, REMOTE_DECODE, REMOTE_PREFILL }

    /** A request's validated {@code kv_transfer_params}. */
    interface Plan {
        Kind kind();

        /** Remote blocks to pull (REMOTE_PREFILL only). */
        default int numBlocks() { return 0; }
    }

    Plan NONE = () -> Kind.NONE;

    /**
     * Counters for /metrics. {@code leasesReclaimed}: leases freed early because the pool needed their
     * blocks; {@code connectionsRefused}: KV connections refused before or during the handshake.
     */
    record Stats(long bytesSent, long bytesReceived, double transferSeconds, long transfers, long blocksLeased, long leasesExpired,
                 long leasesReclaimed, long connectionsRefused) {}

    /** A pull that failed: the HTTP status to answer (502: the prefill side failed; 4xx: the request's own fault) and why. */
    record PullFailure(int status, String message) {}

    /**
     * Validates a request's {@code kv_transfer_params} on the submitting thread (null: none) for a
     * request whose prompt is {@code promptTokens}. Throws {@link EngineException} 400 naming the field
     * when they are wrong or cannot work here.
     */
    Plan plan(JsonNode kvTransferParams, int[] promptTokens);

    /**
     * Producer: keeps {@code blockIds} (the KV of {@code promptTokens}) for {@code requestId} and
     * returns the {@code kv_transfer_params} that point at them; only a consumer with the same prompt
     * can pull them. {@code free} runs once, on any thread, when the blocks may be reused (released,
     * expired, reclaimed or aborted).
     */
    JsonNode lease(String requestId, int[] blockIds, int[] promptTokens, Runnable free);

    /**
     * Consumer: copies the plan's remote blocks into {@code localBlockIds} without blocking the
     * caller; {@code done} gets null on success or the failure (any thread).
     */
    void pull(Plan plan, int[] localBlockIds, Consumer<PullFailure> done);

    /** vLLM's {@code kv_role} of this instance, e.g. {@code kv_producer}. */
    String role();

    /** Consumer: the plan's request ended before its pull started; tell the producer to free its lease now. */
    default void release(Plan plan) {}

    /** Producer: frees the oldest lease not being sent, because the pool needs blocks; false when there is none. */
    default boolean reclaimLease() { return false; }

    /** {@code kv_load_failure_policy} is {@code recompute}: a failed pull prefills locally instead of failing. */
    boolean recomputeOnFailure();

    Stats stats();

    @Override
    void close();
}
