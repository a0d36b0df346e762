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

    /** Counters for /metrics. */
    record Stats(long bytesSent, long bytesReceived, double transferSeconds, long transfers, long blocksLeased, long leasesExpired) {}

    /**
     * Validates a request's {@code kv_transfer_params} on the submitting thread (null: none).
     * Throws {@link EngineException} 400 naming the field when they are wrong or cannot work here.
     */
    Plan plan(JsonNode kvTransferParams, int numPromptTokens);

    /**
     * Producer: keeps {@code blockIds} (the prompt's KV) for {@code requestId} and returns the
     * {@code kv_transfer_params} that point at them. {@code free} runs once, on any thread, when
     * the blocks may be reused (released, expired or aborted).
     */
    JsonNode lease(String requestId, int[] blockIds, int numPromptTokens, Runnable free);

    /**
     * Consumer: copies the plan's remote blocks into {@code localBlockIds} without blocking the
     * caller; {@code done} gets null on success or the failure's message (any thread).
     */
    void pull(Plan plan, int[] localBlockIds, Consumer<String> done);

    /** {@code kv_load_failure_policy} is {@code recompute}: a failed pull prefills locally instead of failing. */
    boolean recomputeOnFailure();

    Stats stats();

    @Override
    void close();
}
