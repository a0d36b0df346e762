package dev.pdserve.engine;

import dev.pdserve.model.CausalLM;
import dev.pdserve.tokenizer.Tokenizer;

import java.util.List;
import java.util.function.IntConsumer;

/**
 * The serving engine as the HTTP layer sees it: submit a request with a sink for its outputs,
 * abort it, read its counters. Implemented by {@link Engine} (the step loop).
 */
public interface InferenceEngine extends AutoCloseable {
    /**
     * Queues a request. Throws {@link EngineException} (with an HTTP-ish status) when it can never
     * run: prompt plus max_tokens over max-model-len, empty prompt, duplicate id, draining.
     */
    void submit(GenerationRequest request, OutputSink sink);

    /**
     * Queues the n samples of one prompt together (same prompt and kv_transfer_params). A
     * remote-prefill group pulls its prompt's KV once and its samples share the pulled blocks;
     * otherwise this is one {@link #submit} each. All or none: on a refusal none is queued.
     */
    default void submitSamples(List<GenerationRequest> samples, OutputSink sink) {
        for (int i = 0; i < samples.size(); i++) {
            try {
                submit(samples.get(i), sink);
            } catch (RuntimeException e) {
                for (int j = 0; j < i; j++) abort(samples.get(j).requestId());
                throw e;
            }
        }
    }

    /** Stops a request at once and frees its KV blocks; its sink gets a final ABORT output. No-op when unknown. */
    void abort(String requestId);

    EngineStats stats();

    /**
     * Sets what runs on the engine thread after every step that sampled a token, with vLLM's
     * iteration token count: prompt tokens of the requests that got their first token plus the tokens
     * sampled. It must not block. The default engine has no steps to report.
     */
    default void onIteration(IntConsumer tokens) {}

    /** The KV connector's counters (PD disaggregation), or null without one. */
    default KvConnector.Stats kvStats() { return null; }

    /** The KV transfer role ({@code kv_producer}, {@code kv_consumer}, {@code kv_both}); null when colocated. */
    default String kvRole() { return null; }

    /** Speculative decoding's counters, or null when the engine does not speculate. */
    default SpecDecodeStats specStats() { return null; }

    /** The prefix cache's KV events (vLLM's --kv-events-config), or null when this engine has none. */
    default KvEvents kvEvents() { return null; }

    EngineConfig config();

    CausalLM model();

    Tokenizer tokenizer();

    /** Stops taking requests, lets the running ones finish, then returns. */
    void drain();

    @Override
    void close();
}
